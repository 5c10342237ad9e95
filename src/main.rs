//! The `taskd` binary: parses flags and variables into a `Config` (`cli`), raises its
//! descriptor limit, binds, writes the start line on stderr (`start`) and the ready line on
//! stdout, and serves until SIGTERM / SIGINT (graceful, exit 0). Exit 1 is a runtime failure, 2
//! a usage error. Nothing here prints with `println!`/`eprintln!`: they panic on a closed pipe.

mod cli;
mod start;

use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::thread;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use taskd::binary::{self as support, SHUTDOWN_GRACE};
use taskd::{Config, Server, Stopper};

use crate::cli::{Command, Options};

/// `taskd --version` prints `taskd` and this.
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Exit status of a runtime failure: a file that cannot be read, an address that cannot be
/// bound, storage refused.
const RUNTIME_FAILURE: u8 = 1;
/// Exit status of a usage error (clap's and the BSD `EX_USAGE` convention's 2).
const USAGE_ERROR: u8 = 2;

/// Test hook, deliberately not in the help: `TASKD_FAULT_INJECTION=1` turns on
/// the panic route, so tests can watch a handler panic through the real binary's log.
#[cfg(feature = "test-hooks")]
const FAULT_INJECTION_VAR: &str = "TASKD_FAULT_INJECTION";

fn main() -> ExitCode {
    // `check`'s arguments are its own (crates/check), passed through as they are (`args()`
    // would panic on one that is not UTF-8; such an argument reaches it with U+FFFD instead).
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|first| first == "check") {
        return taskd_check::run(args.map(|arg| arg.to_string_lossy().into_owned()));
    }
    if std::env::args_os()
        .nth(1)
        .is_some_and(|first| first == "backup")
    {
        return taskd::binary::backup(std::env::args().skip(2));
    }
    #[cfg(feature = "postgres")]
    if std::env::args_os()
        .nth(1)
        .is_some_and(|first| first == "import")
    {
        return match support::run_import(std::env::args_os().skip(2)) {
            Ok(summary) => print_out(&summary),
            Err(failure) if failure.code == USAGE_ERROR => {
                exit_with(USAGE_ERROR, &format!("{}\nsee taskd --help", failure.line))
            }
            Err(failure) => exit_with(failure.code, &format!("taskd import: {}", failure.line)),
        };
    }
    match cli::parse(
        std::env::args_os().skip(1),
        &cli::Environment::from_process(),
    ) {
        Ok(Command::Serve(options)) => serve(*options),
        Ok(Command::Help) => print_out(cli::USAGE),
        Ok(Command::Version) => print_out(&format!("taskd {VERSION}")),
        Err(error) => exit_with(USAGE_ERROR, &format!("taskd: {error}\nsee taskd --help")),
    }
}

/// Binds, announces, and serves until SIGTERM or SIGINT.
fn serve(options: cli::Options) -> ExitCode {
    let Options {
        config,
        token,
        data_dir,
        database,
        warnings,
    } = options;
    for warning in warnings {
        support::log_line(format_args!("{warning}"));
    }
    let token = match token.resolve() {
        Ok(token) => token,
        Err(error) => return exit_with(RUNTIME_FAILURE, &format!("taskd: {error}")),
    };
    let has_token = token.is_some();
    let config = with_test_hooks(match token {
        Some(token) => config.with_token(token),
        None => config,
    });
    raise_descriptor_limit();
    // A handler's panic is then one log line, not the default hook's several: a process-wide
    // change, so the binary makes it, never the library.
    support::install_handler_panic_hook();
    let server = match Server::bind(config) {
        Ok(server) => server,
        Err(error) => return exit_with(RUNTIME_FAILURE, &format!("taskd: {error}")),
    };
    if let Some(warning) = exposure_warning(server.addr(), has_token) {
        support::log_line(format_args!("taskd: warning: {warning}"));
    }
    let storage = match start::storage(&server, data_dir.as_deref(), database.as_deref()) {
        Ok(storage) => storage,
        Err(error) => return exit_with(RUNTIME_FAILURE, &format!("taskd: {error}")),
    };
    let handle = server.spawn();
    if let Err(error) = stop_on_signals(handle.stopper()) {
        let line = format!("taskd: cannot install signal handlers: {error}");
        return exit_with(RUNTIME_FAILURE, &line);
    }
    support::log_line(format_args!(
        "{}",
        start::line(VERSION, handle.addr(), &storage)
    ));
    announce(handle.addr());
    // Returns once a signal stopped the server and its connections have closed.
    match handle.wait() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit_with(RUNTIME_FAILURE, &format!("taskd: exiting: {error}")),
    }
}

/// Writes `text` and a newline on stdout. A reader that closed the pipe early (`taskd --help |
/// head -1`) got what it wanted: that is exit 0, quietly. Rust ignores SIGPIPE, so the write
/// returns `EPIPE`, which `println!` would turn into a panic.
fn print_out(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => exit_with(
            RUNTIME_FAILURE,
            &format!("taskd: cannot write to stdout: {error}"),
        ),
    }
}

/// Writes `lines` on stderr through the log queue, waits (briefly) for them, and exits `code`.
fn exit_with(code: u8, lines: &str) -> ExitCode {
    support::log_line(format_args!("{lines}"));
    support::flush_log(support::FLUSH_BOUND);
    ExitCode::from(code)
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
            support::log_line(format_args!(
                "taskd: warning: cannot raise the open-files limit: {error}"
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_only_off_loopback_without_a_token() {
        let public: SocketAddr = "192.0.2.7:8000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert!(exposure_warning(public, false).is_some());
        assert!(exposure_warning(public, true).is_none());
        assert!(exposure_warning(local, false).is_none());
    }
}
