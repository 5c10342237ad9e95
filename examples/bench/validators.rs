//! The scenarios of issue 12 (CONTRACT §11), each a race of lanes measured in alternating rounds:
//! - `conditional`: `GET /tasks/{id}` answered 200 on taskd and on the baseline (`--baseline
//!   REV`, e.g. the previous commit), and answered 304 (`If-None-Match: <its tag>`) on taskd:
//!   the 200 should cost about what it did before, and a 304 less than its 200;
//! - `pages`: a list page (`limit=100`, 64 skips across the list) with `--scale-tasks` tasks in
//!   the store, taskd next to the baseline (`X-Total-Count` is O(1), so about the same);
//! - `range`: 1 MiB ranges (64 offsets) of a `--big-mib` attachment in a `--data-dir` next to
//!   whole downloads of 64 attachments of 1 MiB on the same server (a range streams only its
//!   bytes, so it should cost about what a download of its size does).

use std::io;
use std::sync::Arc;

use taskd::test_hooks::EntityTag;

use crate::client::{self, Conn};
use crate::load;
use crate::process::ServerProcess;
use crate::report::{Row, Table};
use crate::scripts::{multipart_frame, populate, Create, Get};
use crate::servers::Kind;
use crate::versus::{get_requests, push_with, Outcome};
use crate::Bench;

/// Tasks revalidated in the conditional scenario (the generator cycles over them).
const TAGGED: usize = 256;
/// The size of a range, and of the small attachments it is compared with.
const MIB: u64 = 1 << 20;
/// Range offsets across the big attachment, and small attachments.
const WINDOWS: u64 = 64;

/// Pre-built requests, shared by every connection of a lane.
type Requests = Arc<Vec<Vec<u8>>>;

/// One lane of a race: a server and the requests sent to it, all expecting one status.
struct Lane<'a> {
    label: String,
    server: &'a ServerProcess,
    requests: Requests,
    status: u16,
}

/// Measures every lane once per round, in turn, for `--rounds` rounds.
fn race(bench: &Bench<'_>, lanes: &[Lane<'_>]) -> io::Result<Vec<Outcome>> {
    let mut outcomes: Vec<Outcome> = lanes
        .iter()
        .map(|lane| Outcome::unmeasured(&lane.label))
        .collect();
    let count = bench.options.rounds;
    for round in 0..count {
        // Each round starts at the next lane, so no lane always follows the same one (on a
        // loaded machine the first of a round measured low whichever it was).
        for turn in 0..lanes.len() {
            let index = (round + turn) % lanes.len();
            let (lane, outcome) = (&lanes[index], &mut outcomes[index]);
            let stats = load::run(bench.load(lane.server), |connection| {
                Get::new(lane.requests.clone(), connection).expecting(lane.status)
            })?;
            let (rate, cpu) = (stats.rate(), stats.cpu_note());
            println!(
                "  round {}/{count} {}: {rate:.0} req/s, {cpu}",
                round + 1,
                lane.label
            );
            outcome.rounds.push(stats);
        }
    }
    Ok(outcomes)
}

impl Bench<'_> {
    /// The baseline, when it was built, pinned like taskd.
    fn baseline_server(&self) -> io::Result<Option<ServerProcess>> {
        match self.programs.path(Kind::Baseline) {
            Some(_) => self.spawn(Kind::Baseline, &[], true).map(Some),
            None => Ok(None),
        }
    }

    /// `conditional`: taskd's 200 next to the baseline's, and taskd's 304.
    pub(crate) fn conditional(&self, table: &mut Table) -> io::Result<()> {
        let taskd = self.taskd(&[], true)?;
        let ids = populate(taskd.addr, "bench", "cond", self.options.tasks)?;
        let (plain, revalidate) = tagged_requests(&taskd, &ids)?;
        let mut lanes = vec![lane("taskd 200", &taskd, plain.clone(), 200)];
        let baseline = self.baseline_server()?;
        if let Some(server) = &baseline {
            populate(server.addr, "bench", "cond", self.options.tasks)?;
            let label = format!("{} 200", self.programs.label(Kind::Baseline));
            lanes.push(lane(&label, server, plain, 200));
        }
        lanes.push(lane("taskd 304", &taskd, revalidate, 304));
        let outcomes = race(self, &lanes)?;
        push_with("GET /tasks/{id}", &outcomes, table, |_| String::new());
        if let (Some(ok), Some(not_modified)) = (outcomes.first(), outcomes.last()) {
            let note = format!(
                "taskd 304 / taskd 200 = {:.2}×",
                not_modified.rate() / ok.rate()
            );
            table.push(Row::note("GET /tasks/{id}: 304", "", note));
        }
        Ok(())
    }

    /// `pages`: `GET /tasks?skip=..&limit=100` at `--scale-tasks` tasks, taskd next to the
    /// baseline.
    pub(crate) fn pages(&self, table: &mut Table) -> io::Result<()> {
        let count = self.options.scale_tasks;
        let taskd = self.taskd(&[], true)?;
        populate(taskd.addr, "bench", "page", count)?;
        let targets =
            (0..64u64).map(|i| format!("/tasks?skip={}&limit=100", i * (count - 100) / 63));
        let requests = Get::requests("bench", targets);
        let mut lanes = vec![lane("taskd", &taskd, requests.clone(), 200)];
        let baseline = self.baseline_server()?;
        if let Some(server) = &baseline {
            populate(server.addr, "bench", "page", count)?;
            let label = self.programs.label(Kind::Baseline);
            lanes.push(lane(&label, server, requests, 200));
        }
        let outcomes = race(self, &lanes)?;
        push_with(&format!("list page @{count}"), &outcomes, table, |_| {
            String::new()
        });
        Ok(())
    }

    /// `range`: 1 MiB ranges of a `--big-mib` durable attachment vs a whole 1 MiB download.
    pub(crate) fn range(&self, table: &mut Table) -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("taskd-bench-range-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let size = self.options.big_bytes.max(2 * MIB);
        let args = [
            "--data-dir".to_owned(),
            dir.to_string_lossy().into_owned(),
            "--max-upload-bytes".to_owned(),
            (size + MIB).to_string(),
        ];
        let result = (|| {
            let taskd = self.taskd(&args, true)?;
            let big = self.on_load_core(|| attach(taskd.addr, size, "big"))?;
            // As many 1 MiB files as there are range offsets: both lanes read 64 MiB of files
            // over and over, so neither has the smaller working set.
            let small: Vec<u64> = (0..WINDOWS)
                .map(|n| self.on_load_core(|| attach(taskd.addr, MIB, &format!("small{n}"))))
                .collect::<io::Result<_>>()?;
            let windows = (0..WINDOWS).map(|i| i * (size - MIB) / (WINDOWS - 1));
            let ranges = windows.map(|first| {
                format!(
                    "GET /tasks/{big}/attachment HTTP/1.1\r\nHost: bench\r\nRange: bytes={first}-{}\r\n\r\n",
                    first + MIB - 1
                )
                .into_bytes()
            });
            let targets = small.iter().map(|id| format!("/tasks/{id}/attachment"));
            let whole = Get::requests("bench", targets);
            let lanes = [
                lane("taskd 1 MiB range", &taskd, Arc::new(ranges.collect()), 206),
                lane("taskd 1 MiB download", &taskd, whole, 200),
            ];
            let outcomes = race(self, &lanes)?;
            let name = format!("1 MiB of {} MiB, durable", size >> 20);
            push_with(&name, &outcomes, table, |stats| {
                format!("{:.0} MB/s; ", stats.rate() * MIB as f64 / 1e6)
            });
            Ok(())
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result
    }
}

fn lane<'a>(
    label: &str,
    server: &'a ServerProcess,
    requests: Arc<Vec<Vec<u8>>>,
    status: u16,
) -> Lane<'a> {
    Lane {
        label: label.to_owned(),
        server,
        requests,
        status,
    }
}

/// The plain GETs of up to [`TAGGED`] of `ids`, and the same with `If-None-Match: <its tag>`;
/// the tag is computed from the body as the server computes it.
fn tagged_requests(server: &ServerProcess, ids: &[u64]) -> io::Result<(Requests, Requests)> {
    let step = (ids.len() / TAGGED).max(1);
    let chosen: Vec<u64> = ids.iter().step_by(step).copied().collect();
    let mut conn = Conn::connect(server.addr)?;
    let mut revalidate = Vec::with_capacity(chosen.len());
    for id in &chosen {
        conn.send(format!("GET /tasks/{id} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())?;
        let (status, _) = conn.recv()?;
        if status != 200 {
            return Err(io::Error::other(format!("GET /tasks/{id}: {status}")));
        }
        let tag = EntityTag::for_task(conn.body());
        let request = format!(
            "GET /tasks/{id} HTTP/1.1\r\nHost: bench\r\nIf-None-Match: {}\r\n\r\n",
            tag.as_str()
        );
        revalidate.push(request.into_bytes());
    }
    Ok((get_requests(&chosen), Arc::new(revalidate)))
}

/// Creates a task titled after `name` and uploads `size` bytes to it; returns its id.
fn attach(addr: std::net::SocketAddr, size: u64, name: &str) -> io::Result<u64> {
    let mut conn = Conn::connect(addr)?;
    conn.send(Create::new("bench", &format!("range-{name}")).next_bytes())?;
    conn.recv()?;
    let id = client::json_id(conn.body()).ok_or_else(|| io::Error::other("range: create"))?;
    let (head, tail) = multipart_frame("bench", id, size);
    conn.send(head.as_bytes())?;
    let chunk = vec![b'r'; MIB as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB) as usize;
        conn.send(&chunk[..n])?;
        left -= n as u64;
    }
    conn.send(tail.as_bytes())?;
    match conn.recv()? {
        (200, _) => Ok(id),
        (status, _) => Err(io::Error::other(format!("range: upload answered {status}"))),
    }
}
