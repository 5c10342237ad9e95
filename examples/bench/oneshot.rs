//! The scenarios that time one thing rather than a rate, taskd next to the baseline (taskd as of
//! `--baseline`, built in the same run) and alternating with it: startup time with the idle RSS,
//! and the big upload and download on a fresh server with their peak RSS.

use std::io;
use std::time::{Duration, Instant};

use crate::client::{self, Conn};
use crate::report::{median, mib, spread, Row, Table};
use crate::scripts::{multipart_frame, Create};
use crate::servers::Kind;
use crate::Bench;

/// Fresh processes per binary in the startup scenario.
const STARTS: usize = 5;
/// Time for a fresh server's threads to reach their first blocking call before its idle RSS is
/// read.
const SETTLE: Duration = Duration::from_millis(200);

/// What one big transfer measured.
struct Transfer {
    up: Duration,
    down: Duration,
    up_status: u16,
    down_ok: bool,
    idle_kib: u64,
    peak_up_kib: u64,
    peak_down_kib: u64,
}

impl Bench<'_> {
    /// taskd, and the baseline when it was built.
    fn taskd_and_baseline(&self) -> Vec<Kind> {
        let baseline = self.programs.path(Kind::Baseline).is_some();
        let mut kinds = vec![Kind::Taskd];
        kinds.extend(baseline.then_some(Kind::Baseline));
        kinds
    }

    /// Spawn → ready line, five fresh processes of each binary, alternating; the idle RSS of
    /// each right after. Unpinned: `taskset`'s own start would count.
    pub(crate) fn startup(&self, table: &mut Table) -> io::Result<()> {
        let kinds = self.taskd_and_baseline();
        let mut times = vec![Vec::new(); kinds.len()];
        let mut idle = vec![Vec::new(); kinds.len()];
        for _ in 0..STARTS {
            for (index, &kind) in kinds.iter().enumerate() {
                let server = self.spawn(kind, &[], false)?;
                times[index].push(server.startup.as_secs_f64() * 1e3);
                std::thread::sleep(SETTLE);
                idle[index].push(server.memory_kib()?.0 as f64);
            }
        }
        for (index, &kind) in kinds.iter().enumerate() {
            let min = times[index].iter().copied().fold(f64::INFINITY, f64::min);
            let note = format!(
                "spawn→ready min {min:.2} ms, median {:.2} ms; idle RSS median {} \
                 ({STARTS} starts, memory mode)",
                median(&times[index]),
                mib(median(&idle[index]) as u64)
            );
            table.push(Row::note("startup", &self.programs.label(kind), note));
        }
        Ok(())
    }

    /// The big upload and download on a fresh server per round, taskd and the baseline in turn.
    pub(crate) fn big(&self, table: &mut Table) -> io::Result<()> {
        let kinds = self.taskd_and_baseline();
        let mut transfers: Vec<Vec<Transfer>> = kinds.iter().map(|_| Vec::new()).collect();
        for round in 0..self.options.rounds {
            for (index, &kind) in kinds.iter().enumerate() {
                let transfer = self.transfer(kind)?;
                println!(
                    "  round {}/{} {}: up {:.2} GB/s, down {:.2} GB/s",
                    round + 1,
                    self.options.rounds,
                    self.programs.label(kind),
                    self.gbps(transfer.up),
                    self.gbps(transfer.down)
                );
                transfers[index].push(transfer);
            }
        }
        let mut medians = Vec::new();
        for (&kind, rounds) in kinds.iter().zip(&transfers) {
            medians.push(self.push_transfer(&self.programs.label(kind), rounds, table));
        }
        if let [(up, down), (base_up, base_down)] = medians[..] {
            let note = format!(
                "{} / {}: upload {:.2}×, download {:.2}×",
                self.programs.label(kinds[0]),
                self.programs.label(kinds[1]),
                up / base_up,
                down / base_down
            );
            let name = format!("{} MiB: ratio", self.options.big_bytes >> 20);
            table.push(Row::note(&name, "", note));
        }
        Ok(())
    }

    fn gbps(&self, time: Duration) -> f64 {
        self.options.big_bytes as f64 / time.as_secs_f64() / 1e9
    }

    /// The upload and download rows of one binary; returns their median GB/s.
    fn push_transfer(&self, label: &str, rounds: &[Transfer], table: &mut Table) -> (f64, f64) {
        let mib_size = self.options.big_bytes >> 20;
        let up: Vec<f64> = rounds.iter().map(|t| self.gbps(t.up)).collect();
        let down: Vec<f64> = rounds.iter().map(|t| self.gbps(t.down)).collect();
        let statuses: Vec<String> = rounds.iter().map(|t| t.up_status.to_string()).collect();
        let up_note = format!(
            "{}; status {}; peak RSS +{} over idle",
            rates_note(&up),
            statuses.join(","),
            growth(rounds, |t| t.peak_up_kib)
        );
        table.push(Row::note(&format!("{mib_size} MiB upload"), label, up_note));
        let checked = if rounds.iter().all(|t| t.down_ok) {
            "length ok"
        } else {
            "WRONG STATUS OR LENGTH"
        };
        let down_note = format!(
            "{}; {checked}; peak RSS +{} over idle",
            rates_note(&down),
            growth(rounds, |t| t.peak_down_kib)
        );
        table.push(Row::note(
            &format!("{mib_size} MiB download"),
            label,
            down_note,
        ));
        (median(&up), median(&down))
    }

    /// One upload and its download on a fresh server with the limit raised above the size,
    /// from a thread on the load's core.
    fn transfer(&self, kind: Kind) -> io::Result<Transfer> {
        let size = self.options.big_bytes;
        let limit = [
            "--max-upload-bytes".to_owned(),
            (size + (1 << 20)).to_string(),
        ];
        let server = self.spawn(kind, &limit, true)?;
        std::thread::sleep(SETTLE);
        let (idle_kib, _) = server.memory_kib()?;
        let addr = server.addr;
        let (up, up_status, id, mut conn) = self.on_load_core(|| upload(addr, size))?;
        let (_, peak_up_kib) = server.memory_kib()?;
        let (down, down_ok) = self.on_load_core(move || download(&mut conn, id, size))?;
        let (_, peak_down_kib) = server.memory_kib()?;
        Ok(Transfer {
            up,
            down,
            up_status,
            down_ok,
            idle_kib,
            peak_up_kib,
            peak_down_kib,
        })
    }
}

/// `0.85 GB/s, median of 3, 659–927 (±16%) MB/s`.
fn rates_note(gbps: &[f64]) -> String {
    let mbps: Vec<f64> = gbps.iter().map(|rate| rate * 1e3).collect();
    format!(
        "{:.2} GB/s, median of {}, {} MB/s",
        median(gbps),
        gbps.len(),
        spread(&mbps)
    )
}

/// The median growth of the RSS from idle to the `peak` of a transfer.
fn growth(rounds: &[Transfer], peak: fn(&Transfer) -> u64) -> String {
    let grown: Vec<f64> = rounds
        .iter()
        .map(|t| peak(t).saturating_sub(t.idle_kib) as f64)
        .collect();
    mib(median(&grown) as u64)
}

/// Creates a task and uploads `size` bytes to it; returns the time, the status, the task's id and
/// the connection.
pub(crate) fn upload(
    addr: std::net::SocketAddr,
    size: u64,
) -> io::Result<(Duration, u16, u64, Conn)> {
    let mut conn = Conn::connect(addr)?;
    conn.send(Create::new("bench", "big").next_bytes())?;
    conn.recv()?;
    let id = client::json_id(conn.body()).ok_or_else(|| io::Error::other("big: create"))?;
    let (head, tail) = multipart_frame("bench", id, size);
    let chunk = vec![b'x'; 1 << 20];
    let started = Instant::now();
    conn.send(head.as_bytes())?;
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        conn.send(&chunk[..n])?;
        left -= n as u64;
    }
    conn.send(tail.as_bytes())?;
    let (status, _) = conn.recv()?;
    Ok((started.elapsed(), status, id, conn))
}

/// Downloads task `id`'s attachment; returns the time and whether it was 200 with `size` bytes.
pub(crate) fn download(conn: &mut Conn, id: u64, size: u64) -> io::Result<(Duration, bool)> {
    let started = Instant::now();
    conn.send(format!("GET /tasks/{id}/attachment HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())?;
    let (status, length) = conn.recv()?;
    Ok((started.elapsed(), status == 200 && length == size))
}
