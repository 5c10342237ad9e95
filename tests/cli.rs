//! The `taskd` binary: the ready line on stdout, `--help`, a bad flag (exit 2), a port in use
//! (exit 1), and serving real requests on the port it announced.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};

const TASKD: &str = env!("CARGO_BIN_EXE_taskd");

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary on port 0 and returns it with the address from its ready line.
fn start(extra: &[&str]) -> (Running, SocketAddr, String) {
    let mut child = Command::new(TASKD)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start taskd");
    let stdout = child.stdout.take().expect("piped stdout");
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the ready line");
    let addr = line
        .trim_end()
        .strip_prefix("taskd listening on http://")
        .unwrap_or_else(|| panic!("unexpected ready line: {line:?}"))
        .parse()
        .expect("a socket address");
    (running, addr, line)
}

#[test]
fn ready_line_names_the_real_port_and_the_server_answers_there() {
    let (_running, addr, line) = start(&[]);
    assert_ne!(addr.port(), 0);
    assert_eq!(line, format!("taskd listening on http://{addr}\n"));
    let response = common::get(addr, "/healthz");
    assert_eq!(response.status, 200);
}

#[test]
fn workers_flag_is_accepted() {
    let (_running, addr, _) = start(&["--workers", "1", "--max-upload-bytes=1024"]);
    assert_eq!(common::get(addr, "/tasks").text(), "[]");
}

#[test]
fn help_prints_usage_and_exits_0() {
    let output = Command::new(TASKD).arg("--help").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("Usage: taskd"), "{stdout}");
}

#[test]
fn unknown_flag_prints_usage_on_stderr_and_exits_2() {
    let output = Command::new(TASKD).arg("--frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown argument: --frobnicate"),
        "{stderr}"
    );
    assert!(stderr.contains("Usage: taskd"), "{stderr}");
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
