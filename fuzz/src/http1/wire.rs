//! The client's side of one connection, scripted: its bytes handed out by reads of scripted
//! sizes (cycled), so the same stream can be read whole or in any split; what the layer writes
//! is kept. It is the [`Wire`] the real `http1::Connection` runs on here: no socket, no clock,
//! and never a timeout (the client has sent everything; it only trickles).

use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http1::Wire;

/// What the wire and the model service both see: where the connection is in the stream, and
/// what the layer did that only the wire notices.
#[derive(Debug, Default)]
pub struct Journal {
    /// Where in the stream the unconsumed bytes start.
    pub offset: usize,
    /// Whether the layer closed politely (`Wire::linger`) since the last request began.
    pub lingered: bool,
}

/// A shared [`Journal`].
pub type Shared = Arc<Mutex<Journal>>;

pub fn lock(journal: &Shared) -> std::sync::MutexGuard<'_, Journal> {
    journal.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The client's bytes, read in scripted sizes, and what the server wrote back.
#[derive(Debug)]
pub struct ScriptedWire {
    stream: Vec<u8>,
    sent: usize,
    sizes: Vec<usize>,
    turn: usize,
    /// `stream[start..sent]` is handed out and not yet consumed.
    start: usize,
    /// Everything the layer wrote.
    pub written: Vec<u8>,
    journal: Shared,
}

impl ScriptedWire {
    /// `stream` read `sizes[0]`, `sizes[1]`, ... bytes at a time (at most what the reader has
    /// room for); `usize::MAX` is everything there is.
    pub fn new(stream: &[u8], sizes: &[usize], journal: Shared) -> ScriptedWire {
        assert!(!sizes.is_empty() && !sizes.contains(&0), "read sizes");
        ScriptedWire {
            stream: stream.to_vec(),
            sent: 0,
            sizes: sizes.to_vec(),
            turn: 0,
            start: 0,
            written: Vec::new(),
            journal,
        }
    }

    /// One `read` with room for `room` bytes: how many the client hands out.
    fn next_read(&mut self, room: usize) -> usize {
        let size = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let count = size.min(room).min(self.stream.len() - self.sent);
        self.sent += count;
        count
    }

    fn note_offset(&self) {
        lock(&self.journal).offset = self.start;
    }
}

impl Wire for ScriptedWire {
    fn buffered(&self) -> &[u8] {
        &self.stream[self.start..self.sent]
    }

    fn consume(&mut self, count: usize) {
        assert!(
            self.start + count <= self.sent,
            "consumed more than buffered"
        );
        self.start += count;
        self.note_offset();
    }

    fn fill(&mut self, _timeout: Duration, limit: usize) -> io::Result<usize> {
        let room = limit.saturating_sub(self.sent - self.start).max(1);
        Ok(self.next_read(room))
    }

    fn read_direct(&mut self, out: &mut [u8], _timeout: Duration) -> io::Result<usize> {
        assert_eq!(self.start, self.sent, "a direct read with bytes buffered");
        let count = self.next_read(out.len());
        out[..count].copy_from_slice(&self.stream[self.sent - count..self.sent]);
        self.start = self.sent;
        self.note_offset();
        Ok(count)
    }

    fn write_vectored(&mut self, slices: &[IoSlice<'_>], _timeout: Duration) -> io::Result<usize> {
        let before = self.written.len();
        for slice in slices {
            self.written.extend_from_slice(slice);
        }
        Ok(self.written.len() - before)
    }

    fn linger(&mut self) {
        lock(&self.journal).lingered = true;
    }
}
