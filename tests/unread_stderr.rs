//! A stderr nobody reads never stalls requests (issue 16): the real binary, its stderr piped
//! and left unread while 5,000 keep-alive requests each add an access-log line. A pipe holds
//! 64 KiB; before the log queue, the server froze once it was full (every request blocked in
//! its log write). Then, once stderr is read again, the count of dropped lines is reported;
//! and a SIGTERM still ends the server at once, however full the pipe.

use crate::binary::{self, Running};
use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{ChildStderr, Command};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const TASKD: &str = env!("CARGO_BIN_EXE_taskd");

/// Starts taskd with both pipes; stderr is returned unread.
fn start() -> (Running, SocketAddr, ChildStderr) {
    let mut command = Command::new(TASKD);
    command
        .args(["--addr", "127.0.0.1:0"])
        .env_remove("TASKD_TOKEN")
        .env_remove("TASKD_CORS_ORIGINS");
    binary::start_with_stderr_unread(command)
}

/// A keep-alive request whose access-log line is about 250 bytes: the pipe is full after
/// some 260 of them.
fn padded_head(addr: SocketAddr) -> String {
    let target = format!("/healthz?padding={}", "a".repeat(200));
    format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
}

/// `count` keep-alive requests on `kept`, each answered 200. The connection's 5 s read
/// timeout fails a frozen server instead of hanging the test.
fn requests(kept: &mut TcpStream, buffer: &mut Vec<u8>, head: &str, count: usize) {
    for at in 0..count {
        kept.write_all(head.as_bytes()).expect("send a request");
        let response = common::read_one_response(kept, buffer, false);
        assert_eq!(response.status, 200, "request {at}");
    }
}

#[test]
fn an_unread_stderr_never_stalls_requests_and_drops_are_reported() {
    let (running, addr, mut stderr) = start();
    let head = padded_head(addr);
    let mut kept = common::connect(addr);
    let mut buffer = Vec::new();
    let started = Instant::now();
    requests(&mut kept, &mut buffer, &head, 5_000);
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

/// The signal thread logs too: with the pipe full, SIGTERM still stops the server, and it
/// exits 0 within the log's flush bound instead of waiting for a reader.
#[test]
fn sigterm_ends_the_server_however_full_the_unread_pipe() {
    let (mut running, addr, stderr) = start();
    let head = padded_head(addr);
    let mut kept = common::connect(addr);
    let mut buffer = Vec::new();
    requests(&mut kept, &mut buffer, &head, 2_000);
    drop(kept);
    let pid = running.0.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success(), "kill -TERM {pid}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let code = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "taskd did not exit within 5 s");
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
    drop(stderr);
}
