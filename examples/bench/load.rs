//! The closed-loop driver: T threads, each owning C / T keep-alive connections. A thread writes
//! one request on each of its connections, then reads the answers in the same order, and
//! repeats until the time is up — so every connection always has one request in flight, like
//! wrk's, without an event loop or a dependency. Latency is measured per request, from just
//! before its write to the end of its response. Each thread reads its own CPU time at the start
//! and end of the measured interval, and the server's is read around it, so a figure comes
//! with the share of a core that each side used.

use std::io;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::Conn;
use crate::cpu;

/// What one connection sends next and what it expects back.
pub trait Script: Send {
    /// Runs once on the connection before the clock starts (e.g. creates the task to upload to).
    fn prepare(&mut self, _conn: &mut Conn) -> io::Result<()> {
        Ok(())
    }
    /// The next request's bytes.
    fn request(&mut self) -> &[u8];
    /// Checks a response; `false` counts as an error.
    fn expect(&mut self, status: u16, body: &[u8]) -> bool;
}

/// How to drive one scenario.
#[derive(Clone, Copy)]
pub struct Load {
    pub addr: SocketAddr,
    pub threads: usize,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// The core the client threads run on (`--cpus`), if pinned.
    pub pin: Option<usize>,
    /// The server's process, whose CPU time is read around the measurement, when it is ours.
    pub server_pid: Option<u32>,
}

/// What one scenario measured (after the warm-up).
#[derive(Default)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    /// Request bytes written, for MB/s of uploads.
    pub bytes_sent: u64,
    pub elapsed: Duration,
    /// Latencies in nanoseconds, sorted.
    pub latencies: Vec<u64>,
    /// CPU ticks the client threads spent while measuring.
    pub client_ticks: u64,
    /// CPU ticks the server spent while measuring, when its process is ours.
    pub server_ticks: Option<u64>,
}

impl Stats {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q`-quantile latency (0.5 = p50), in microseconds.
    pub fn percentile_us(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[rank] as f64 / 1000.0
    }

    /// The client's and the server's CPU as percentages of one core, e.g. `load CPU 98%,
    /// server CPU 100%`.
    pub fn cpu_note(&self) -> String {
        let client = cpu::share(self.client_ticks, self.elapsed);
        match self.server_ticks {
            Some(ticks) => format!(
                "load CPU {client:.0}%, server CPU {:.0}%",
                cpu::share(ticks, self.elapsed)
            ),
            None => format!("load CPU {client:.0}%"),
        }
    }

    fn merge(&mut self, other: Stats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.bytes_sent += other.bytes_sent;
        self.elapsed = self.elapsed.max(other.elapsed);
        self.latencies.extend(other.latencies);
        self.client_ticks += other.client_ticks;
    }
}

/// Runs the scenario: `make(i)` builds connection i's script.
///
/// # Errors
/// A connection that fails (refused, reset, EOF) fails the scenario.
pub fn run<S: Script + 'static>(load: Load, make: impl Fn(usize) -> S) -> io::Result<Stats> {
    let threads = load.threads.clamp(1, load.connections.max(1));
    let mut groups: Vec<Vec<(Conn, S)>> = (0..threads).map(|_| Vec::new()).collect();
    for index in 0..load.connections.max(1) {
        groups[index % threads].push(open(load.addr, make(index))?);
    }
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let deadline = measure_from + load.duration;
    let pin = load.pin;
    let workers: Vec<_> = groups
        .into_iter()
        .map(|lanes| thread::spawn(move || drive(lanes, pin, measure_from, deadline)))
        .collect();
    thread::sleep(measure_from.saturating_duration_since(Instant::now()));
    let server_before = load.server_pid.map(cpu::process_ticks).transpose()?;
    let mut total = Stats::default();
    for worker in workers {
        let stats = worker
            .join()
            .map_err(|_| io::Error::other("a client thread panicked"))??;
        total.merge(stats);
    }
    if let (Some(pid), Some(before)) = (load.server_pid, server_before) {
        total.server_ticks = Some(cpu::process_ticks(pid)?.saturating_sub(before));
    }
    total.latencies.sort_unstable();
    Ok(total)
}

/// Connects, prepares, and completes one untimed exchange before the next connection is made.
///
/// One at a time, because tiny_http 0.12 (the baseline) can strand connections that arrive in a burst: its
/// connection pool (`util/task_pool.rs`) queues a new connection instead of starting a thread
/// whenever its `waiting_tasks` counter says a thread is idle, and that counter still counts a
/// thread that was already notified for the previous connection. The queued connection then
/// waits until some keep-alive connection closes — forever, in a benchmark.
pub fn open<S: Script>(addr: SocketAddr, mut script: S) -> io::Result<(Conn, S)> {
    let mut conn = Conn::connect(addr)?;
    script.prepare(&mut conn)?;
    conn.send(script.request())?;
    let (status, _) = conn.recv()?;
    if !script.expect(status, conn.body()) {
        return Err(io::Error::other(format!(
            "first exchange answered {status}"
        )));
    }
    Ok((conn, script))
}

fn drive<S: Script>(
    mut lanes: Vec<(Conn, S)>,
    pin: Option<usize>,
    measure_from: Instant,
    deadline: Instant,
) -> io::Result<Stats> {
    if let Some(core) = pin {
        cpu::pin_current_thread(core)?;
    }
    let mut stats = Stats {
        latencies: Vec::with_capacity(1 << 20),
        ..Stats::default()
    };
    let mut sent_at = vec![measure_from; lanes.len()];
    let mut ticks_at_start = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let counting = now >= measure_from;
        if counting && ticks_at_start.is_none() {
            ticks_at_start = Some(cpu::thread_ticks()?);
        }
        let measured = counting.then_some(&mut stats);
        one_request_each(&mut lanes, &mut sent_at, measured)?;
    }
    stats.elapsed = Instant::now().saturating_duration_since(measure_from);
    if let Some(start) = ticks_at_start {
        stats.client_ticks = cpu::thread_ticks()?.saturating_sub(start);
    }
    Ok(stats)
}

/// Writes one request on every lane, then reads the answers in order; counts them into `stats`
/// when measuring.
fn one_request_each<S: Script>(
    lanes: &mut [(Conn, S)],
    sent_at: &mut [Instant],
    mut stats: Option<&mut Stats>,
) -> io::Result<()> {
    for ((conn, script), sent) in lanes.iter_mut().zip(sent_at.iter_mut()) {
        let request = script.request();
        if let Some(stats) = stats.as_deref_mut() {
            stats.bytes_sent += request.len() as u64;
        }
        *sent = Instant::now();
        conn.send(request)?;
    }
    for ((conn, script), sent) in lanes.iter_mut().zip(sent_at.iter()) {
        let (status, _) = conn.recv()?;
        let done = Instant::now();
        let ok = script.expect(status, conn.body());
        if let Some(stats) = stats.as_deref_mut() {
            stats.requests += 1;
            stats.errors += u64::from(!ok);
            stats.latencies.push((done - *sent).as_nanos() as u64);
        }
    }
    Ok(())
}
