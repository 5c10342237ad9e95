//! The `taskd` binary: the ready line on stdout, `--help`, a bad flag (exit 2), a port in use
//! (exit 1), and serving real requests on the port it announced. The exits of every mistake
//! are tests/cli_usage.rs's; the start line and the access log's format tests/cli_log.rs's.

use crate::binary::{self, Running};
use crate::common;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TASKD: &str = env!("CARGO_BIN_EXE_taskd");

/// Starts the binary on port 0 and returns it with the address from its ready line.
fn start(extra: &[&str]) -> (Running, SocketAddr, String) {
    start_with_stderr(extra, Stdio::null())
}

fn start_with_stderr(extra: &[&str], stderr: Stdio) -> (Running, SocketAddr, String) {
    let mut child = Command::new(TASKD)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start taskd");
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running(child);
    let (addr, line) = binary::ready_line(stdout);
    (running, addr, line)
}

/// Sends a signal with the `kill` command (no libc binding needed for a test).
fn signal(running: &Running, name: &str) {
    let pid = running.0.id().to_string();
    let status = Command::new("kill").args([name, &pid]).status().unwrap();
    assert!(status.success(), "kill {name} {pid}");
}

/// Waits for the process to exit, failing the test after `limit` instead of hanging CI.
fn exit_code_within(mut running: Running, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            return status.code();
        }
        assert!(
            Instant::now() < deadline,
            "taskd did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ready_line_names_the_real_port_and_the_server_answers_there() {
    let (_running, addr, line) = start(&[]);
    assert_ne!(addr.port(), 0);
    assert_eq!(line, format!("taskd listening on http://{addr}\n"));
    let response = common::get(addr, "/healthz");
    assert_eq!(response.status, 200);
}

/// Issue 11: `--workers N` outlived the worker pool, so existing command lines and unit files
/// keep working; it is ignored, with one line saying so.
#[test]
fn workers_flag_is_accepted_ignored_and_warned_about() {
    let mut command = Command::new(TASKD);
    command.args([
        "--addr",
        "127.0.0.1:0",
        "--workers",
        "1",
        "--max-upload-bytes=1024",
    ]);
    let (running, addr, stderr) = binary::start_with_stderr_unread(command);
    assert_eq!(common::get(addr, "/tasks").text(), "[]");
    signal(&running, "-TERM");
    assert_eq!(exit_code_within(running, Duration::from_secs(5)), Some(0));
    let mut log = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut log).unwrap();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("--workers"))
        .collect();
    assert_eq!(
        warnings,
        ["taskd: warning: --workers is deprecated and ignored: every connection has its own thread"],
        "{log}"
    );
}

#[test]
fn help_prints_usage_and_exits_0() {
    let output = Command::new(TASKD).arg("--help").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("Usage: taskd"), "{stdout}");
}

#[test]
fn bad_flag_values_exit_2() {
    for args in [
        &["--workers", "0"][..],
        &["--workers", "many"],
        &["--max-upload-bytes", "-1"],
        &["--addr"],
    ] {
        let output = Command::new(TASKD).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn port_in_use_is_one_line_on_stderr_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(TASKD)
        .args(["--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.is_empty(),
        "no ready line when binding failed"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("taskd: cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn quiet_writes_no_access_log() {
    let (mut running, addr, _) = start_with_stderr(&["--quiet"], Stdio::piped());
    assert_eq!(common::get(addr, "/healthz").status, 200);
    signal(&running, "-TERM");
    let mut stderr = String::new();
    let mut pipe = running.0.stderr.take().expect("piped stderr");
    std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
    assert!(!stderr.contains("/healthz"), "{stderr}");
}

#[test]
fn sigint_on_an_idle_server_exits_0() {
    let (running, _addr, _) = start(&[]);
    signal(&running, "-INT");
    assert_eq!(exit_code_within(running, Duration::from_secs(5)), Some(0));
}

/// SIGTERM lets a request whose body is still arriving finish, then exits 0. The request asks
/// `Expect: 100-continue`, and taskd sends `100 Continue` only when the handler starts reading
/// the body, so the signal goes out while the request is provably being handled.
#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let (running, addr, _) = start(&[]);
    let body = format!(r#"{{"title":"in flight","pad":"{}"}}"#, "x".repeat(4000));
    let head = common::request_head(
        addr,
        "POST",
        "/tasks",
        &[
            "Content-Type: application/json",
            &format!("Content-Length: {}", body.len()),
            "Expect: 100-continue",
        ],
    );
    let mut stream = common::connect(addr);
    stream.write_all(&head).unwrap();
    let mut buffer = Vec::new();
    let interim = common::read_one_response(&mut stream, &mut buffer, false);
    assert_eq!(interim.status, 100);
    signal(&running, "-TERM");
    stream.write_all(body.as_bytes()).unwrap();
    let response = common::read_one_response(&mut stream, &mut buffer, false);
    assert_eq!(response.status, 201, "{}", response.text());
    drop(stream);
    assert_eq!(exit_code_within(running, Duration::from_secs(10)), Some(0));
}

/// A handler panic is exactly one log line, with the panic's message and place, instead of the
/// default hook's several lines; the server then goes on answering.
#[test]
fn handler_panic_is_one_log_line() {
    let mut command = Command::new(TASKD);
    command
        .args(["--addr", "127.0.0.1:0", "--quiet"])
        .env("TASKD_FAULT_INJECTION", "1");
    let (running, addr, stderr) = binary::start_with_stderr_unread(command);
    assert_eq!(common::get(addr, "/_test/panic").status, 500);
    assert_eq!(common::get(addr, "/healthz").status, 200);
    signal(&running, "-TERM");
    assert_eq!(exit_code_within(running, Duration::from_secs(5)), Some(0));
    let mut log = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut log).unwrap();
    // The other line is the shutdown notice.
    let lines: Vec<&str> = log.lines().filter(|line| line.contains("panick")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(!log.contains("RUST_BACKTRACE"), "{log}");
    assert!(
        lines[0].starts_with(
            "taskd: GET /_test/panic: 500: handler panicked at src/storage/tasks/guarded.rs:"
        ),
        "{log}"
    );
    assert!(
        lines[0].ends_with(": fault injection: panic while holding the store lock"),
        "{log}"
    );
}

/// CONTRACT §13: when `accept` fails for want of descriptors, the connections already open keep
/// being served, accepting resumes once descriptors free up, and taskd never exits for it (the
/// tiny_http server's accept thread died on EMFILE, and taskd had to exit 1).
#[test]
fn running_out_of_descriptors_pauses_accepting_and_never_exits() {
    let script = "ulimit -n 32 && exec \"$0\" --addr 127.0.0.1:0 --quiet";
    let mut command = Command::new("sh");
    command.args(["-c", script, TASKD]);
    let (mut running, addr, stderr) = binary::start_with_stderr_unread(command);
    let mut kept = common::connect(addr);
    let mut buffer = Vec::new();
    let mut ask_on_kept = || {
        let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        std::io::Write::write_all(&mut kept, head.as_bytes()).unwrap();
        common::read_one_response(&mut kept, &mut buffer, false).status
    };
    assert_eq!(ask_on_kept(), 200);
    // More connections than descriptors: the kernel completes them all (the backlog), taskd
    // accepts until EMFILE, and the rest wait in the backlog.
    let idle: Vec<_> = (0..48)
        .map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ask_on_kept(), 200, "an open connection is still served");
    assert!(running.0.try_wait().unwrap().is_none(), "taskd exited");
    drop(idle);
    let fresh = common::get(addr, "/healthz");
    assert_eq!(fresh.status, 200, "accepting resumed");
    signal(&running, "-TERM");
    assert_eq!(exit_code_within(running, Duration::from_secs(5)), Some(0));
    let mut log = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut log).unwrap();
    // One line when an episode starts and one when it ends, however long it lasts (freed
    // descriptors may be taken again by connections waiting in the backlog: a new episode).
    let episodes: Vec<bool> = log
        .lines()
        .filter_map(|line| match line {
            _ if line.starts_with("taskd: cannot accept connections") => Some(true),
            _ if line.starts_with("taskd: accepting connections again") => Some(false),
            _ => None,
        })
        .collect();
    assert!(!episodes.is_empty(), "{log}");
    let alternating = episodes
        .iter()
        .enumerate()
        .all(|(at, &starts)| starts == (at % 2 == 0));
    assert!(alternating, "{log}");
}

/// A parent that died takes stderr's pipe with it: logging then fails, and must not take down
/// the connection that logs (a keep-alive client keeps being served) nor the signal thread
/// (SIGTERM still ends taskd with 0). `eprintln!` panics on such a write.
#[test]
fn a_closed_stderr_costs_no_answer_and_no_shutdown() {
    let mut command = Command::new(TASKD);
    command.args(["--addr", "127.0.0.1:0"]);
    let (running, addr, stderr) = binary::start_with_stderr_unread(command);
    drop(stderr);
    let mut kept = common::connect(addr);
    let mut buffer = Vec::new();
    for _ in 0..3 {
        let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        std::io::Write::write_all(&mut kept, head.as_bytes()).unwrap();
        let response = common::read_one_response(&mut kept, &mut buffer, false);
        assert_eq!(response.status, 200);
    }
    signal(&running, "-TERM");
    assert_eq!(exit_code_within(running, Duration::from_secs(5)), Some(0));
}

/// CONTRACT §13: each answer gets one access-log line, the layer's own refusals included (with
/// `-` for a method and target it could not read) and the 503 at the connection cap.
#[test]
fn the_layers_refusals_get_an_access_log_line_each() {
    let mut command = Command::new(TASKD);
    command.args(["--addr", "127.0.0.1:0", "--max-connections", "1"]);
    let (running, addr, stderr) = binary::start_with_stderr_unread(command);
    let mut busy = common::connect(addr);
    let head = format!(
        "POST /tasks HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    );
    std::io::Write::write_all(&mut busy, head.as_bytes()).unwrap();
    let mut buffer = Vec::new();
    let interim = common::read_one_response(&mut busy, &mut buffer, false);
    assert_eq!(interim.status, 100);
    // The first connection is provably busy reading its body, so the cap turns the next away.
    let close = b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let unavailable = common::send_raw(addr, close);
    assert_eq!(unavailable.status, 503);
    drop(busy);
    // Until the busy connection's thread has left, a newcomer may still meet the cap.
    let answer = |bytes: &[u8]| loop {
        let response = common::send_raw(addr, bytes);
        if response.status != 503 {
            return response.status;
        }
    };
    assert_eq!(answer(b"GET / HTTP/2.0\r\n\r\n"), 505);
    assert_eq!(
        answer(b"GET /tasks HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        400
    );
    assert_eq!(answer(close), 200);
    signal(&running, "-TERM");
    assert_eq!(exit_code_within(running, Duration::from_secs(5)), Some(0));
    let mut log = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut log).unwrap();
    // A request line that could not be read is CLF's `"-"`.
    assert_eq!(log.matches("] \"-\" 505 ").count(), 1, "{log}");
    assert_eq!(log.matches("] \"-\" 400 ").count(), 1, "{log}");
    assert!(log.contains("] \"-\" 503 "), "{log}");
}
