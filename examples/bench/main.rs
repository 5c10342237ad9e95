//! The performance benchmark of taskd (issue 6): it runs the release binary as a separate
//! process on port 0, drives it with keep-alive connections from several threads for a fixed
//! time, and prints req/s, latency percentiles and the server's memory (`/proc/PID/status`).
//! Next to it, in the same run, it measures the ceiling of the stack: a tiny_http hello-world
//! with the same worker count (`examples/hello_ceiling.rs`).
//!
//! ```text
//! cargo run --release --example bench                       # about 1 minute
//! cargo run --release --example bench -- --workers 1,2,4,8 --scenarios ceiling,get,create
//! cargo run --release --example bench -- --scenarios scale  # 10 vs 1,000,000 tasks
//! cargo run --release --example bench -- --url http://127.0.0.1:8000 --scenarios get,create
//! ```
//!
//! The generator shares the machine with the server, so it is built to be cheap: requests are
//! pre-built bytes, buffers are reused, and only the status line and `Content-Length` are parsed.

mod client;
mod load;
mod oneshot;
mod process;
mod report;
mod scale;
mod scripts;

use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use load::{Load, Stats};
use process::ServerProcess;
use report::{mib, Row, Table};
use scripts::{populate, Create, Get, Mixed, Upload};

const USAGE: &str = "\
Usage: cargo run --release --example bench -- [options]

  --duration SECS      measured time per scenario (default 5)
  --warmup SECS        unmeasured time before each scenario (default 1)
  --connections N      keep-alive connections (default 32)
  --threads N          client threads sharing them (default 2)
  --workers LIST       taskd --workers, comma-separated to compare (default 4)
  --scenarios LIST     of startup,ceiling,get,create,mixed,upload,big,scale
                       (default all but scale)
  --tasks N            tasks created before the GET scenario (default 1000)
  --scale-tasks N      tasks of the scale scenario (default 1000000)
  --big-mib N          size of the big upload/download (default 256)
  --server-args ARGS   extra taskd flags, space-separated (e.g. \"--data-dir /tmp/d\")
  --url http://H:P     drive an already running server instead (get, create, mixed only)
  --no-build           do not run `cargo build --release` for the binaries first";

const DEFAULT_SCENARIOS: &str = "startup,ceiling,get,create,mixed,upload,big";

/// The options; see `USAGE`.
struct Options {
    load: Load,
    workers: Vec<usize>,
    scenarios: Vec<String>,
    tasks: u64,
    scale_tasks: u64,
    big_bytes: u64,
    server_args: Vec<String>,
    url: Option<SocketAddr>,
    build: bool,
}

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
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
    print_machine(options);
    let mut table = Table::default();
    if let Some(addr) = options.url {
        external(options, addr, &mut table)?;
        table.print();
        return Ok(());
    }
    let binaries = Binaries::locate(options.build)?;
    for &workers in &options.workers {
        let mut server_args = vec!["--quiet".to_owned(), "--workers".to_owned()];
        server_args.push(workers.to_string());
        server_args.extend(options.server_args.iter().cloned());
        let bench = Bench {
            options,
            binaries: &binaries,
            workers,
            server_args,
        };
        bench.run_all(&mut table)?;
    }
    table.print();
    Ok(())
}

/// The two programs under test.
struct Binaries {
    taskd: PathBuf,
    ceiling: PathBuf,
}

impl Binaries {
    /// Next to this example in the same target directory; rebuilt first, so a stale binary is
    /// never measured.
    fn locate(build: bool) -> io::Result<Binaries> {
        let exe = std::env::current_exe()?;
        let examples = exe
            .parent()
            .expect("an example lives in target/PROFILE/examples");
        let profile = examples.parent().expect("target/PROFILE");
        if profile.file_name().is_none_or(|name| name != "release") {
            eprintln!("bench: warning: not a release build; use `cargo run --release`");
        }
        if build {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = std::process::Command::new(cargo)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .args(["build", "--release", "--bin", "taskd"])
                .args(["--example", "hello_ceiling"])
                .status()?;
            if !status.success() {
                return Err(io::Error::other("cargo build --release failed"));
            }
        }
        let release = profile.with_file_name("release");
        Ok(Binaries {
            taskd: release.join("taskd"),
            ceiling: release.join("examples").join("hello_ceiling"),
        })
    }
}

/// One worker count's run.
struct Bench<'a> {
    options: &'a Options,
    binaries: &'a Binaries,
    workers: usize,
    server_args: Vec<String>,
}

impl Bench<'_> {
    fn wants(&self, scenario: &str) -> bool {
        self.options.scenarios.iter().any(|name| name == scenario)
    }

    fn load(&self, addr: SocketAddr) -> Load {
        Load {
            addr,
            ..self.options.load
        }
    }

    fn taskd(&self, extra: &[String]) -> io::Result<ServerProcess> {
        let mut args = self.server_args.clone();
        args.extend(extra.iter().cloned());
        ServerProcess::spawn(&self.binaries.taskd, &args)
    }

    fn run_all(&self, table: &mut Table) -> io::Result<()> {
        let w = self.workers;
        if self.wants("startup") {
            self.startup(table)?;
        }
        let mut ceiling = None;
        if self.wants("ceiling") {
            let hello =
                ServerProcess::spawn(&self.binaries.ceiling, &["--workers".into(), w.to_string()])?;
            let requests = Get::requests("bench", ["/tasks/1".to_owned()].into_iter());
            let stats = load::run(self.load(hello.addr), |i| Get::new(requests.clone(), i))?;
            let (_, peak) = hello.memory_kib()?;
            ceiling = Some(stats.rate());
            table.push(Row::from_stats(
                "ceiling GET (tiny_http hello)",
                w,
                &stats,
                format!("peak RSS {}", mib(peak)),
            ));
        }
        if ["get", "create", "mixed", "upload"]
            .iter()
            .any(|s| self.wants(s))
        {
            let server = self.taskd(&[])?;
            crud(self.options, &server, w, ceiling, table)?;
        }
        if self.wants("big") {
            self.big(table)?;
        }
        if self.wants("scale") {
            scale::run(self, table)?;
        }
        Ok(())
    }
}

/// GET, create, mixed and the 64 KiB upload against one server (taskd or `--url`'s).
fn crud(
    options: &Options,
    server: &ServerProcess,
    w: usize,
    ceiling: Option<f64>,
    table: &mut Table,
) -> io::Result<()> {
    let wants = |name: &str| options.scenarios.iter().any(|s| s == name);
    let load = Load {
        addr: server.addr,
        ..options.load
    };
    let local = server.is_local();
    if local {
        let (idle, _) = server.memory_kib()?;
        table.push(Row::note("idle", w, format!("RSS {}", mib(idle))));
    }
    // One process serves these scenarios in turn, so its peak includes every task created so
    // far (the create scenario adds hundreds of thousands): RSS now and peak since start.
    let peak_note = || -> io::Result<String> {
        let (now, peak) = server.memory_kib()?;
        Ok(if local {
            format!("RSS {}, peak since start {}", mib(now), mib(peak))
        } else {
            String::new()
        })
    };
    let run_id = std::process::id();
    let mut get_rate = None;
    if wants("get") {
        let ids = populate(server.addr, "bench", &format!("g{run_id}-"), options.tasks)?;
        let requests = get_requests(&ids);
        let stats = load::run(load, |i| Get::new(requests.clone(), i))?;
        let mut note = peak_note()?;
        if let Some(ceiling) = ceiling {
            note = format!("{:.2}× ceiling; {note}", stats.rate() / ceiling);
        }
        get_rate = Some(stats.rate());
        table.push(Row::from_stats("GET /tasks/{id}", w, &stats, note));
    }
    let versus_get = |stats: &Stats| {
        get_rate.map_or_else(String::new, |get| format!("{:.2}× GET", stats.rate() / get))
    };
    if wants("create") {
        let stats = load::run(load, |i| Create::new("bench", &format!("c{run_id}-{i}")))?;
        table.push(Row::from_stats(
            "POST /tasks (unique titles)",
            w,
            &stats,
            versus_get(&stats),
        ));
    }
    if wants("mixed") {
        let stats = load::run(load, |i| Mixed::new("bench", &format!("m{run_id}-{i}")))?;
        table.push(Row::from_stats(
            "mixed create/get/delete",
            w,
            &stats,
            versus_get(&stats),
        ));
    }
    if wants("upload") {
        let stats = load::run(load, |i| {
            Upload::new("bench", &format!("u{run_id}-{i}"), 64 << 10)
        })?;
        let mbps = stats.bytes_sent as f64 / stats.elapsed.as_secs_f64() / 1e6;
        let note = format!("{mbps:.0} MB/s; {}", peak_note()?);
        table.push(Row::from_stats("64 KiB upload", w, &stats, note));
    }
    Ok(())
}

/// `--url`: the GET / create / mixed scenarios against a server someone else started.
fn external(options: &Options, addr: SocketAddr, table: &mut Table) -> io::Result<()> {
    let server = ServerProcess::external(addr);
    crud(options, &server, 0, None, table)
}

/// `GET /tasks/{id}` over up to 4096 of `ids`, spread over the whole range.
fn get_requests(ids: &[u64]) -> std::sync::Arc<Vec<Vec<u8>>> {
    let step = (ids.len() / 4096).max(1);
    let targets = ids.iter().step_by(step).map(|id| format!("/tasks/{id}"));
    Get::requests("bench", targets)
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
        "load: {} connections on {} client threads, {:?} warm-up + {:?} per scenario",
        l.connections, l.threads, l.warmup, l.duration
    );
    let _ = io::stdout().flush();
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        load: Load {
            addr: ([127, 0, 0, 1], 0).into(),
            threads: 2,
            connections: 32,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(5),
        },
        workers: vec![4],
        scenarios: DEFAULT_SCENARIOS.split(',').map(str::to_owned).collect(),
        tasks: 1000,
        scale_tasks: 1_000_000,
        big_bytes: 256 << 20,
        server_args: Vec::new(),
        url: None,
        build: true,
    };
    while let Some(flag) = args.next() {
        if flag == "--no-build" {
            options.build = false;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err("help".to_owned());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |text: &str| -> Result<u64, String> {
            text.parse()
                .map_err(|_| format!("{flag}: not a number: {text}"))
        };
        let seconds = |text: &str| -> Result<Duration, String> {
            let secs: f64 = text.parse().map_err(|_| format!("{flag}: {text}"))?;
            Ok(Duration::from_secs_f64(secs))
        };
        match flag.as_str() {
            "--duration" => options.load.duration = seconds(&value)?,
            "--warmup" => options.load.warmup = seconds(&value)?,
            "--connections" => options.load.connections = number(&value)?.max(1) as usize,
            "--threads" => options.load.threads = number(&value)?.max(1) as usize,
            "--workers" => {
                let list: Result<Vec<_>, _> = value.split(',').map(number).collect();
                options.workers = list?.into_iter().map(|n| n.max(1) as usize).collect();
            }
            "--scenarios" => options.scenarios = value.split(',').map(str::to_owned).collect(),
            "--tasks" => options.tasks = number(&value)?.max(1),
            "--scale-tasks" => options.scale_tasks = number(&value)?.max(1000),
            "--big-mib" => options.big_bytes = number(&value)? << 20,
            "--server-args" => {
                options.server_args = value.split_whitespace().map(str::to_owned).collect();
            }
            "--url" => {
                let host = value.strip_prefix("http://").unwrap_or(&value);
                let addr = host.trim_end_matches('/').to_socket_addrs().ok();
                options.url = addr.and_then(|mut addrs| addrs.next());
                options
                    .url
                    .ok_or_else(|| format!("--url: cannot resolve {value}"))?;
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}
