//! The bench's command line: what each option means (`USAGE`, printed by `--help`) and its
//! parsing into `Options`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::load::Load;

pub const USAGE: &str = "\
Usage: cargo run --release --example bench -- [options]

Scenarios (--scenarios, comma-separated; default all but scale, pages and postgres):
  startup   spawn → ready line and idle RSS, taskd next to the baseline (5 each, alternating)
  get       GET /tasks/{id}: taskd, blocking-hello, axum, side by side
  create    POST /tasks with unique titles: taskd, axum, side by side
  durable   create: taskd --data-dir (a temp dir) next to taskd in memory
  mixed     taskd: create, GET it, DELETE it, repeat
  upload    taskd: 64 KiB multipart uploads
  burst     32, then 256 connections opened at once, one GET each: waits and 1 s timeouts
  silent    16 clients that never read a 16 MiB download, then --idle idle connections:
            /healthz latency of a newcomer every 200 ms, and the threads after --io-timeout
  big       a --big-mib upload and its download, taskd next to the baseline
  scale     taskd with 10 vs --scale-tasks tasks (about 90 s)
  conditional  GET /tasks/{id}: 304 (If-None-Match) vs 200 on taskd, and the baseline's 200
  pages     GET /tasks?skip=..&limit=100 with --scale-tasks tasks, taskd next to the baseline
  range     1 MiB ranges of a --big-mib attachment in a --data-dir vs 1 MiB downloads
  postgres  on a throwaway PostgreSQL cluster: pgbench with --comparator's get.sql and
            create.sql next to taskd --database-url under wrk -t2 -c32 (random GET of
            10,000 tasks, unique creates; goals >= 0.5x), two instances vs one, a list page
            at 100,000 vs 10 tasks, a --big-mib download vs --data-dir (about 4 min;
            not in the default run)

Options:
  --duration SECS      measured time of each round (default 5)
  --warmup SECS        unmeasured time before each round (default 1)
  --rounds N           alternating rounds per figure; the median is printed (default 3)
  --connections N      keep-alive connections (default 32)
  --threads N          client threads sharing them (default 2)
  --scenarios LIST     see above
  --cpus S,L           pin the servers to core S (taskset) and the load to core L
                       (default 0,1; `none` runs unpinned)
  --peers DIR          the peers' sources (default ../shared/peers from the repo root),
                       built with --target-dir target/peers
  --baseline REV       taskd as of REV, built with --target-dir target/baseline
                       (default 8c73c49, the last tiny_http commit; `none` skips it)
  --tasks N            tasks created before the GET scenario (default 1000)
  --scale-tasks N      tasks of the scale scenario (default 1000000)
  --big-mib N          size of the big upload/download (default 256)
  --idle N             idle connections of the silent scenario (default 1500)
  --io-timeout SECS    taskd's --io-timeout in the silent scenario (default 5)
  --comparator DIR     the database-alone scripts of the postgres scenario (default: the
                       first shared/bench/postgres above the repository)
  --server-args ARGS   extra flags for taskd and the baseline, space-separated
  --url http://H:P     drive an already running server instead (get, create, mixed only)
  --no-build           use the binaries as they are instead of building them first";

const DEFAULT_SCENARIOS: &str =
    "startup,get,create,durable,mixed,upload,burst,silent,big,conditional,range";

/// The options; see `USAGE`.
pub struct Options {
    /// The shape of every rate measurement; its address and pins are filled in per server.
    pub load: Load,
    pub rounds: usize,
    pub scenarios: Vec<String>,
    pub cpus: Option<(usize, usize)>,
    pub peers: PathBuf,
    pub baseline: Option<String>,
    pub tasks: u64,
    pub scale_tasks: u64,
    pub big_bytes: u64,
    pub idle: usize,
    pub io_timeout: u64,
    pub server_args: Vec<String>,
    pub comparator: Option<PathBuf>,
    pub url: Option<SocketAddr>,
    pub build: bool,
}

impl Options {
    pub fn wants(&self, scenario: &str) -> bool {
        self.scenarios.iter().any(|name| name == scenario)
    }
}

/// The options, or `Err("help")` for `--help`, or a message saying what is wrong.
pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut options = Options {
        load: Load {
            addr: ([127, 0, 0, 1], 0).into(),
            threads: 2,
            connections: 32,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(5),
            pin: None,
            server_pid: None,
        },
        rounds: 3,
        scenarios: DEFAULT_SCENARIOS.split(',').map(str::to_owned).collect(),
        cpus: Some((0, 1)),
        peers: repo.join("..").join("shared").join("peers"),
        baseline: Some("8c73c49".to_owned()),
        tasks: 1000,
        scale_tasks: 1_000_000,
        big_bytes: 256 << 20,
        idle: 1500,
        io_timeout: 5,
        server_args: Vec::new(),
        comparator: None,
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
        apply(&mut options, &flag, &value)?;
    }
    Ok(options)
}

fn apply(options: &mut Options, flag: &str, value: &str) -> Result<(), String> {
    let number = |text: &str| -> Result<u64, String> {
        text.parse()
            .map_err(|_| format!("{flag}: not a number: {text}"))
    };
    let seconds = |text: &str| -> Result<Duration, String> {
        let secs: f64 = text.parse().map_err(|_| format!("{flag}: {text}"))?;
        Ok(Duration::from_secs_f64(secs))
    };
    let list = || value.split(',').map(str::to_owned).collect();
    match flag {
        "--duration" => options.load.duration = seconds(value)?,
        "--warmup" => options.load.warmup = seconds(value)?,
        "--rounds" => options.rounds = number(value)?.max(1) as usize,
        "--connections" => options.load.connections = number(value)?.max(1) as usize,
        "--threads" => options.load.threads = number(value)?.max(1) as usize,
        "--scenarios" => options.scenarios = list(),
        "--cpus" => options.cpus = parse_cpus(value)?,
        "--peers" => options.peers = PathBuf::from(value),
        "--baseline" => options.baseline = (value != "none").then(|| value.to_owned()),
        "--tasks" => options.tasks = number(value)?.max(1),
        "--scale-tasks" => options.scale_tasks = number(value)?.max(1000),
        "--big-mib" => options.big_bytes = number(value)? << 20,
        "--idle" => options.idle = number(value)? as usize,
        "--io-timeout" => options.io_timeout = number(value)?.max(1),
        "--server-args" => {
            options.server_args = value.split_whitespace().map(str::to_owned).collect();
        }
        "--comparator" => options.comparator = Some(PathBuf::from(value)),
        "--url" => options.url = Some(parse_url(value)?),
        _ => return Err(format!("unknown option {flag}")),
    }
    Ok(())
}

fn parse_cpus(value: &str) -> Result<Option<(usize, usize)>, String> {
    if value == "none" {
        return Ok(None);
    }
    let pair = value
        .split_once(',')
        .and_then(|(server, load)| Some((server.parse().ok()?, load.parse().ok()?)));
    pair.map(Some)
        .ok_or_else(|| format!("--cpus: SERVER,LOAD or none, not {value}"))
}

fn parse_url(value: &str) -> Result<SocketAddr, String> {
    let host = value.strip_prefix("http://").unwrap_or(value);
    host.trim_end_matches('/')
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("--url: cannot resolve {value}"))
}
