//! The real [`Wire`]: a TCP connection with its read buffer, socket timeouts set only when they
//! change, `sendfile` for files, and the lingering close.

use std::fs::File;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::wire::Wire;

/// The read buffer's usual size; it grows only for a long head, and shrinks back after.
const BUFFER_BYTES: usize = 8 * 1024;
/// Socket timeouts are re-set only when off by more than this, to spare a system call per call.
const TIMEOUT_SLACK: Duration = Duration::from_millis(10);
/// RFC 9112 §9.6's lingering close: read and discard for at most this long...
const LINGER_TIME: Duration = Duration::from_secs(2);
/// ...or this many bytes.
const LINGER_BYTES: usize = 1024 * 1024;

/// A connection's socket and its read buffer.
#[derive(Debug)]
pub(crate) struct SocketWire {
    stream: Arc<TcpStream>,
    buf: Vec<u8>,
    /// Bytes `buf[start..end]` are received and not yet consumed.
    start: usize,
    end: usize,
    /// The socket's timeouts as last set.
    read_timeout: Option<Duration>,
    write_timeout: Duration,
}

impl SocketWire {
    /// Reads from and writes to `stream`, whose write timeout [`SocketWire::prepare`] set to
    /// `window`: what a fresh pace allows, so an answer that leaves in one call costs no
    /// `setsockopt`.
    pub(crate) fn new(stream: Arc<TcpStream>, window: Duration) -> SocketWire {
        SocketWire {
            stream,
            buf: Vec::new(),
            start: 0,
            end: 0,
            read_timeout: None,
            write_timeout: window.max(Duration::from_millis(1)),
        }
    }

    /// Sets a new connection's write timeout to one `window`, as [`SocketWire::new`] expects.
    ///
    /// # Errors
    /// When the socket refuses the option.
    pub(crate) fn prepare(stream: &TcpStream, window: Duration) -> io::Result<()> {
        stream.set_write_timeout(Some(window.max(Duration::from_millis(1))))
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

    /// Only a client that makes a write wait gets the timeout shortened to what is left of its
    /// window; the next answer's fresh window sets it back.
    fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        let timeout = timeout.max(Duration::from_millis(1));
        if self.write_timeout.abs_diff(timeout) > TIMEOUT_SLACK {
            self.stream.set_write_timeout(Some(timeout))?;
            self.write_timeout = timeout;
        }
        Ok(())
    }
}

impl Wire for SocketWire {
    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, count: usize) {
        self.start += count;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    fn fill(&mut self, timeout: Duration, limit: usize) -> io::Result<usize> {
        if self.end == self.buf.len() {
            self.make_room(limit);
        }
        self.set_read_timeout(timeout)?;
        let read = read_retrying(&self.stream, &mut self.buf[self.end..])?;
        self.end += read;
        Ok(read)
    }

    fn read_direct(&mut self, out: &mut [u8], timeout: Duration) -> io::Result<usize> {
        debug_assert!(self.buffered().is_empty());
        self.set_read_timeout(timeout)?;
        read_retrying(&self.stream, out)
    }

    fn write_vectored(&mut self, slices: &[IoSlice<'_>], timeout: Duration) -> io::Result<usize> {
        self.set_write_timeout(timeout)?;
        (&*self.stream).write_vectored(slices)
    }

    fn send_file(
        &mut self,
        file: &File,
        offset: u64,
        count: usize,
        timeout: Duration,
    ) -> io::Result<usize> {
        use rustix::io::Errno;
        self.set_write_timeout(timeout)?;
        let mut at = offset;
        match rustix::fs::sendfile(&*self.stream, file, Some(&mut at), count) {
            Ok(sent) => Ok(sent),
            Err(Errno::INTR) => Err(ErrorKind::Interrupted.into()),
            Err(Errno::AGAIN) => Err(ErrorKind::WouldBlock.into()),
            // Not for this file system or this kind of file: the writer copies instead.
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                Err(ErrorKind::Unsupported.into())
            }
            Err(errno) => Err(errno.into()),
        }
    }

    fn shrink(&mut self) {
        if self.buf.len() > BUFFER_BYTES && self.end - self.start <= BUFFER_BYTES {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.buf.truncate(BUFFER_BYTES);
            self.buf.shrink_to_fit();
        }
    }

    fn linger(&mut self) {
        linger(&self.stream);
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

/// Closes politely: stop sending, then read and discard what the client still sends, so its
/// TCP stack does not answer our close with a reset that destroys the answer in flight.
pub(crate) fn linger(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER_TIME;
    let mut scratch = [0u8; 16 * 1024];
    let mut discarded = 0;
    while discarded < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match (&*stream).read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(read) => discarded += read,
        }
    }
}
