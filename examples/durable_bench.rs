//! Load generator for durable mode: create throughput in memory vs `--data-dir` (same machine,
//! same run), and the start time of a data directory holding many tasks.
//!
//! ```sh
//! cargo run --release --example durable_bench -- --seconds 10 --clients 16
//! cargo run --release --example durable_bench -- --startup 1000000 --dir /tmp/taskd-1m
//! ```
//!
//! The first starts a server on port 0 through the library for each mode, runs N keep-alive
//! client threads that POST /tasks with unique titles for a fixed time, and prints creates per
//! second. The second fills DIR through the store (concurrent creates, so group commit makes it
//! quick) unless it already holds tasks, then times `Server::bind` on it: replaying the journal.

// The benchmark's keep-alive client, shared; not every function is used here.
#[allow(dead_code)]
#[path = "bench/client.rs"]
mod client;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use taskd::test_hooks::{durable, ListQuery, Storage};
use taskd::test_hooks::{NewTask, Priority};
use taskd::{Config, Server};

use client::Conn;

struct Options {
    seconds: u64,
    clients: usize,
    startup: Option<u64>,
    dir: Option<PathBuf>,
}

fn parse() -> Options {
    let mut options = Options {
        seconds: 10,
        clients: 16,
        startup: None,
        dir: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--seconds" => options.seconds = value.parse().expect("--seconds N"),
            "--clients" => options.clients = value.parse().expect("--clients N"),
            "--startup" => options.startup = Some(value.parse().expect("--startup N")),
            "--dir" => options.dir = Some(value.into()),
            _ => panic!("unknown flag {flag}"),
        }
    }
    options
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("taskd-bench-{name}-{}", std::process::id()))
}

/// Creates per second against `addr` with `clients` keep-alive connections.
fn load(addr: SocketAddr, clients: usize, seconds: u64, tag: &str) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let (stop, done, tag) = (stop.clone(), done.clone(), tag.to_owned());
            thread::spawn(move || {
                let mut conn = Conn::connect(addr).expect("connect");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = format!("{{\"title\":\"{tag}-{client}-{n}\"}}");
                    let request = format!(
                        "POST /tasks HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    conn.send(request.as_bytes()).expect("write");
                    let (status, _) = conn.recv().expect("read");
                    assert_eq!(status, 201);
                    n += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let count = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for thread in threads {
        thread.join().expect("client");
    }
    count as f64 / elapsed
}

fn throughput(options: &Options) {
    let memory = Config::ephemeral();
    let dir = temp_dir("throughput");
    let _ = std::fs::remove_dir_all(&dir);
    let durable = memory.clone().with_data_dir(dir.clone());
    for (name, config) in [("memory", memory), ("durable", durable)] {
        let handle = Server::bind(config).expect("bind").spawn();
        let rate = load(handle.addr(), options.clients, options.seconds, name);
        handle.shutdown();
        println!(
            "{name:>8}: {rate:>9.0} creates/s ({} clients, {} s)",
            options.clients, options.seconds
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn startup(options: &Options, tasks: u64) {
    let dir = options.dir.clone().unwrap_or_else(|| temp_dir("startup"));
    {
        let store: Arc<dyn Storage> = Arc::from(durable::open(&dir).expect("open"));
        let have = store.list(&ListQuery {
            done: None,
            priority: None,
            skip: tasks.saturating_sub(1),
            limit: 1,
        });
        if have.expect("a list of a data dir").tasks.is_empty() {
            let started = Instant::now();
            let next = Arc::new(AtomicU64::new(0));
            let fillers: Vec<_> = (0..64)
                .map(|_| {
                    let (store, next) = (store.clone(), next.clone());
                    thread::spawn(move || loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= tasks {
                            return;
                        }
                        let new = NewTask {
                            title: format!("Task number {n}"),
                            priority: Priority::Medium,
                            done: n % 3 == 0,
                        };
                        store.create(new).expect("create");
                    })
                })
                .collect();
            for filler in fillers {
                filler.join().expect("filler");
            }
            println!(
                "filled {} with {tasks} tasks in {:.1} s",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let size: u64 = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let config = Config::ephemeral().with_data_dir(dir.clone());
    let started = Instant::now();
    let server = Server::bind(config).expect("bind");
    let elapsed = started.elapsed();
    println!(
        "startup with {tasks} tasks ({} MB on disk): Server::bind took {:.2} s",
        size / 1_000_000,
        elapsed.as_secs_f64()
    );
    drop(server);
}

fn main() {
    let options = parse();
    match options.startup {
        Some(tasks) => startup(&options, tasks),
        None => throughput(&options),
    }
}
