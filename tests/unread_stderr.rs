//! A stderr nobody reads never stalls requests (issue 16): the real binary, its stderr piped
//! and left unread while 5,000 keep-alive requests each add an access-log line. A pipe holds
//! 64 KiB; before the log queue, the server froze once it was full (every request blocked in
//! its log write). Then, once stderr is read again, the count of dropped lines is reported.

mod binary;
mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const TASKD: &str = env!("CARGO_BIN_EXE_taskd");

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_unread_stderr_never_stalls_requests_and_drops_are_reported() {
    let mut child = Command::new(TASKD)
        .args(["--addr", "127.0.0.1:0"])
        .env_remove("TASKD_TOKEN")
        .env_remove("TASKD_CORS_ORIGINS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start taskd");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let running = Running(child);
    let (addr, _) = binary::ready_line(stdout);

    // About 250 bytes of access log per request: the pipe is full after some 260 of them.
    let target = format!("/healthz?padding={}", "a".repeat(200));
    let head = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    // A 5 s read timeout: a frozen server fails the test instead of hanging it.
    let mut kept = common::connect(addr);
    let mut buffer = Vec::new();
    let started = Instant::now();
    for at in 0..5_000 {
        kept.write_all(head.as_bytes()).expect("send a request");
        let response = common::read_one_response(&mut kept, &mut buffer, false);
        assert_eq!(response.status, 200, "request {at}");
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "5,000 requests took {took:?}"
    );

    // Now read stderr: the queue empties, and the next line that gets in says how many were
    // dropped while nobody read.
    let (chunks, text) = mpsc::channel();
    thread::spawn(move || {
        let mut chunk = [0u8; 65536];
        while let Ok(n @ 1..) = stderr.read(&mut chunk) {
            if chunks.send(chunk[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let report = loop {
        kept.write_all(head.as_bytes()).expect("send a request");
        let response = common::read_one_response(&mut kept, &mut buffer, false);
        assert_eq!(response.status, 200);
        while let Ok(chunk) = text.recv_timeout(Duration::from_millis(20)) {
            seen.extend_from_slice(&chunk);
        }
        let log = String::from_utf8_lossy(&seen);
        if let Some(line) = log
            .lines()
            .find(|line| line.ends_with(" log lines dropped (stderr was not being read)"))
        {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no drop report in {log}");
    };
    let dropped: u64 = report
        .strip_prefix("taskd: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("a count in {report:?}"));
    assert!((1..5_000).contains(&dropped), "{report}");
    drop(running);
}
