//! What a connection runs on: the [`Wire`] (the socket in production, a script in the fuzzer),
//! and the rules for moving bytes on it under deadlines, which are the same whatever the wire:
//! the pace rule of `--io-timeout` for bodies and answers ([`Pace`]), and writes that give up
//! on a client that stopped reading ([`PacedWriter`]). Go's `http.Server` has the same
//! deadlines (`ReadHeaderTimeout`, `ReadTimeout`, `WriteTimeout`, `IdleTimeout`); a timeout per
//! call alone would let a client trickle forever.

use std::fs::File;
use std::io::{self, ErrorKind, IoSlice};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

/// Bytes a body or a response must move in every `--io-timeout` window.
pub const MIN_BYTES_PER_WINDOW: u64 = 1024;
/// Bytes per `send_file` call, so the pace rule is checked between calls.
const SEND_FILE_CHUNK: usize = 4 * 1024 * 1024;
/// Buffer for copying a file (or a streamed body) when the wire cannot send a file itself.
const COPY_BUFFER: usize = 256 * 1024;

/// One connection's byte stream: a read buffer in front of the client's bytes (a head is parsed
/// from it, and it keeps a pipelined request's bytes for the next turn), and writes. Every call
/// that may block takes how long it may; the deadlines themselves are the caller's. `Send`,
/// because a handler may read a body on another thread (multipart uploads do).
pub trait Wire: Send {
    /// Received bytes not yet consumed.
    fn buffered(&self) -> &[u8];

    /// Marks the first `count` buffered bytes as used.
    fn consume(&mut self, count: usize);

    /// Reads more bytes into the buffer, waiting at most `timeout`; the unconsumed bytes may
    /// grow to `limit`. Returns how many arrived (0: the peer closed).
    ///
    /// # Errors
    /// `TimedOut` / `WouldBlock` when nothing came in time; any other error ends the connection.
    fn fill(&mut self, timeout: Duration, limit: usize) -> io::Result<usize>;

    /// Reads straight into `out`, past the buffer (which is empty): a large body skips a copy.
    ///
    /// # Errors
    /// As [`Wire::fill`].
    fn read_direct(&mut self, out: &mut [u8], timeout: Duration) -> io::Result<usize>;

    /// Writes some of `slices` in one call, waiting at most `timeout`. Returns how many bytes
    /// left (0: the peer is gone).
    ///
    /// # Errors
    /// `TimedOut` / `WouldBlock` / `Interrupted`: nothing left yet, try again; anything else
    /// ends the connection.
    fn write_vectored(&mut self, slices: &[IoSlice<'_>], timeout: Duration) -> io::Result<usize>;

    /// Sends up to `count` bytes of `file` from `offset` without copying them through user
    /// space, waiting at most `timeout`; how many left. The default cannot, and the writer
    /// then copies the file through [`Wire::write_vectored`].
    ///
    /// # Errors
    /// `Unsupported`: copy instead. Otherwise as [`Wire::write_vectored`].
    fn send_file(
        &mut self,
        file: &File,
        offset: u64,
        count: usize,
        timeout: Duration,
    ) -> io::Result<usize> {
        let _ = (file, offset, count, timeout);
        Err(ErrorKind::Unsupported.into())
    }

    /// After a head: gives back a buffer that grew for a long one.
    fn shrink(&mut self) {}

    /// Closes politely after the last answer (RFC 9112 §9.6). Nothing by default.
    fn linger(&mut self) {}
}

/// Why a transfer stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The peer closed, reset, or the wire failed.
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

/// Whether an error means a timeout expired (or a call was interrupted): try again.
pub(crate) fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// `--io-timeout`'s rule: at least [`MIN_BYTES_PER_WINDOW`] bytes in every window of this
/// length, counted in consecutive windows from the start of the transfer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    window: Duration,
    started: Instant,
    moved: u64,
}

impl Pace {
    /// A pace starting now.
    pub(crate) fn new(window: Duration) -> Pace {
        Pace {
            window,
            started: Instant::now(),
            moved: 0,
        }
    }

    /// How long the next call may block: what is left of the window (at least 1 ms). A window
    /// that ended with enough bytes moved starts the next one.
    ///
    /// # Errors
    /// [`Stop::TimedOut`] when a whole window passed with too few bytes.
    pub(crate) fn time_left(&mut self) -> Result<Duration, Stop> {
        let elapsed = self.started.elapsed();
        if elapsed < self.window {
            return Ok((self.window - elapsed).max(Duration::from_millis(1)));
        }
        if self.moved < MIN_BYTES_PER_WINDOW {
            return Err(Stop::TimedOut);
        }
        *self = Pace::new(self.window);
        Ok(self.window.max(Duration::from_millis(1)))
    }

    /// Counts bytes moved.
    pub(crate) fn record(&mut self, bytes: usize) {
        self.moved += bytes as u64;
    }
}

/// Writes one answer (or `100 Continue`) to a wire under the pace rule.
pub(crate) struct PacedWriter<'w> {
    wire: &'w mut dyn Wire,
    pace: Pace,
}

impl<'w> PacedWriter<'w> {
    /// A writer whose pace starts now.
    pub(crate) fn new(wire: &'w mut dyn Wire, window: Duration) -> PacedWriter<'w> {
        PacedWriter {
            wire,
            pace: Pace::new(window),
        }
    }

    /// Writes all of `slices`, in as few calls as the wire allows (a head and a small body
    /// leave in one `writev`).
    ///
    /// # Errors
    /// [`Stop::TimedOut`] when the client reads too slowly, [`Stop::Gone`] when it went away.
    pub(crate) fn write_all(&mut self, mut slices: &mut [IoSlice<'_>]) -> Result<(), Stop> {
        while !slices.is_empty() {
            let timeout = self.pace.time_left()?;
            match self.wire.write_vectored(slices, timeout) {
                Ok(0) => return Err(Stop::Gone),
                Ok(written) => {
                    self.pace.record(written);
                    IoSlice::advance_slices(&mut slices, written);
                }
                Err(error) if is_timeout(&error) => {}
                Err(_) => return Err(Stop::Gone),
            }
        }
        Ok(())
    }

    /// Sends `len` bytes of `file` from `offset` with the wire's `send_file`, or by copying
    /// (positioned reads, so the file's cursor is never shared state) where it cannot.
    ///
    /// # Errors
    /// As [`PacedWriter::write_all`]; [`Stop::Gone`] too when the file is shorter than `len`.
    pub(crate) fn send_file(&mut self, file: &File, mut offset: u64, len: u64) -> Result<(), Stop> {
        let end = offset + len;
        while offset < end {
            let timeout = self.pace.time_left()?;
            let count = usize::try_from(end - offset)
                .map_or(SEND_FILE_CHUNK, |left| left.min(SEND_FILE_CHUNK));
            match self.wire.send_file(file, offset, count, timeout) {
                Ok(0) => return Err(Stop::Gone),
                Ok(sent) => {
                    self.pace.record(sent);
                    offset += sent as u64;
                }
                Err(error) if is_timeout(&error) => {}
                Err(error) if error.kind() == ErrorKind::Unsupported => {
                    let start = offset;
                    return self.copy(end - start, |buffer, at| file.read_at(buffer, start + at));
                }
                Err(_) => return Err(Stop::Gone),
            }
        }
        Ok(())
    }

    /// Copies `len` bytes from `read` (given a buffer and how far it is) to the wire.
    ///
    /// # Errors
    /// As [`PacedWriter::write_all`]; [`Stop::Gone`] when the source ends or fails early: the
    /// length already sent cannot be met.
    pub(crate) fn copy(
        &mut self,
        len: u64,
        mut read: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
    ) -> Result<(), Stop> {
        let mut buffer = vec![0u8; COPY_BUFFER.min(usize::try_from(len).unwrap_or(COPY_BUFFER))];
        let mut done = 0;
        while done < len {
            let want =
                usize::try_from(len - done).map_or(buffer.len(), |left| left.min(buffer.len()));
            let count = loop {
                match read(&mut buffer[..want], done) {
                    Err(error) if error.kind() == ErrorKind::Interrupted => {}
                    Ok(0) | Err(_) => return Err(Stop::Gone),
                    Ok(count) => break count,
                }
            };
            self.write_all(&mut [IoSlice::new(&buffer[..count])])?;
            done += count as u64;
        }
        Ok(())
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
