//! Lines on stderr that never stall a request and never panic.
//!
//! Every line (the access log, the CORS hints, the `--trace` blocks, the server's own notes)
//! goes into one bounded in-memory queue, and one writer thread copies the queue to stderr. A
//! parent that pipes our stderr and never reads it (what test harnesses often do) fills the
//! pipe (64 KiB on Linux), and then a `write` blocks: before this queue, every request thread
//! blocked in its log write and taskd froze after some 1,500 requests. Now only the writer
//! blocks; once the queue is full, lines are dropped and counted, and the count is reported
//! on the next line that gets in, so a reader learns what it missed.
//!
//! `eprintln!` is not used for the same reason, and because it panics when stderr is gone (a
//! parent that died took the pipe with it): a failed write is ignored, there is no one left to
//! tell. The writer thread does not keep the process alive (Rust never waits for a spawned
//! thread); [`flush`] lets a normal shutdown write what is still queued, within a bound.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Most bytes waiting for the writer. Big enough for bursts of trace blocks to a terminal
/// that reads slower than taskd answers, small enough that a stderr nobody reads costs little
/// memory.
const MAX_QUEUED_BYTES: usize = 256 * 1024;

/// How long [`flush`] waits at most when the server stops: a normal shutdown writes its last
/// lines, and one whose stderr is never read still exits promptly.
pub const FLUSH_BOUND: Duration = Duration::from_millis(500);

/// Writes one line to stderr through the queue; the line is dropped (and counted) when the
/// queue is full.
pub fn line(text: fmt::Arguments<'_>) {
    let mut entry = text.to_string().into_bytes();
    entry.push(b'\n');
    queue().push(entry);
}

/// Waits until every line queued before this call has been written to stderr, or `bound`
/// has passed, whichever comes first.
pub fn flush(bound: Duration) {
    queue().flush(bound);
}

/// A [`Write`] into the queue: each `write` is one entry, written to stderr whole, so a
/// `--trace` block written with one `write_all` never mixes with another line. It never
/// blocks and never fails: a write that does not fit is dropped and counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct QueuedStderr;

impl Write for QueuedStderr {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        queue().push(bytes.to_vec());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the writers and the writer thread share.
#[derive(Debug, Default)]
struct State {
    entries: VecDeque<Vec<u8>>,
    /// Bytes in `entries`.
    bytes: usize,
    /// Entries dropped since the last report.
    dropped: u64,
    /// Entries ever accepted, and ever written (or failed to write): [`flush`] waits for the
    /// second to reach what the first was when it was called.
    accepted: u64,
    written: u64,
}

#[derive(Debug, Default)]
struct Queue {
    state: Mutex<State>,
    /// Signalled when an entry is accepted (the writer waits on it).
    work: Condvar,
    /// Signalled when entries are written (`flush` waits on it).
    done: Condvar,
}

/// The process's one queue; the writer thread starts with the first line.
fn queue() -> &'static Queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE.get_or_init(|| {
        // Without the thread, nothing would empty the queue and every line would be dropped;
        // that is still better than blocking a request, so a failure to start it is ignored.
        let _ = thread::Builder::new()
            .name("taskd-log".to_owned())
            .spawn(|| queue().write_forever(&mut io::stderr()));
        Queue::default()
    })
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, entry: Vec<u8>) {
        let mut state = self.lock();
        let report = (state.dropped > 0).then(|| {
            format!(
                "taskd: {} log lines dropped (stderr was not being read)\n",
                state.dropped
            )
            .into_bytes()
        });
        let needed = entry.len() + report.as_ref().map_or(0, Vec::len);
        if state.bytes + needed > MAX_QUEUED_BYTES {
            state.dropped += 1;
            return;
        }
        if let Some(report) = report {
            state.dropped = 0;
            state.accept(report);
        }
        state.accept(entry);
        drop(state);
        self.work.notify_one();
    }

    fn flush(&self, bound: Duration) {
        let deadline = Instant::now() + bound;
        let mut state = self.lock();
        let target = state.accepted;
        while state.written < target {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            state = self
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The writer thread: takes everything queued, writes it in one go outside the lock (the
    /// only place that may block on stderr), and starts again.
    fn write_forever(&self, out: &mut impl Write) {
        loop {
            let mut state = self.lock();
            while state.entries.is_empty() {
                state = self
                    .work
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let taken = state.entries.len() as u64;
            let mut batch = Vec::with_capacity(state.bytes);
            for entry in state.entries.drain(..) {
                batch.extend_from_slice(&entry);
            }
            drop(state);
            let _ = out.write_all(&batch).and_then(|()| out.flush());
            // The bytes count only once written: a blocked write keeps the queue full, so a
            // stderr nobody reads costs at most MAX_QUEUED_BYTES plus the batch in hand.
            let mut state = self.lock();
            state.bytes -= batch.len();
            state.written += taken;
            drop(state);
            self.done.notify_all();
        }
    }
}

impl State {
    fn accept(&mut self, entry: Vec<u8>) {
        self.bytes += entry.len();
        self.accepted += 1;
        self.entries.push_back(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_the_next_line_that_fits_reports_the_count() {
        let queue = Queue::default();
        let line = vec![b'x'; 1024];
        for _ in 0..(MAX_QUEUED_BYTES / 1024 + 3) {
            queue.push(line.clone());
        }
        assert_eq!(queue.lock().dropped, 3);
        let mut out = Vec::new();
        // One pass of the writer, by hand: empty the queue as `write_forever` does.
        {
            let mut state = queue.lock();
            for entry in state.entries.drain(..) {
                out.extend_from_slice(&entry);
            }
            state.bytes = 0;
        }
        queue.push(b"next\n".to_vec());
        let state = queue.lock();
        let texts: Vec<&[u8]> = state.entries.iter().map(Vec::as_slice).collect();
        assert_eq!(
            texts,
            [
                &b"taskd: 3 log lines dropped (stderr was not being read)\n"[..],
                b"next\n"
            ]
        );
        assert_eq!(state.dropped, 0);
        assert_eq!(out.len(), MAX_QUEUED_BYTES);
    }

    #[test]
    fn flush_returns_within_its_bound_when_nothing_writes() {
        let queue = Queue::default();
        queue.push(b"never written\n".to_vec());
        let started = Instant::now();
        queue.flush(Duration::from_millis(50));
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
