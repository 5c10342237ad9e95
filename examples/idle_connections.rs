//! How many idle keep-alive connections taskd carries while still answering others promptly.
//!
//! tiny_http spends one thread and two descriptors per open connection and has no idle timeout,
//! so idle clients cost memory and descriptors but no worker. This starts the release binary,
//! opens idle keep-alive connections in steps (each has made one request and then stays silent),
//! and at each step reports the server's resident memory and threads, and the latency a normal
//! client sees on a fresh connection and on a keep-alive one.
//!
//! `cargo build --release && cargo run --release --example idle_connections -- [STEP ...]`
//! (default steps: 0 1000 4000; the server needs two descriptors per connection, so
//! `ulimit -n` must allow them).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Sequential keep-alive requests a normal client makes at each step.
const KEEP_ALIVE_REQUESTS: usize = 2000;
/// Fresh connections (connect, one request, close) at each step.
const FRESH_CONNECTIONS: usize = 200;

fn main() {
    let steps: Vec<usize> = std::env::args()
        .skip(1)
        .map(|arg| arg.parse().expect("steps are whole numbers"))
        .collect();
    let steps = if steps.is_empty() {
        vec![0, 1000, 4000]
    } else {
        steps
    };
    let binary = std::env::var("TASKD_BIN").unwrap_or_else(|_| "target/release/taskd".to_owned());
    let (mut server, addr) = start(&binary);
    let pid = server.id();
    let mut first = TcpStream::connect(addr).expect("connect");
    let created = exchange(
        &mut first,
        b"POST /tasks HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"title\":\"probe\"}",
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");

    println!("taskd idle keep-alive connections ({binary}, pid {pid})");
    println!(
        "{:>7} {:>9} {:>8} | keep-alive GET /tasks/1 µs {:>5} {:>5} {:>6} | fresh connection µs {:>5} {:>5} {:>6}",
        "idle", "RSS KiB", "threads", "p50", "p99", "max", "p50", "p99", "max"
    );
    let mut idle = Vec::new();
    for step in steps {
        while idle.len() < step {
            let mut stream = TcpStream::connect(addr).expect("open an idle connection");
            let answer = exchange(&mut stream, b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n");
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            idle.push(stream);
        }
        std::thread::sleep(Duration::from_millis(300));
        let keep_alive = keep_alive_latencies(addr);
        let fresh = fresh_connection_latencies(addr);
        println!(
            "{:>7} {:>9} {:>8} | {:>31} {:>5} {:>6} | {:>24} {:>5} {:>6}",
            idle.len(),
            status_field(pid, "VmRSS:"),
            status_field(pid, "Threads:"),
            percentile(&keep_alive, 50),
            percentile(&keep_alive, 99),
            percentile(&keep_alive, 100),
            percentile(&fresh, 50),
            percentile(&fresh, 99),
            percentile(&fresh, 100),
        );
    }
    println!(
        "peak RSS {} KiB",
        status_field(pid, "VmHWM:").parse::<u64>().unwrap_or(0)
    );
    let _ = server.kill();
    let _ = server.wait();
}

fn start(binary: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1:0", "--quiet"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot start {binary} ({error}); run cargo build --release first")
        });
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let addr = line
        .trim_end()
        .strip_prefix("taskd listening on http://")
        .expect("ready line")
        .parse()
        .expect("address");
    (child, addr)
}

/// Sends one request and reads one response framed by `Content-Length`; returns its head.
fn exchange(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.write_all(request).expect("write");
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk).expect("read");
        assert!(read > 0, "server closed the connection");
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("Content-Length: "))
                .map_or(0, |value| value.trim().parse().expect("length"));
            if buffer.len() >= end + 4 + length {
                return head;
            }
        }
    }
}

fn keep_alive_latencies(addr: SocketAddr) -> Vec<u128> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    (0..KEEP_ALIVE_REQUESTS)
        .map(|_| {
            let started = Instant::now();
            exchange(&mut stream, b"GET /tasks/1 HTTP/1.1\r\nHost: bench\r\n\r\n");
            started.elapsed().as_micros()
        })
        .collect()
}

fn fresh_connection_latencies(addr: SocketAddr) -> Vec<u128> {
    (0..FRESH_CONNECTIONS)
        .map(|_| {
            let started = Instant::now();
            let mut stream = TcpStream::connect(addr).expect("connect");
            exchange(
                &mut stream,
                b"GET /tasks/1 HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n",
            );
            started.elapsed().as_micros()
        })
        .collect()
}

/// The `p`th percentile (100 = the maximum) of `samples`.
fn percentile(samples: &[u128], p: usize) -> u128 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let index = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or(0)
}

/// A field of `/proc/PID/status`, without its unit.
fn status_field(pid: u32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("?")
        .to_owned()
}
