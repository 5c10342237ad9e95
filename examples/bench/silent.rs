//! Clients that never read, then many idle connections, against taskd: 16 clients with a 4 KiB
//! receive buffer each ask for a 16 MiB attachment and never read it, so the server's writes
//! stall once the socket buffers are full; then `--idle` connections are opened and left silent
//! (a fresh connection that has sent nothing is idle, CONTRACT §13). Meanwhile a newcomer opens
//! a fresh connection every 200 ms and asks `GET /healthz`. Last, after taskd's `--io-timeout`
//! has passed, the server's thread count shows whether the silent clients' threads are gone.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::net::{sockopt, AddressFamily, SocketType};

use crate::burst::exchange;
use crate::client::{self, Conn};
use crate::process::ServerProcess;
use crate::report::{Row, Table};
use crate::scripts::{multipart_frame, Create};
use crate::Bench;

const SILENT_CLIENTS: usize = 16;
const ATTACHMENT_BYTES: u64 = 16 << 20;
/// The silent clients' `SO_RCVBUF` (Linux doubles it): small, so the server's writes stall early.
const RECEIVE_BUFFER: usize = 4096;
const PROBE_EVERY: Duration = Duration::from_millis(200);
/// A newcomer waits this long at most: over 1 s is already a failure, and the run stays bounded.
const PROBE_GIVES_UP: Duration = Duration::from_secs(2);
/// Opening the idle connections stops after this long, whatever the count.
const IDLE_OPENING_LIMIT: Duration = Duration::from_secs(20);

/// What the scenario saw.
struct Observed {
    /// Each newcomer's wait, `None` for one without a 200 within 2 s.
    waits: Vec<Option<Duration>>,
    /// Idle connections that could not be opened.
    refused: usize,
    /// The server's threads before the silent clients, with them and the idle connections,
    /// and after the io timeout.
    threads: [u64; 3],
}

/// Runs the scenario on a fresh taskd, with `--io-timeout` when its `--help` lists the flag.
///
/// # Errors
/// When the server cannot start or the attachment cannot be uploaded.
pub fn run(bench: &Bench<'_>, table: &mut Table) -> io::Result<()> {
    let (idle, io_timeout) = (bench.options.idle, bench.options.io_timeout);
    let mut args = Vec::new();
    if bench.programs.taskd_has("--io-timeout") {
        args = vec!["--io-timeout".to_owned(), io_timeout.to_string()];
    } else {
        let note = format!(
            "taskd --help lists no --io-timeout: started without it, waited {io_timeout} s anyway"
        );
        table.push(Row::note("silent: --io-timeout", "taskd", note));
    }
    // Unpinned, like a real deployment: this is about who gets answered, not how fast.
    let server = bench.taskd(&args, false)?;
    let observed = observe(&server, idle, Duration::from_secs(io_timeout))?;
    table.push(newcomer_row(idle, &observed.waits));
    let opened = idle - observed.refused.min(idle);
    let note = format!(
        "{opened} of {idle} opened ({} not connected within 1 s)",
        observed.refused
    );
    table.push(Row::note("silent: idle connections", "taskd", note));
    let [before, loaded, after] = observed.threads;
    let verdict = if after.saturating_sub(before) < SILENT_CLIENTS as u64 {
        "the silent clients' threads are gone"
    } else {
        "the silent clients' threads are still there"
    };
    let note = format!(
        "{before} before, {loaded} with the silent and idle connections, {after} at \
         --io-timeout + 3 s with the idle ones closed by us: {verdict}"
    );
    table.push(Row::note("silent: server threads", "taskd", note));
    Ok(())
}

/// The scenario's steps, with the newcomer asking from the silent clients' requests until the
/// idle connections have been open for 2 s.
fn observe(server: &ServerProcess, idle: usize, io_timeout: Duration) -> io::Result<Observed> {
    let addr = server.addr;
    let id = upload_attachment(addr)?;
    let threads_before = server.status_field("Threads:")?;
    let silent_since = Instant::now();
    let silent = (0..SILENT_CLIENTS)
        .map(|_| silent_client(addr, id))
        .collect::<io::Result<Vec<_>>>()?;
    let newcomer = Newcomer::start(addr);
    thread::sleep(Duration::from_secs(1));
    let (idle, refused) = open_idle(addr, idle);
    thread::sleep(Duration::from_secs(2));
    let waits = newcomer.stop();
    let threads_loaded = server.status_field("Threads:")?;
    drop(idle);
    // The idle connections' threads end at EOF; the silent clients' only by the timeout.
    let past_timeout = silent_since + io_timeout + Duration::from_secs(3);
    let settled = Instant::now() + Duration::from_secs(2);
    thread::sleep(
        past_timeout
            .max(settled)
            .saturating_duration_since(Instant::now()),
    );
    let threads_after = server.status_field("Threads:")?;
    drop(silent);
    Ok(Observed {
        waits,
        refused,
        threads: [threads_before, threads_loaded, threads_after],
    })
}

/// Creates a task and uploads a 16 MiB attachment to it; returns the task's id.
fn upload_attachment(addr: SocketAddr) -> io::Result<u64> {
    let mut conn = Conn::connect(addr)?;
    conn.send(Create::new("bench", &format!("silent{}", std::process::id())).next_bytes())?;
    conn.recv()?;
    let id = client::json_id(conn.body()).ok_or_else(|| io::Error::other("silent: create"))?;
    let (head, tail) = multipart_frame("bench", id, ATTACHMENT_BYTES);
    conn.send(head.as_bytes())?;
    conn.send(&vec![b'x'; ATTACHMENT_BYTES as usize])?;
    conn.send(tail.as_bytes())?;
    match conn.recv()? {
        (200, _) => Ok(id),
        (status, _) => Err(io::Error::other(format!(
            "silent: upload answered {status}"
        ))),
    }
}

/// A connection with a small receive buffer that asks for the attachment and never reads.
/// The buffer is set before `connect`, because the window scale is fixed by the SYN
/// (RFC 7323 §2.2).
fn silent_client(addr: SocketAddr, id: u64) -> io::Result<TcpStream> {
    let family = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let socket = rustix::net::socket(family, SocketType::STREAM, None)?;
    sockopt::set_socket_recv_buffer_size(&socket, RECEIVE_BUFFER)?;
    rustix::net::connect(&socket, &addr)?;
    let mut stream = TcpStream::from(socket);
    write!(
        stream,
        "GET /tasks/{id}/attachment HTTP/1.1\r\nHost: bench\r\n\r\n"
    )?;
    Ok(stream)
}

/// Opens up to `count` connections that send nothing; returns them and how many failed to
/// connect within 1 s. Stops early when 20 s have passed or 50 connects failed.
fn open_idle(addr: SocketAddr, count: usize) -> (Vec<TcpStream>, usize) {
    let started = Instant::now();
    let mut open = Vec::with_capacity(count);
    let mut failed = 0;
    while open.len() + failed < count {
        if started.elapsed() > IDLE_OPENING_LIMIT || failed >= 50 {
            failed = count - open.len();
            break;
        }
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(stream) => open.push(stream),
            Err(_) => failed += 1,
        }
    }
    (open, failed)
}

/// The newcomer's thread: a fresh connection and `GET /healthz` every 200 ms until stopped.
struct Newcomer {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<Vec<Option<Duration>>>,
}

impl Newcomer {
    fn start(addr: SocketAddr) -> Newcomer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let request = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n";
            let mut waits = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let started = Instant::now();
                let answer = exchange(addr, request, started + PROBE_GIVES_UP);
                let waited = started.elapsed();
                let answered = matches!(answer, Ok((200, _))) && waited < PROBE_GIVES_UP;
                waits.push(answered.then_some(waited));
                thread::sleep(PROBE_EVERY.saturating_sub(waited));
            }
            waits
        });
        Newcomer { stop, thread }
    }

    /// Each newcomer's wait, `None` for one that had no 200 within 2 s.
    fn stop(self) -> Vec<Option<Duration>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

fn newcomer_row(idle: usize, waits: &[Option<Duration>]) -> Row {
    let mut micros: Vec<f64> = waits
        .iter()
        .map(|wait| wait.unwrap_or(PROBE_GIVES_UP).as_secs_f64() * 1e6)
        .collect();
    micros.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        let rank = ((micros.len().max(1) - 1) as f64 * q).round() as usize;
        micros.get(rank).copied().unwrap_or(f64::NAN)
    };
    let unanswered = waits.iter().filter(|wait| wait.is_none()).count();
    let over = micros.iter().filter(|&&us| us > 1e6).count();
    let note = format!(
        "{} newcomers, one every 200 ms, while {SILENT_CLIENTS} clients did not read and then \
         {idle} idle connections opened: {over} over 1 s, {unanswered} of them without a 200 \
         within 2 s (counted as 2 s)",
        waits.len()
    );
    let latency = [quantile(0.5), quantile(0.9), quantile(0.99), quantile(1.0)];
    Row::waits(
        "silent: newcomer GET /healthz",
        "taskd",
        latency,
        unanswered as u64,
        note,
    )
}
