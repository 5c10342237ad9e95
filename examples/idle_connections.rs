//! How many idle keep-alive connections taskd carries while still answering others promptly.
//!
//! taskd spends a thread and descriptors on every open connection (tiny_http's connection
//! threads today, its own connection threads with issue 11), so idle clients cost memory and
//! descriptors, and they must not cost anyone else an answer. This starts the release binary,
//! opens idle keep-alive connections in steps (each has made one request and then stays silent),
//! and at each step reports the server's resident memory and threads, and the latency a normal
//! client sees on a fresh connection and on a keep-alive one.
//!
//! `cargo build --release && cargo run --release --example idle_connections -- [STEP ...]`
//! (default steps: 0 1000 4000; the server needs two descriptors per connection, so
//! `ulimit -n` must allow them). `TASKD_BIN` names another binary.

// The benchmark's process and client modules, shared; not every function is used here.
#[allow(dead_code)]
#[path = "bench/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "bench/process.rs"]
mod process;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use client::Conn;
use process::ServerProcess;

/// Sequential keep-alive requests a normal client makes at each step.
const KEEP_ALIVE_REQUESTS: usize = 2000;
/// Fresh connections (connect, one request, close) at each step.
const FRESH_CONNECTIONS: usize = 200;

const GET_TASK: &[u8] = b"GET /tasks/1 HTTP/1.1\r\nHost: bench\r\n\r\n";

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
    let binary = PathBuf::from(
        std::env::var("TASKD_BIN").unwrap_or_else(|_| "target/release/taskd".to_owned()),
    );
    let server = ServerProcess::spawn(&binary, &["--quiet".to_owned()])
        .unwrap_or_else(|error| panic!("{error}; run cargo build --release first"));
    let addr = server.addr;
    let created = exchange(
        addr,
        b"POST /tasks HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"title\":\"probe\"}",
    );
    assert_eq!(created, 201);

    println!("taskd idle keep-alive connections ({})", binary.display());
    println!(
        "{:>7} {:>9} {:>8} | keep-alive GET /tasks/1 µs {:>5} {:>5} {:>6} | fresh connection µs {:>5} {:>5} {:>6}",
        "idle", "RSS KiB", "threads", "p50", "p99", "max", "p50", "p99", "max"
    );
    let mut idle = Vec::new();
    for step in steps {
        while idle.len() < step {
            let mut conn = Conn::connect(addr).expect("open an idle connection");
            conn.send(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
                .expect("write");
            assert_eq!(conn.recv().expect("read").0, 200);
            idle.push(conn);
        }
        std::thread::sleep(Duration::from_millis(300));
        let keep_alive = keep_alive_latencies(addr);
        let fresh: Vec<u128> = (0..FRESH_CONNECTIONS)
            .map(|_| {
                let started = Instant::now();
                exchange(addr, GET_TASK);
                started.elapsed().as_micros()
            })
            .collect();
        let field = |name| server.status_field(name).unwrap_or(0);
        println!(
            "{:>7} {:>9} {:>8} | {:>31} {:>5} {:>6} | {:>24} {:>5} {:>6}",
            idle.len(),
            field("VmRSS:"),
            field("Threads:"),
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
        server.status_field("VmHWM:").unwrap_or(0)
    );
}

/// One request on a fresh connection; returns the status.
fn exchange(addr: SocketAddr, request: &[u8]) -> u16 {
    let mut conn = Conn::connect(addr).expect("connect");
    conn.send(request).expect("write");
    conn.recv().expect("read").0
}

fn keep_alive_latencies(addr: SocketAddr) -> Vec<u128> {
    let mut conn = Conn::connect(addr).expect("connect");
    (0..KEEP_ALIVE_REQUESTS)
        .map(|_| {
            let started = Instant::now();
            conn.send(GET_TASK).expect("write");
            conn.recv().expect("read");
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
