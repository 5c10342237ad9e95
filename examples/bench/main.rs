//! The performance benchmark of taskd (issues 6 and 11): in one run it measures taskd side by
//! side with the peers in `--peers` (`../shared/peers`: blocking-hello, the ceiling of a
//! thread-per-connection server, and the same API on axum) and with taskd as of `--baseline`
//! (by default 8c73c49, the last commit on tiny_http), all built first. Every server is a
//! separate process pinned to one core (`taskset`), the load generator's threads to the other
//! (`--cpus`, default 0,1). Rate figures are medians of `--rounds` alternating rounds, printed
//! with their spread, the load generator's and the server's CPU share, and taskd's ratios.
//!
//! Scenarios (`--scenarios`, see `--help`): `startup` (spawn → ready, idle RSS), `get` (taskd vs
//! blocking-hello vs axum), `create` (taskd vs axum), `durable` (`--data-dir` vs memory),
//! `mixed`, `upload`, `burst` (32 and 256 connections at once, 1 s client timeouts), `silent`
//! (clients that never read a download, idle connections, a newcomer's `/healthz`, threads
//! after `--io-timeout`), `big` (256 MiB upload and download vs the baseline), `scale`,
//! `conditional` (304 vs 200, and the baseline's 200), `pages` (a list page at 1,000,000 tasks
//! vs the baseline), `range` (a 1 MiB range of a 256 MiB durable attachment vs a 1 MiB
//! download) and `postgres` (issue 17: taskd on a throwaway PostgreSQL cluster next to the
//! database alone running `shared/bench/postgres` under pgbench, in one run).
//!
//! ```text
//! cargo run --release --example bench                       # about 4 minutes
//! cargo run --release --example bench -- --scenarios get,create --rounds 5
//! cargo run --release --example bench -- --scenarios burst,silent --duration 1
//! cargo run --release --example bench -- --scenarios scale  # 10 vs 1,000,000 tasks
//! cargo run --release --example bench -- --scenarios conditional,pages,range --baseline HEAD~1
//! cargo run --release --example bench -- --scenarios postgres  # about 4 minutes
//! cargo run --release --example bench -- --url http://127.0.0.1:8000 --scenarios get,create
//! ```
//!
//! The generator shares the machine with the server, so it is built to be cheap: requests are
//! pre-built bytes, buffers are reused, and only the status line and `Content-Length` are parsed.

mod burst;
mod client;
mod cpu;
mod drivers;
mod load;
mod oneshot;
mod options;
mod pg_ceiling;
mod pg_race;
mod pgbench;
mod postgres;
mod process;
mod report;
mod scale;
mod scripts;
mod servers;
mod silent;
mod validators;
mod versus;

/// The test support's throwaway PostgreSQL cluster, shared with the tests rather than copied.
#[allow(dead_code)] // the bench needs a subset
#[path = "../../tests/pg_support/cluster.rs"]
mod pg_cluster;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use cpu::Pinning;
use load::Load;
use options::{Options, USAGE};
use process::{Ready, ServerProcess};
use report::{Row, Table};
use servers::{Kind, Programs};
use versus::{Entrant, Rounds};

fn main() -> ExitCode {
    let options = match options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) if message == "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("bench: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> io::Result<()> {
    raise_descriptor_limit();
    print_machine(options);
    let mut table = Table::default();
    if let Some(addr) = options.url {
        external(options, addr, &mut table)?;
        table.print();
        return Ok(());
    }
    let programs = Programs::prepare(options)?;
    let pinning = Pinning::check(options.cpus);
    if let Some(pins) = pinning {
        println!(
            "cpus: servers on core {}, load on core {}",
            pins.server, pins.load
        );
    }
    let bench = Bench {
        options,
        programs: &programs,
        pinning,
    };
    for scenario in &options.scenarios {
        println!("== {scenario}");
        let _ = io::stdout().flush();
        if let Err(error) = bench.scenario(scenario, &mut table) {
            // One scenario's failure (a server that stalls, a peer that breaks) is a result.
            table.push(Row::note(scenario, "", format!("FAILED: {error}")));
        }
    }
    table.print();
    Ok(())
}

/// What every scenario needs: the options, the programs, the cores.
pub struct Bench<'a> {
    pub options: &'a Options,
    pub programs: &'a Programs,
    pub pinning: Option<Pinning>,
}

impl Bench<'_> {
    fn scenario(&self, name: &str, table: &mut Table) -> io::Result<()> {
        let rounds = self.rounds();
        match name {
            "startup" => self.startup(table),
            "get" => {
                let kinds = [Kind::Taskd, Kind::BlockingHello, Kind::Axum];
                let entrants = self.entrants(&kinds, true)?;
                versus::get(rounds, &entrants, self.options.tasks, table)
            }
            "create" => {
                let entrants = self.entrants(&[Kind::Taskd, Kind::Axum], true)?;
                versus::create(rounds, &entrants, "POST /tasks", table).map(drop)
            }
            "durable" => self.durable(table),
            "mixed" => versus::mixed(rounds, &self.entrants(&[Kind::Taskd], true)?, table),
            "upload" => versus::upload(rounds, &self.entrants(&[Kind::Taskd], true)?, table),
            "burst" => {
                // Unpinned: on one shared core, the pool thread that tiny_http wakes for a new
                // connection preempts the accept thread before the next connection arrives, which
                // hides the race that strands connections on a real (multi-core) machine.
                let kinds = [Kind::Taskd, Kind::BlockingHello, Kind::Axum];
                let entrants = self.entrants(&kinds, false)?;
                burst::run(self.options.rounds, &entrants, table)
            }
            "silent" => silent::run(self, table),
            "big" => self.big(table),
            "scale" => scale::run(self, table),
            "conditional" => self.conditional(table),
            "pages" => self.pages(table),
            "range" => self.range(table),
            "postgres" => postgres::run(self, table),
            _ => Err(io::Error::other(format!("unknown scenario {name}"))),
        }
    }

    /// The load's shape with the load's core, and the rounds.
    fn rounds(&self) -> Rounds {
        Rounds {
            load: Load {
                pin: self.pinning.map(|pins| pins.load),
                ..self.options.load
            },
            count: self.options.rounds,
        }
    }

    /// The load for one server of ours.
    pub fn load(&self, server: &ServerProcess) -> Load {
        Load {
            addr: server.addr,
            server_pid: server.pid(),
            ..self.rounds().load
        }
    }

    /// Starts `kind` (taskd and the baseline with `--quiet`, `--server-args` and `extra`), on
    /// the server's core when `pinned`.
    fn spawn(&self, kind: Kind, extra: &[String], pinned: bool) -> io::Result<ServerProcess> {
        let program = self
            .programs
            .path(kind)
            .ok_or_else(|| io::Error::other(format!("{kind:?} was not built")))?;
        let prefix = match (pinned, self.pinning) {
            (true, Some(pins)) => pins.server_prefix(),
            _ => Vec::new(),
        };
        match kind {
            Kind::Taskd | Kind::Baseline => {
                let mut args = vec!["--quiet".to_owned()];
                args.extend(self.options.server_args.iter().cloned());
                args.extend(extra.iter().cloned());
                ServerProcess::launch(&prefix, program, &args, Ready::Line)
            }
            Kind::BlockingHello | Kind::Axum => {
                ServerProcess::launch(&prefix, program, extra, Ready::Port)
            }
        }
    }

    /// taskd, on the server's core when `pinned`.
    pub fn taskd(&self, extra: &[String], pinned: bool) -> io::Result<ServerProcess> {
        self.spawn(Kind::Taskd, extra, pinned)
    }

    /// The servers of a side-by-side figure, those that were built, on the server's core when
    /// `pinned`.
    fn entrants(&self, kinds: &[Kind], pinned: bool) -> io::Result<Vec<Entrant>> {
        let built = kinds
            .iter()
            .filter(|&&kind| self.programs.path(kind).is_some());
        built
            .map(|&kind| {
                Ok(Entrant {
                    label: self.programs.label(kind),
                    server: self.spawn(kind, &[], pinned)?,
                    has_store: kind != Kind::BlockingHello,
                })
            })
            .collect()
    }

    /// Creates on taskd with `--data-dir` (a fresh temp dir) next to taskd in memory.
    fn durable(&self, table: &mut Table) -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("taskd-bench-durable-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data_dir = ["--data-dir".to_owned(), dir.to_string_lossy().into_owned()];
        let entrants = [
            Entrant {
                label: "taskd --data-dir".to_owned(),
                server: self.taskd(&data_dir, true)?,
                has_store: true,
            },
            Entrant {
                label: "taskd (memory)".to_owned(),
                server: self.taskd(&[], true)?,
                has_store: true,
            },
        ];
        let result = versus::create(self.rounds(), &entrants, "POST /tasks, durable", table);
        drop(entrants);
        let _ = std::fs::remove_dir_all(&dir);
        result.map(drop)
    }

    /// Runs `work` on a thread pinned to the load's core (unpinned without `--cpus`).
    pub fn on_load_core<T: Send>(
        &self,
        work: impl FnOnce() -> io::Result<T> + Send,
    ) -> io::Result<T> {
        let core = self.pinning.map(|pins| pins.load);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    if let Some(core) = core {
                        cpu::pin_current_thread(core)?;
                    }
                    work()
                })
                .join()
                .map_err(|_| io::Error::other("a load thread panicked"))?
        })
    }
}

/// `--url`: the GET / create / mixed scenarios against a server someone else started.
fn external(options: &Options, addr: SocketAddr, table: &mut Table) -> io::Result<()> {
    let entrants = [Entrant {
        label: format!("http://{addr}"),
        server: ServerProcess::external(addr),
        has_store: true,
    }];
    let rounds = Rounds {
        load: options.load,
        count: options.rounds,
    };
    if options.wants("get") {
        versus::get(rounds, &entrants, options.tasks, table)?;
    }
    if options.wants("create") {
        versus::create(rounds, &entrants, "POST /tasks", table)?;
    }
    if options.wants("mixed") {
        versus::mixed(rounds, &entrants, table)?;
    }
    Ok(())
}

/// The silent scenario keeps 1,500 connections open and a burst opens 256: raise the soft
/// descriptor limit to the hard one. The servers started afterwards inherit it.
fn raise_descriptor_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            ..limit
        };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            println!("cannot raise the descriptor limit: {error}");
        }
    }
}

fn print_machine(options: &Options) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map_or("?", |rest| rest.trim_start_matches([' ', '\t', ':']));
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let l = options.load;
    println!(
        "machine: {cores} CPUs, {model}; load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "load: {} connections on {} client threads, {:?} warm-up + {:?} per round, {} rounds",
        l.connections, l.threads, l.warmup, l.duration, options.rounds
    );
    let _ = io::stdout().flush();
}
