//! Bursts of new connections: N threads released together by a barrier, each opening a fresh
//! connection, sending one GET and reading the answer, then keeping the connection open (as a
//! browser keeps it alive) until the whole burst is over. It reports how long each waited and
//! how many gave up after 1 s (a client timeout). A server whose accept path strands a new
//! connection behind live keep-alive ones (tiny_http's pool, see `load::open`) shows it here,
//! where the rate scenarios, which open their connections one at a time, cannot.
//!
//! Servers and clients run unpinned here, as in a deployment: with the server on one core, the
//! pool thread tiny_http wakes for a new connection preempts its accept thread before the next
//! connection is accepted, and the race that strands connections on two cores never happens.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{json_id, Conn};
use crate::report::{Row, Table};
use crate::scripts::Create;
use crate::versus::Entrant;

/// The burst sizes, in this order.
pub const SIZES: [usize; 2] = [32, 256];
/// A client that has no answer after this long gives up: a timeout.
const TIMEOUT: Duration = Duration::from_secs(1);

/// The waits of one server's bursts of one size, over all rounds.
#[derive(Default)]
struct Waits {
    /// Microseconds; a timeout counts as the full second.
    micros: Vec<f64>,
    timeouts: u64,
    /// Timeouts that happened before the connection was even established (a full backlog).
    connect_timeouts: u64,
    /// Refused, reset or malformed: a failure other than waiting too long.
    errors: u64,
    /// The longest wait of each round, in milliseconds.
    round_max_ms: Vec<f64>,
}

/// Runs `rounds` rounds of each size over every entrant in turn.
///
/// # Errors
/// When a task to GET cannot be created first; failures inside a burst are counted instead.
pub fn run(rounds: usize, entrants: &[Entrant], table: &mut Table) -> io::Result<()> {
    let mut requests = Vec::new();
    for entrant in entrants {
        let id = if entrant.has_store {
            create_one(entrant.server.addr)?
        } else {
            1
        };
        requests.push(format!("GET /tasks/{id} HTTP/1.1\r\nHost: bench\r\n\r\n").into_bytes());
    }
    for size in SIZES {
        let mut waits: Vec<Waits> = entrants.iter().map(|_| Waits::default()).collect();
        for round in 0..rounds {
            for (index, entrant) in entrants.iter().enumerate() {
                let before = waits[index].timeouts;
                burst(
                    entrant.server.addr,
                    &requests[index],
                    size,
                    &mut waits[index],
                )?;
                println!(
                    "  burst of {size}, round {}/{rounds} {}: max {:.1} ms, {} timeouts",
                    round + 1,
                    entrant.label,
                    waits[index].round_max_ms.last().copied().unwrap_or(0.0),
                    waits[index].timeouts - before
                );
            }
        }
        for (entrant, waits) in entrants.iter().zip(&mut waits) {
            table.push(row(size, rounds, &entrant.label, waits));
        }
    }
    Ok(())
}

fn row(size: usize, rounds: usize, label: &str, waits: &mut Waits) -> Row {
    waits.micros.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        let rank = ((waits.micros.len().max(1) - 1) as f64 * q).round() as usize;
        waits.micros.get(rank).copied().unwrap_or(f64::NAN)
    };
    let per_round: Vec<String> = waits
        .round_max_ms
        .iter()
        .map(|ms| format!("{ms:.1}"))
        .collect();
    let note = format!(
        "{rounds} rounds × {size} GETs; {} client timeouts (no answer within 1 s, counted as \
         1 s; {} of them still connecting), {} other errors; max per round {} ms",
        waits.timeouts,
        waits.connect_timeouts,
        waits.errors,
        per_round.join(" / ")
    );
    let latency = [quantile(0.5), quantile(0.9), quantile(0.99), quantile(1.0)];
    Row::waits(
        &format!("burst of {size} connections"),
        label,
        latency,
        waits.timeouts + waits.errors,
        note,
    )
}

/// One burst: `size` threads wait at a barrier, then each makes one exchange on a fresh
/// connection and holds it until every thread is done.
fn burst(addr: SocketAddr, request: &[u8], size: usize, waits: &mut Waits) -> io::Result<()> {
    let (start, end) = (Arc::new(Barrier::new(size)), Arc::new(Barrier::new(size)));
    let request = Arc::new(request.to_vec());
    let clients: Vec<_> = (0..size)
        .map(|_| {
            let (start, end, request) = (start.clone(), end.clone(), request.clone());
            thread::spawn(move || {
                start.wait();
                let started = Instant::now();
                let answer = exchange(addr, &request, started + TIMEOUT);
                let waited = started.elapsed();
                // Every answer has come or been given up on within 1 s, so this wait is short.
                end.wait();
                (waited, answer.map(|(status, _conn)| status))
            })
        })
        .collect();
    let mut round_max = Duration::ZERO;
    for client in clients {
        let (waited, answer) = client
            .join()
            .map_err(|_| io::Error::other("a burst thread panicked"))?;
        round_max = round_max.max(waited.min(TIMEOUT));
        waits.count(waited, answer);
    }
    waits.round_max_ms.push(round_max.as_secs_f64() * 1e3);
    Ok(())
}

impl Waits {
    fn count(&mut self, waited: Duration, answer: Result<u16, Failure>) {
        let timed_out = match &answer {
            _ if waited >= TIMEOUT => true,
            Ok(200) => {
                self.micros.push(waited.as_secs_f64() * 1e6);
                return;
            }
            Ok(_) => false,
            Err(failure) => is_timeout(&failure.error),
        };
        if !timed_out {
            self.errors += 1;
            return;
        }
        self.timeouts += 1;
        self.connect_timeouts += u64::from(matches!(
            answer,
            Err(Failure {
                connected: false,
                ..
            })
        ));
        self.micros.push(TIMEOUT.as_secs_f64() * 1e6);
    }
}

/// Why an exchange failed, and whether the connection was established first.
pub struct Failure {
    pub connected: bool,
    pub error: io::Error,
}

/// Connects, sends `request` and reads the answer's status, all by `deadline`: every socket
/// call is given the time that is left. Returns the status and the open connection.
pub fn exchange(
    addr: SocketAddr,
    request: &[u8],
    deadline: Instant,
) -> Result<(u16, Conn), Failure> {
    let failed = |connected| move |error| Failure { connected, error };
    let stream = time_left(deadline)
        .and_then(|left| TcpStream::connect_timeout(&addr, left))
        .map_err(failed(false))?;
    let mut conn = send(stream, request, deadline).map_err(failed(true))?;
    let (status, _) = conn.recv().map_err(failed(true))?;
    Ok((status, conn))
}

/// Writes `request` on a new connection whose reads and writes time out at `deadline`.
fn send(stream: TcpStream, request: &[u8], deadline: Instant) -> io::Result<Conn> {
    stream.set_nodelay(true)?;
    let left = time_left(deadline)?;
    stream.set_write_timeout(Some(left))?;
    stream.set_read_timeout(Some(left))?;
    let mut conn = Conn::from_stream(stream);
    conn.send(request)?;
    Ok(conn)
}

/// The time until `deadline`, or a `TimedOut` error when it has passed (a zero timeout would
/// mean none at all to `set_read_timeout`).
fn time_left(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero())
        .then_some(left)
        .ok_or_else(|| io::Error::from(ErrorKind::TimedOut))
}

/// A socket timeout: `TimedOut` from a connect, `WouldBlock` from a read or write (Unix).
fn is_timeout(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock)
}

/// Creates one task to GET and returns its id.
fn create_one(addr: SocketAddr) -> io::Result<u64> {
    let mut conn = Conn::connect(addr)?;
    conn.send(Create::new("bench", &format!("burst{}", std::process::id())).next_bytes())?;
    let (status, _) = conn.recv()?;
    json_id(conn.body()).ok_or_else(|| io::Error::other(format!("burst: create answered {status}")))
}
