//! The `taskd` binary: parses flags into a `Config`, raises its descriptor limit, binds, prints
//! the address, and serves until SIGTERM / SIGINT (graceful, exit 0).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use taskd::binary::{self as support, CORS_ORIGINS_VAR, SHUTDOWN_GRACE};
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
/// the panic route, so tests can watch a handler panic through the real binary's log.
#[cfg(feature = "test-hooks")]
const FAULT_INJECTION_VAR: &str = "TASKD_FAULT_INJECTION";

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("check") {
        return taskd_check::run(std::env::args().skip(2));
    }
    if std::env::args().nth(1).as_deref() == Some("backup") {
        return taskd::binary::backup(std::env::args().skip(2));
    }
    let env = Environment {
        token: std::env::var("TASKD_TOKEN").ok(),
        cors_origins: std::env::var(CORS_ORIGINS_VAR).ok(),
    };
    let (config, has_token) = match parse_args(std::env::args().skip(1), env) {
        Ok(Some(Invocation { config, has_token })) => (with_test_hooks(config), has_token),
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("taskd: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    raise_descriptor_limit();
    // A handler's panic is then one log line, not the default hook's several: a process-wide
    // change, so the binary makes it, never the library.
    support::install_handler_panic_hook();
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

/// `TASKD_FAULT_INJECTION=1` turns on the panic route, in a binary built with the `test-hooks`
/// feature only (the tests' build); a release binary ignores the variable.
#[cfg(feature = "test-hooks")]
fn with_test_hooks(config: Config) -> Config {
    config.with_fault_injection(
        std::env::var_os(FAULT_INJECTION_VAR).is_some_and(|value| value == "1"),
    )
}

#[cfg(not(feature = "test-hooks"))]
fn with_test_hooks(config: Config) -> Config {
    config
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
                support::log_line(format_args!(
                    "taskd: signal {signal}: finishing in-flight requests"
                ));
                stopper.stop();
                thread::sleep(SHUTDOWN_GRACE);
                support::log_line(format_args!(
                    "taskd: requests still running after {SHUTDOWN_GRACE:?}; exiting"
                ));
                support::flush_log(support::FLUSH_BOUND);
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

/// What the command line asked for.
#[derive(Debug)]
struct Invocation {
    config: Config,
    /// Whether a token protects the routes (for the exposure warning).
    has_token: bool,
}

/// `Ok(None)` means `--help`.
fn parse_args(
    mut args: impl Iterator<Item = String>,
    env: Environment,
) -> Result<Option<Invocation>, String> {
    let mut config = Config::default();
    let mut token = env.token;
    let mut cors_origins = Vec::new();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quiet" => {
                config = config.with_access_log(false);
                continue;
            }
            "--trace" => {
                config = config.with_trace(true);
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
        config = match name.as_str() {
            "--addr" => config.with_addr(value()?),
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
                config
            }
            "--request-timeout" => config.with_request_timeout(seconds(&name, &value()?)?),
            "--io-timeout" => config.with_io_timeout(seconds(&name, &value()?)?),
            "--keep-alive-timeout" => config.with_keep_alive_timeout(seconds(&name, &value()?)?),
            "--max-connections" => config.with_max_connections(
                value()?
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n > 0)
                    .ok_or("--max-connections takes a whole number of at least 1")?,
            ),
            "--max-upload-bytes" => config.with_max_upload_bytes(
                value()?
                    .parse()
                    .map_err(|_| "--max-upload-bytes takes a whole number of bytes")?,
            ),
            "--data-dir" => config.with_data_dir(value()?),
            "--cors-origin" => {
                cors_origins.push(value()?);
                config
            }
            "--token-file" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|error| format!("cannot read --token-file {path}: {error}"))?;
                token = Some(text.lines().next().unwrap_or_default().to_owned());
                config
            }
            _ => return Err(format!("unknown argument: {name}")),
        };
    }
    let has_token = match token {
        Some(token) if token.trim().is_empty() => return Err("the token is empty".to_owned()),
        Some(token) => {
            config = config.with_token(token);
            true
        }
        None => false,
    };
    let config = config
        .with_cors_origins(&cors_origins)
        .map_err(|why| format!("--cors-origin {why}"))?;
    let from_env = support::split_origins(env.cors_origins.as_deref().unwrap_or_default());
    let config = config
        .with_cors_origins(from_env)
        .map_err(|why| format!("{CORS_ORIGINS_VAR} {why}"))?;
    Ok(Some(Invocation { config, has_token }))
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
    //! The flags, compared as whole `Config`s: the library keeps its fields private, so the
    //! binary is tested as any embedder would build the same config.
    use super::*;

    fn parse(args: &[&str], env_token: Option<&str>) -> Result<Option<Invocation>, String> {
        let env = Environment {
            token: env_token.map(str::to_owned),
            cors_origins: None,
        };
        parse_args(args.iter().map(|arg| (*arg).to_owned()), env)
    }

    fn config(args: &[&str]) -> Config {
        parse(args, None).unwrap().unwrap().config
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
        let invocation = parse(&[], Some("from-env")).unwrap().unwrap();
        assert!(invocation.has_token);
        assert_eq!(invocation.config, Config::default().with_token("from-env"));
        let path = std::env::temp_dir().join(format!("taskd-token-{}", std::process::id()));
        std::fs::write(&path, "from-file\r\nignored\n").unwrap();
        let flag = format!("--token-file={}", path.display());
        let invocation = parse(&[&flag], Some("from-env")).unwrap().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(invocation.config, Config::default().with_token("from-file"));
        assert!(!parse(&[], None).unwrap().unwrap().has_token);
    }

    #[test]
    fn empty_token_is_refused() {
        assert!(parse(&[], Some("  ")).is_err());
    }

    #[test]
    fn data_dir_is_optional() {
        assert_eq!(config(&[]), Config::default());
        assert_eq!(
            config(&["--data-dir", "/var/lib/taskd"]),
            Config::default().with_data_dir("/var/lib/taskd")
        );
        assert!(parse(&["--data-dir"], None).is_err());
    }

    #[test]
    fn timeouts_and_the_cap_have_the_contract_defaults_and_flags() {
        let contract = Config::default()
            .with_request_timeout(Duration::from_secs(10))
            .with_io_timeout(Duration::from_secs(30))
            .with_keep_alive_timeout(Duration::from_secs(30))
            .with_max_connections(1024);
        assert_eq!(config(&[]), contract);
        let args = [
            "--request-timeout=2",
            "--io-timeout",
            "0.5",
            "--keep-alive-timeout=7",
            "--max-connections=3",
        ];
        let expected = Config::default()
            .with_request_timeout(Duration::from_secs(2))
            .with_io_timeout(Duration::from_millis(500))
            .with_keep_alive_timeout(Duration::from_secs(7))
            .with_max_connections(3);
        assert_eq!(config(&args), expected);
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
        assert_eq!(
            config(&["--quiet"]),
            Config::default().with_access_log(false)
        );
        assert_ne!(config(&["--quiet"]), config(&[]));
    }

    #[test]
    fn trace_is_off_unless_asked_and_independent_of_quiet() {
        assert_ne!(config(&["--trace"]), config(&[]));
        assert_eq!(
            config(&["--quiet", "--trace"]),
            Config::default().with_access_log(false).with_trace(true)
        );
    }

    #[test]
    fn cors_origins_come_from_flags_and_the_environment() {
        let env = Environment {
            token: None,
            cors_origins: Some("http://localhost:3000, https://app.example".to_owned()),
        };
        let args = [
            "--cors-origin",
            "http://localhost:5173",
            "--cors-origin=http://[::1]:8080",
        ];
        let invocation = parse_args(args.iter().map(|arg| (*arg).to_owned()), env)
            .unwrap()
            .unwrap();
        let expected = Config::default()
            .with_cors_origins([
                "http://localhost:5173",
                "http://[::1]:8080",
                "http://localhost:3000",
                "https://app.example",
            ])
            .unwrap();
        assert_eq!(invocation.config, expected);
    }

    #[test]
    fn a_bad_origin_is_refused_naming_the_value_and_its_source() {
        let error = parse(&["--cors-origin", "http://localhost:5173/"], None).unwrap_err();
        assert!(
            error.contains("--cors-origin \"http://localhost:5173/\""),
            "{error}"
        );
        assert!(parse(&["--cors-origin"], None).is_err());
        let env = Environment {
            token: None,
            cors_origins: Some("localhost:3000".to_owned()),
        };
        let error = parse_args(std::iter::empty(), env).unwrap_err();
        assert!(
            error.starts_with("TASKD_CORS_ORIGINS \"localhost:3000\""),
            "{error}"
        );
    }
}
