//! Moving bytes on one connection under deadlines: the read buffer a head is parsed from (and
//! that keeps a pipelined request's bytes for the next turn), the pace rule of `--io-timeout`
//! for bodies and responses, and writes that give up on a client that stopped reading. Go's
//! `http.Server` has the same deadlines (`ReadHeaderTimeout`, `ReadTimeout`, `WriteTimeout`,
//! `IdleTimeout`); a socket timeout per call alone would let a client trickle forever.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes a body or a response must move in every `--io-timeout` window.
pub const MIN_BYTES_PER_WINDOW: u64 = 1024;
/// The read buffer's usual size; it grows only for a long head, and shrinks back after.
const BUFFER_BYTES: usize = 8 * 1024;
/// Socket timeouts are re-set only when off by more than this, to spare a system call per read.
const TIMEOUT_SLACK: Duration = Duration::from_millis(10);

/// Why a transfer stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The peer closed, reset, or the socket failed.
    Gone,
    /// A deadline passed or the pace rule was broken.
    TimedOut,
}

impl From<Stop> for io::Error {
    fn from(stop: Stop) -> io::Error {
        match stop {
            Stop::Gone => io::Error::new(ErrorKind::UnexpectedEof, "the client went away"),
            Stop::TimedOut => io::Error::new(ErrorKind::TimedOut, "the client is too slow"),
        }
    }
}

/// `--io-timeout`'s rule: at least [`MIN_BYTES_PER_WINDOW`] bytes in every window of this
/// length, counted in consecutive windows from the start of the transfer.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    window: Duration,
    started: Instant,
    moved: u64,
}

impl Pace {
    /// A pace starting now.
    pub fn new(window: Duration) -> Pace {
        Pace {
            window,
            started: Instant::now(),
            moved: 0,
        }
    }

    /// How long the next call may block: what is left of the window. A window that ended with
    /// enough bytes moved starts the next one.
    ///
    /// # Errors
    /// [`Stop::TimedOut`] when a whole window passed with too few bytes.
    pub fn time_left(&mut self) -> Result<Duration, Stop> {
        let elapsed = self.started.elapsed();
        if elapsed < self.window {
            return Ok(self.window - elapsed);
        }
        if self.moved < MIN_BYTES_PER_WINDOW {
            return Err(Stop::TimedOut);
        }
        *self = Pace::new(self.window);
        Ok(self.window)
    }

    /// Counts bytes moved.
    pub fn record(&mut self, bytes: usize) {
        self.moved += bytes as u64;
    }
}

/// A connection's socket and its read buffer.
#[derive(Debug)]
pub struct Inbound {
    stream: Arc<TcpStream>,
    buf: Vec<u8>,
    /// Bytes `buf[start..end]` are received and not yet consumed.
    start: usize,
    end: usize,
    /// The socket's read timeout as last set.
    read_timeout: Option<Duration>,
}

impl Inbound {
    /// Reads from `stream`.
    pub fn new(stream: Arc<TcpStream>) -> Inbound {
        Inbound {
            stream,
            buf: Vec::new(),
            start: 0,
            end: 0,
            read_timeout: None,
        }
    }

    /// The socket, for writing.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Received bytes not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks the first `count` buffered bytes as used.
    pub fn consume(&mut self, count: usize) {
        self.start += count;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes into the buffer, waiting at most `timeout`; the buffer may grow to
    /// `limit` bytes of unconsumed data. Returns how many arrived (0: the peer closed).
    ///
    /// # Errors
    /// `TimedOut` / `WouldBlock` when nothing came in time; any socket error.
    pub fn fill(&mut self, timeout: Duration, limit: usize) -> io::Result<usize> {
        if self.end == self.buf.len() {
            self.make_room(limit);
        }
        self.set_read_timeout(timeout)?;
        let read = read_retrying(&self.stream, &mut self.buf[self.end..])?;
        self.end += read;
        Ok(read)
    }

    /// Reads straight into `out` (the buffer must be empty): a large body skips a copy.
    ///
    /// # Errors
    /// As [`Inbound::fill`].
    pub fn read_direct(&mut self, out: &mut [u8], timeout: Duration) -> io::Result<usize> {
        debug_assert!(self.buffered().is_empty());
        self.set_read_timeout(timeout)?;
        read_retrying(&self.stream, out)
    }

    /// Gives back a buffer that grew for a long head, so an idle connection stays small.
    pub fn shrink(&mut self) {
        if self.buf.len() > BUFFER_BYTES && self.end - self.start <= BUFFER_BYTES {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.buf.truncate(BUFFER_BYTES);
            self.buf.shrink_to_fit();
        }
    }

    fn make_room(&mut self, limit: usize) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).clamp(BUFFER_BYTES, limit.max(BUFFER_BYTES));
            self.buf.resize(grown.max(self.end + 1), 0);
        }
    }

    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        let timeout = timeout.max(Duration::from_millis(1));
        let close_enough = self
            .read_timeout
            .is_some_and(|current| current.abs_diff(timeout) <= TIMEOUT_SLACK);
        if !close_enough {
            self.stream.set_read_timeout(Some(timeout))?;
            self.read_timeout = Some(timeout);
        }
        Ok(())
    }
}

fn read_retrying(mut stream: &TcpStream, out: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(out) {
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Whether a socket error means the timeout expired.
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Writes to a connection under the pace rule. The socket's write timeout is one whole window
/// (set when the connection is accepted, see [`Writer::prepare`]), which is what a fresh pace
/// allows, so an answer that leaves in one call costs no `setsockopt`; only a client that makes a
/// write wait gets the timeout shortened to what is left of the window, and restored afterwards.
pub struct Writer<'s> {
    stream: &'s TcpStream,
    pace: Pace,
    /// The socket's write timeout as this writer last set it.
    timeout: Duration,
}

impl<'s> Writer<'s> {
    /// Sets a new connection's write timeout to one `window`, as every `Writer` expects.
    ///
    /// # Errors
    /// When the socket refuses the option.
    pub fn prepare(stream: &TcpStream, window: Duration) -> io::Result<()> {
        stream.set_write_timeout(Some(window.max(Duration::from_millis(1))))
    }

    /// A writer whose pace starts now; the socket's write timeout must be `window`.
    pub fn new(stream: &'s TcpStream, window: Duration) -> Writer<'s> {
        Writer {
            stream,
            pace: Pace::new(window),
            timeout: window.max(Duration::from_millis(1)),
        }
    }

    /// The socket.
    pub fn stream(&self) -> &'s TcpStream {
        self.stream
    }

    /// Before a call that may block: fails when the pace is broken, and makes the socket's
    /// timeout at most what is left of the window.
    ///
    /// # Errors
    /// [`Stop::TimedOut`] when a whole window passed with too few bytes.
    pub fn before_call(&mut self) -> Result<(), Stop> {
        let left = self.pace.time_left()?.max(Duration::from_millis(1));
        if self.timeout.abs_diff(left) > TIMEOUT_SLACK {
            self.stream
                .set_write_timeout(Some(left))
                .map_err(|_| Stop::Gone)?;
            self.timeout = left;
        }
        Ok(())
    }

    /// Counts bytes written by a call made after [`Writer::before_call`].
    pub fn record(&mut self, bytes: usize) {
        self.pace.record(bytes);
    }

    /// Writes all of `slices`, in as few system calls as the socket allows (a head and a small
    /// body leave in one `writev`).
    ///
    /// # Errors
    /// [`Stop::TimedOut`] when the client reads too slowly, [`Stop::Gone`] when it went away.
    pub fn write_all(&mut self, mut slices: &mut [IoSlice<'_>]) -> Result<(), Stop> {
        while !slices.is_empty() {
            self.before_call()?;
            match self.stream.write_vectored(slices) {
                Ok(0) => return Err(Stop::Gone),
                Ok(written) => {
                    self.record(written);
                    IoSlice::advance_slices(&mut slices, written);
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) if is_timeout(&error) => {}
                Err(_) => return Err(Stop::Gone),
            }
        }
        Ok(())
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if self.timeout != self.pace.window.max(Duration::from_millis(1)) {
            let _ = Writer::prepare(self.stream, self.pace.window);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_with_enough_bytes_starts_the_next() {
        let mut pace = Pace::new(Duration::ZERO);
        pace.record(1024);
        assert!(pace.time_left().is_ok());
        assert_eq!(pace.time_left(), Err(Stop::TimedOut));
    }

    #[test]
    fn a_window_with_too_few_bytes_is_a_timeout() {
        let mut pace = Pace::new(Duration::ZERO);
        pace.record(1023);
        assert_eq!(pace.time_left(), Err(Stop::TimedOut));
        let mut pace = Pace::new(Duration::from_secs(60));
        assert!(pace.time_left().unwrap() > Duration::from_secs(59));
    }
}
