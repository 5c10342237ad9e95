//! A [`Wire`] for unit tests: a client that sent everything already, handed out a few bytes per
//! read, and a record of what was written and in how many calls.

use std::io::{self, IoSlice};
use std::time::Duration;

use crate::wire::Wire;

/// A wire whose client sent `incoming` (handed out `step` bytes per read) and closed its side;
/// what is written to it is kept.
pub(crate) struct Sent {
    incoming: Vec<u8>,
    handed_out: usize,
    start: usize,
    step: usize,
    /// Everything written, and the size of each write call.
    pub(crate) written: Vec<u8>,
    pub(crate) writes: Vec<usize>,
}

impl Sent {
    pub(crate) fn new(incoming: &[u8], step: usize) -> Sent {
        Sent {
            incoming: incoming.to_vec(),
            handed_out: 0,
            start: 0,
            step,
            written: Vec::new(),
            writes: Vec::new(),
        }
    }

    fn take(&mut self, room: usize) -> &[u8] {
        let count = self
            .step
            .min(room)
            .min(self.incoming.len() - self.handed_out);
        self.handed_out += count;
        &self.incoming[self.handed_out - count..self.handed_out]
    }
}

impl Wire for Sent {
    fn buffered(&self) -> &[u8] {
        &self.incoming[self.start..self.handed_out]
    }

    fn consume(&mut self, count: usize) {
        self.start += count;
        assert!(self.start <= self.handed_out);
    }

    fn fill(&mut self, _: Duration, _: usize) -> io::Result<usize> {
        Ok(self.take(usize::MAX).len())
    }

    fn read_direct(&mut self, out: &mut [u8], _: Duration) -> io::Result<usize> {
        assert_eq!(
            self.start, self.handed_out,
            "a direct read with bytes buffered"
        );
        let bytes = self.take(out.len()).to_vec();
        self.start = self.handed_out;
        out[..bytes.len()].copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    fn write_vectored(&mut self, slices: &[IoSlice<'_>], _: Duration) -> io::Result<usize> {
        let before = self.written.len();
        for slice in slices {
            self.written.extend_from_slice(slice);
        }
        self.writes.push(self.written.len() - before);
        Ok(self.written.len() - before)
    }
}
