//! The `taskd` binary: parses flags into a `Config`, raises its descriptor limit, binds, prints
//! the address, and serves until SIGTERM / SIGINT (graceful, exit 0).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use taskd::cors::{Cors, CORS_ORIGINS_VAR};
use taskd::log;
use taskd::server::SHUTDOWN_GRACE;
use taskd::{Config, Server, Stopper};

const USAGE: &str = "\
Usage: taskd [--addr HOST:PORT] [--max-upload-bytes N] [--token-file PATH] [--data-dir DIR]
             [--request-timeout SECONDS] [--io-timeout SECONDS] [--keep-alive-timeout SECONDS]
             [--max-connections N] [--cors-origin ORIGIN]... [--trace] [--quiet]

A small task-manager HTTP API (the \"Robust Task Endpoints\" lesson, in Rust).

Options:
  --addr HOST:PORT        where to listen (default 127.0.0.1:8000; port 0 picks a free port)
  --max-upload-bytes N    largest accepted attachment in bytes (default 33554432 = 32 MiB)
  --token-file PATH       require `Authorization: Bearer <token>` (the file's first line) on
                          every route but /healthz, /docs and /openapi.json; the TASKD_TOKEN
                          environment variable does the same
  --data-dir DIR          keep tasks, attachments and the id counter in DIR (created if
                          missing); every answered change survives a restart or a crash.
                          Without it, everything is in memory and lost on exit
  --request-timeout SECONDS
                          a request head must be complete this long after its first
                          byte, or it gets 408 (default 10)
  --io-timeout SECONDS    a request body or an answer must move 1 KiB in every window this
                          long, or the transfer is cut (408 for a body) (default 30)
  --keep-alive-timeout SECONDS
                          close a connection idle this long between requests (default 30)
  --max-connections N     open connections at most; past it the longest-idle one is closed
                          to make room, or the newcomer gets 503 (default 1024)
  --cors-origin ORIGIN    let pages on ORIGIN (scheme://host[:port], exactly as the browser
                          sends it in `Origin`) read the answers: CORS, off by default.
                          Repeatable; `*` allows any page; TASKD_CORS_ORIGINS takes a
                          comma-separated list too
  --trace                 print every exchange on stderr, heads as they crossed the wire and
                          the first 2 KiB of JSON and text bodies (credentials redacted), in
                          place of the access log; wins over --quiet
  --quiet                 no access log on stderr, and no CORS hints
  --workers N             deprecated and ignored: every connection has its own thread
  -h, --help              print this help

Subcommand:
  taskd check [--json] http://HOST:PORT
                          audit any server of the lesson's API and explain each HTTP mistake
                          (see `taskd check --help`)";

/// Test hook, deliberately not in the help: `TASKD_FAULT_INJECTION=1` turns on
/// `Config::fault_injection`, so tests can watch a handler panic through the real binary's log.
const FAULT_INJECTION_VAR: &str = "TASKD_FAULT_INJECTION";

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("check") {
        return taskd_check::run(std::env::args().skip(2));
    }
    let env = Environment {
        token: std::env::var("TASKD_TOKEN").ok(),
        cors_origins: std::env::var(CORS_ORIGINS_VAR).ok(),
    };
    let config = match parse_args(std::env::args().skip(1), env) {
        Ok(Some(config)) => Config {
            fault_injection: std::env::var_os(FAULT_INJECTION_VAR)
                .is_some_and(|value| value == "1"),
            ..config
        },
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("taskd: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let has_token = config.token.is_some();
    raise_descriptor_limit();
    let server = match Server::bind(config) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("taskd: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(warning) = exposure_warning(server.addr(), has_token) {
        eprintln!("taskd: warning: {warning}");
    }
    let handle = server.spawn();
    if let Err(error) = stop_on_signals(handle.stopper()) {
        eprintln!("taskd: cannot install signal handlers: {error}");
        return ExitCode::FAILURE;
    }
    announce(handle.addr());
    // Returns once a signal stopped the server and its connections have closed.
    match handle.wait() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("taskd: exiting: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Each connection holds a descriptor, so the soft limit (often 1024) would cap connections
/// well below `--max-connections`'s reach; the hard limit is what the administrator allows. Only
/// the binary does this: a library must not change its host process's limits.
fn raise_descriptor_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(error) = setrlimit(Resource::Nofile, limit) {
            eprintln!("taskd: warning: cannot raise the open-files limit: {error}");
        }
    }
}

/// A server reachable from other hosts with no token lets anyone change every task.
fn exposure_warning(addr: SocketAddr, has_token: bool) -> Option<String> {
    (!has_token && !addr.ip().is_loopback()).then(|| {
        format!(
            "listening on {addr} without a token: anyone who can reach it can change every \
             task (see --token-file)"
        )
    })
}

/// One flushed line, so a script can start us on port 0 and read the real address.
fn announce(addr: SocketAddr) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "taskd listening on http://{addr}");
    let _ = stdout.flush();
}

/// On the first SIGTERM or SIGINT, stop accepting, close idle connections and let requests in
/// progress finish; exit anyway once `SHUTDOWN_GRACE` has passed.
fn stop_on_signals(stopper: Stopper) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    thread::Builder::new()
        .name("taskd-signals".to_owned())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                log::line(format_args!(
                    "taskd: signal {signal}: finishing in-flight requests"
                ));
                stopper.stop();
                thread::sleep(SHUTDOWN_GRACE);
                log::line(format_args!(
                    "taskd: requests still running after {SHUTDOWN_GRACE:?}; exiting"
                ));
                log::flush(log::FLUSH_BOUND);
                std::process::exit(0);
            }
        })?;
    Ok(())
}

/// The environment variables that configure taskd.
#[derive(Debug, Default)]
struct Environment {
    /// `TASKD_TOKEN`; `--token-file` wins over it.
    token: Option<String>,
    /// `TASKD_CORS_ORIGINS`, comma-separated; united with the `--cors-origin` values.
    cors_origins: Option<String>,
}

/// `Ok(None)` means `--help`.
fn parse_args(
    mut args: impl Iterator<Item = String>,
    env: Environment,
) -> Result<Option<Config>, String> {
    let mut config = Config {
        token: env.token,
        ..Config::default()
    };
    let mut cors_origins = Vec::new();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quiet" => {
                config.access_log = false;
                continue;
            }
            "--trace" => {
                config.trace = true;
                continue;
            }
            _ => {}
        }
        let (name, inline_value) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (flag, None),
        };
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--addr" => config.addr = value()?,
            "--workers" => {
                value()?
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n > 0)
                    .ok_or("--workers takes a whole number of at least 1")?;
                eprintln!(
                    "taskd: warning: --workers is deprecated and ignored: every connection has \
                     its own thread"
                );
            }
            "--request-timeout" => config.request_timeout = seconds(&name, &value()?)?,
            "--io-timeout" => config.io_timeout = seconds(&name, &value()?)?,
            "--keep-alive-timeout" => config.keep_alive_timeout = seconds(&name, &value()?)?,
            "--max-connections" => {
                config.max_connections = value()?
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n > 0)
                    .ok_or("--max-connections takes a whole number of at least 1")?;
            }
            "--max-upload-bytes" => {
                config.max_upload_bytes = value()?
                    .parse()
                    .map_err(|_| "--max-upload-bytes takes a whole number of bytes")?;
            }
            "--data-dir" => config.data_dir = Some(value()?.into()),
            "--cors-origin" => cors_origins.push(value()?),
            "--token-file" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|error| format!("cannot read --token-file {path}: {error}"))?;
                config.token = Some(text.lines().next().unwrap_or_default().to_owned());
            }
            _ => return Err(format!("unknown argument: {name}")),
        }
    }
    if config
        .token
        .as_deref()
        .is_some_and(|token| token.trim().is_empty())
    {
        return Err("the token is empty".to_owned());
    }
    config.cors = Cors::from_config(&cors_origins, env.cors_origins.as_deref())?;
    Ok(Some(config))
}

/// A positive number of seconds, fractions allowed (`0.5`).
fn seconds(flag: &str, text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag} takes a positive number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env_token: Option<&str>) -> Result<Option<Config>, String> {
        let env = Environment {
            token: env_token.map(str::to_owned),
            cors_origins: None,
        };
        parse_args(args.iter().map(|arg| (*arg).to_owned()), env)
    }

    #[test]
    fn warns_only_off_loopback_without_a_token() {
        let public: SocketAddr = "192.0.2.7:8000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert!(exposure_warning(public, false).is_some());
        assert!(exposure_warning(public, true).is_none());
        assert!(exposure_warning(local, false).is_none());
    }

    #[test]
    fn token_comes_from_the_environment_or_the_file() {
        let config = parse(&[], Some("from-env")).unwrap().unwrap();
        assert_eq!(config.token.as_deref(), Some("from-env"));
        let path = std::env::temp_dir().join(format!("taskd-token-{}", std::process::id()));
        std::fs::write(&path, "from-file\r\nignored\n").unwrap();
        let flag = format!("--token-file={}", path.display());
        let config = parse(&[&flag], Some("from-env")).unwrap().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(config.token.as_deref(), Some("from-file"));
    }

    #[test]
    fn empty_token_is_refused() {
        assert!(parse(&[], Some("  ")).is_err());
    }

    #[test]
    fn data_dir_is_optional() {
        assert_eq!(parse(&[], None).unwrap().unwrap().data_dir, None);
        let config = parse(&["--data-dir", "/var/lib/taskd"], None)
            .unwrap()
            .unwrap();
        assert_eq!(config.data_dir, Some("/var/lib/taskd".into()));
        assert!(parse(&["--data-dir"], None).is_err());
    }

    #[test]
    fn timeouts_and_the_cap_have_the_contract_defaults_and_flags() {
        let config = parse(&[], None).unwrap().unwrap();
        assert_eq!(config.request_timeout, Duration::from_secs(10));
        assert_eq!(config.io_timeout, Duration::from_secs(30));
        assert_eq!(config.keep_alive_timeout, Duration::from_secs(30));
        assert_eq!(config.max_connections, 1024);
        let args = [
            "--request-timeout=2",
            "--io-timeout",
            "0.5",
            "--keep-alive-timeout=7",
            "--max-connections=3",
        ];
        let config = parse(&args, None).unwrap().unwrap();
        assert_eq!(config.request_timeout, Duration::from_secs(2));
        assert_eq!(config.io_timeout, Duration::from_millis(500));
        assert_eq!(config.keep_alive_timeout, Duration::from_secs(7));
        assert_eq!(config.max_connections, 3);
        for bad in [
            "--io-timeout=0",
            "--io-timeout=-1",
            "--io-timeout=x",
            "--max-connections=0",
        ] {
            assert!(parse(&[bad], None).is_err(), "{bad}");
        }
    }

    #[test]
    fn quiet_turns_off_the_access_log() {
        assert!(parse(&[], None).unwrap().unwrap().access_log);
        assert!(!parse(&["--quiet"], None).unwrap().unwrap().access_log);
    }

    #[test]
    fn trace_is_off_unless_asked_and_independent_of_quiet() {
        assert!(!parse(&[], None).unwrap().unwrap().trace);
        let config = parse(&["--quiet", "--trace"], None).unwrap().unwrap();
        assert!(config.trace && !config.access_log);
    }

    #[test]
    fn cors_origins_come_from_flags_and_the_environment() {
        assert!(!parse(&[], None).unwrap().unwrap().cors.is_enabled());
        let env = Environment {
            token: None,
            cors_origins: Some("http://localhost:3000, https://app.example".to_owned()),
        };
        let args = [
            "--cors-origin",
            "http://localhost:5173",
            "--cors-origin=http://[::1]:8080",
        ];
        let config = parse_args(args.iter().map(|arg| (*arg).to_owned()), env)
            .unwrap()
            .unwrap();
        for origin in [
            "http://localhost:5173",
            "http://[::1]:8080",
            "http://localhost:3000",
            "https://app.example",
        ] {
            assert!(config.cors.allows(origin), "{origin}");
        }
        assert!(!config.cors.allows("http://localhost:8000"));
    }

    #[test]
    fn a_bad_origin_is_refused_naming_the_value() {
        let error = parse(&["--cors-origin", "http://localhost:5173/"], None).unwrap_err();
        assert!(error.contains("\"http://localhost:5173/\""), "{error}");
        assert!(parse(&["--cors-origin"], None).is_err());
    }
}
