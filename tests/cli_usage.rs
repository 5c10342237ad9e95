//! The command line's behaviour through the real binary (issue 18): each defect as a row of one
//! table of exit code and stderr line count (a usage error is one line plus `see taskd --help`,
//! never the whole usage; a runtime failure is one line; a server that starts writes its start
//! line and, after SIGTERM, its shutdown notice), `--version`, and `--help` into a closed pipe.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const TASKD: &str = env!("CARGO_BIN_EXE_taskd");

/// What a row expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Exits by itself with this code.
    Exits(i32),
    /// Starts serving (the ready line comes), on this port when given; SIGTERM then ends it 0.
    Serves(Option<u16>),
}

/// One row: the arguments, the `TASKD_*` variables (no other `TASKD_*` is inherited), what
/// happens, how many lines stderr gets, and a piece the first line must contain.
struct Row<'a> {
    name: &'a str,
    args: Vec<String>,
    env: Vec<(&'a str, String)>,
    outcome: Outcome,
    stderr_lines: usize,
    first_line_has: &'a str,
}

/// A port nobody listens on right now (free for the row that asks for it; the window for
/// another process to take it is tiny, and the row would fail loudly, never pass wrongly).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn command(args: &[String], env: &[(&str, String)]) -> Command {
    let mut command = Command::new(TASKD);
    for (name, _) in std::env::vars() {
        if name.starts_with("TASKD_") {
            command.env_remove(name);
        }
    }
    command.args(args);
    command.envs(env.iter().map(|(name, value)| (name, value)));
    command
}

/// How a row ended: the exit code, stderr, and the address of the ready line if one came.
struct Ended {
    code: Option<i32>,
    stderr: String,
    listened_on: Option<SocketAddr>,
}

/// Runs a row to its end; a server that announced itself is stopped with SIGTERM.
fn run(row: &Row<'_>) -> Ended {
    let mut child = command(&row.args, &row.env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start taskd");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut ready = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    let _ = BufReader::new(stdout).read_line(&mut ready);
    let listened_on = ready
        .trim_end()
        .strip_prefix("taskd listening on http://")
        .and_then(|addr| addr.parse().ok());
    if listened_on.is_some() {
        let pid = child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(killed.unwrap().success(), "kill -TERM {pid}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{}: taskd did not exit",
            row.name
        );
        thread::sleep(Duration::from_millis(10));
    };
    Ended {
        code: status.code(),
        stderr: reader.join().unwrap(),
        listened_on,
    }
}

fn row<'a>(
    name: &'a str,
    args: &[&str],
    env: &[(&'a str, &str)],
    outcome: Outcome,
    stderr_lines: usize,
    first_line_has: &'a str,
) -> Row<'a> {
    Row {
        name,
        args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        env: env
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect(),
        outcome,
        stderr_lines,
        first_line_has,
    }
}

#[test]
fn each_mistake_exits_with_its_code_and_a_line_or_two() {
    use Outcome::{Exits, Serves};
    let (port, colon_port, env_port) = (free_port(), free_port(), free_port());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = listener.local_addr().unwrap().to_string();
    let (port_arg, colon_arg) = (port.to_string(), format!(":{colon_port}"));
    let env_addr = format!(":{env_port}");
    let from_env = [("TASKD_ADDR", env_addr.as_str())];
    let in_use = [("TASKD_ADDR", taken.as_str())];
    let malformed = [("TASKD_MAX_CONNECTIONS", "many")];
    // name, arguments, variables, outcome, stderr lines, what the first line says
    #[rustfmt::skip]
    let rows = [
        row("unknown flag", &["--frobnicate"], &[], Exits(2), 2, "unknown flag --frobnicate"),
        row("malformed value", &["--max-upload-bytes", "-1"], &[], Exits(2), 2,
            "--max-upload-bytes \"-1\": expected"),
        row("malformed address", &["--addr", "9000x"], &[], Exits(2), 2,
            "--addr \"9000x\": expected PORT, :PORT or HOST:PORT"),
        row("missing value", &["--addr"], &[], Exits(2), 2, "--addr HOST:PORT needs a value"),
        row("unreadable token file", &["--addr", "127.0.0.1:0", "--token-file", "/nonexistent"],
            &[], Exits(1), 1, "cannot read --token-file /nonexistent: "),
        row("address in use", &["--addr", &taken], &[], Exits(1), 1, "cannot listen on"),
        row("a port alone", &["--addr", &port_arg], &[], Serves(Some(port)), 2, "listening on"),
        row("a colon and a port", &["--addr", &colon_arg], &[], Serves(Some(colon_port)), 2,
            "listening on"),
        row("--port", &["--port", "9000"], &[], Exits(2), 2,
            "unknown flag --port; did you mean --addr 9000?"),
        row("--token", &["--token", "abc"], &[], Exits(2), 2, "did you mean --token-file PATH"),
        row("--data", &["--data", "x"], &[], Exits(2), 2,
            "unknown flag --data; did you mean --data-dir x?"),
        row("--database-url with --data-dir",
            &["--database-url", "postgres://u:secret@127.0.0.1:1/db", "--data-dir", "/nonexistent"],
            &[], Exits(2), 2, "--database-url and --data-dir cannot be used together"),
        row("malformed --database-url", &["--database-url", "postgres://u:secret@h:port/db"],
            &[], Exits(2), 2, "malformed --database-url postgres://u:[redacted]@"),
        row("repeated --addr", &["--addr", "127.0.0.1:0", "--addr", "127.0.0.1:0"], &[], Exits(2),
            2, "--addr given twice"),
        row("malformed variable", &[], &malformed, Exits(2), 2,
            "TASKD_MAX_CONNECTIONS \"many\": expected"),
        row("variable used", &[], &from_env, Serves(Some(env_port)), 2, "listening on"),
        row("variable used, and refused", &[], &in_use, Exits(1), 1, "cannot listen on"),
        row("flag beats variable", &["--addr", "127.0.0.1:0"], &in_use, Serves(None), 2,
            "listening on"),
    ];
    // Every row runs, and the failures are reported together: one table, one verdict.
    let failures: Vec<String> = rows.iter().filter_map(check).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    drop(listener);
}

/// The address a server listened on when the row asked for another port.
fn wrong_port(outcome: Outcome, listened_on: Option<SocketAddr>) -> Option<SocketAddr> {
    match (outcome, listened_on) {
        (Outcome::Serves(Some(port)), Some(addr))
            if addr != SocketAddr::from(([127, 0, 0, 1], port)) =>
        {
            Some(addr)
        }
        _ => None,
    }
}

/// Runs one row; what differs from what it expects, if anything.
fn check(row: &Row<'_>) -> Option<String> {
    let ended = run(row);
    let stderr = &ended.stderr;
    let expected_code = match row.outcome {
        Outcome::Exits(code) => code,
        Outcome::Serves(_) => 0,
    };
    let first = stderr.lines().next().unwrap_or_default();
    let wrong = if ended.code != Some(expected_code) {
        format!("exit {:?}, not {expected_code}", ended.code)
    } else if matches!(row.outcome, Outcome::Serves(_)) && ended.listened_on.is_none() {
        "no ready line".to_owned()
    } else if let Some(addr) = wrong_port(row.outcome, ended.listened_on) {
        format!("listened on {addr}, not on the port asked for")
    } else if stderr.lines().count() != row.stderr_lines {
        format!(
            "{} stderr lines, not {}",
            stderr.lines().count(),
            row.stderr_lines
        )
    } else if !first.starts_with("taskd") || !first.contains(row.first_line_has) {
        format!("the first line lacks {:?}", row.first_line_has)
    } else if row.outcome == Outcome::Exits(2) && stderr.lines().nth(1) != Some("see taskd --help")
    {
        "no `see taskd --help` line".to_owned()
    } else {
        return None;
    };
    Some(format!("{}: {wrong}; stderr: {stderr:?}", row.name))
}

#[test]
fn version_prints_the_crate_version_and_exits_0() {
    for flag in ["--version", "-V"] {
        let output = command(&[flag.to_owned()], &[]).output().unwrap();
        assert_eq!(output.status.code(), Some(0));
        let expected = format!("taskd {}\n", env!("CARGO_PKG_VERSION"));
        assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
        assert!(output.stderr.is_empty());
    }
}

/// No panic and exit 0, with the output's text or without it.
fn assert_quiet_success(output: &Output, attempt: usize) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "attempt {attempt}: {stderr}");
    assert!(stderr.is_empty(), "attempt {attempt}: {stderr}");
    assert_eq!(output.status.code(), Some(0), "attempt {attempt}: {stderr}");
}

/// `taskd --help | head -1` panicked one run in eight (`failed printing to stdout: Broken
/// pipe`, exit 101): Rust ignores SIGPIPE, so writing to a pipe with no reader returns EPIPE,
/// which `println!` turns into a panic. Here the pipe's reader is closed before taskd starts,
/// so every run writes into a closed pipe; and then as `head -1` does, the reader goes away
/// after the first line.
#[test]
fn help_into_a_closed_pipe_exits_0_without_a_panic() {
    for attempt in 0..50 {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = command(&["--help".to_owned()], &[])
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_quiet_success(&output, attempt);
    }
    for attempt in 0..50 {
        let mut child = command(&["--help".to_owned()], &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.starts_with("Usage: taskd"), "{first}");
        let output = child.wait_with_output().unwrap();
        assert_quiet_success(&output, attempt);
    }
}

/// The same for `taskd check --help`: its usage is written by the check crate, which must not
/// panic on a closed pipe either.
#[test]
fn check_help_into_a_closed_pipe_exits_0_without_a_panic() {
    for attempt in 0..20 {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = command(&["check".to_owned(), "--help".to_owned()], &[])
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_quiet_success(&output, attempt);
    }
}
