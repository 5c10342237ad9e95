//! A request's body as the handler sees it: a `Read` that stops where the framing says the body
//! ends (RFC 9112 §6.3), decodes chunked bodies, sends `100 Continue` only once the handler
//! starts reading (RFC 9110 §10.1.1), and enforces `--io-timeout`'s pace. A failure is
//! remembered, so the connection loop can answer 400 or 408 whatever the handler made of it.
//! When asked (`--trace`), it keeps a copy of the body's first bytes as handed out.

use std::io::{self, IoSlice, Read};
use std::time::Duration;

use super::framing::{BodyFraming, Step};
use super::rules::BodyLength;
use super::wire::{is_timeout, Pace, PacedWriter, Stop, Wire};

/// The interim response, with no fields at all (RFC 9110 §15.2: a 1xx has no content, so no
/// `Content-Length`).
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// How much chunk framing may sit in the read buffer at once.
const FRAMING_BUFFER_LIMIT: usize = 16 * 1024;

/// Why reading a body failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFailure {
    /// The chunked framing is broken: 400.
    Malformed,
    /// Too slow: 408 (the pace rule of `--io-timeout`).
    TimedOut,
    /// The connection ended before the body did: nothing to answer.
    Gone,
}

impl From<Stop> for BodyFailure {
    fn from(stop: Stop) -> BodyFailure {
        match stop {
            Stop::Gone => BodyFailure::Gone,
            Stop::TimedOut => BodyFailure::TimedOut,
        }
    }
}

impl From<BodyFailure> for io::Error {
    fn from(failure: BodyFailure) -> io::Error {
        match failure {
            BodyFailure::Malformed => {
                io::Error::new(io::ErrorKind::InvalidData, "broken chunked framing")
            }
            BodyFailure::TimedOut => Stop::TimedOut.into(),
            BodyFailure::Gone => Stop::Gone.into(),
        }
    }
}

/// The body of one request.
pub struct BodyReader<'c> {
    wire: &'c mut dyn Wire,
    framing: BodyFraming,
    /// `Expect: 100-continue` and no `100 Continue` sent yet.
    continue_owed: bool,
    window: Duration,
    pace: Option<Pace>,
    failure: Option<BodyFailure>,
    /// Body bytes handed out so far.
    read: u64,
    /// Whether `100 Continue` was written (for the trace).
    continue_sent: bool,
    /// The first bytes handed out (decoded when chunked), up to `sample_limit`.
    sample: Vec<u8>,
    /// How many first bytes to keep in `sample`: 0 unless tracing.
    sample_limit: usize,
}

impl std::fmt::Debug for BodyReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("framing", &self.framing)
            .field("read", &self.read)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl<'c> BodyReader<'c> {
    /// The body delimited by `length`, read from `wire`; its first `sample_limit` bytes are
    /// kept for [`BodyReader::sample`].
    pub(crate) fn new(
        wire: &'c mut dyn Wire,
        length: BodyLength,
        expect_continue: bool,
        window: Duration,
        sample_limit: usize,
    ) -> BodyReader<'c> {
        BodyReader {
            wire,
            framing: BodyFraming::new(length),
            continue_owed: expect_continue,
            window,
            pace: None,
            failure: None,
            read: 0,
            continue_sent: false,
            sample: Vec::new(),
            sample_limit,
        }
    }

    /// Whether the whole body has been read.
    pub fn is_complete(&self) -> bool {
        self.framing.is_complete()
    }

    /// The declared length still unread; `None` for chunked bodies.
    pub fn unread_length(&self) -> Option<u64> {
        self.framing.unread_length()
    }

    /// Whether the client asked to wait for `100 Continue` and was never sent it: it may be
    /// holding the body back.
    pub fn is_continue_owed(&self) -> bool {
        self.continue_owed && !self.is_complete()
    }

    /// How reading failed, if it did.
    pub fn failure(&self) -> Option<BodyFailure> {
        self.failure
    }

    /// Body bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// The body's length: as declared by `Content-Length`, or the bytes decoded so far when
    /// chunked.
    pub fn total_len(&self) -> u64 {
        match &self.framing {
            BodyFraming::Fixed(left) => self.read + left,
            BodyFraming::Chunked(_) => self.read,
        }
    }

    /// The body's first bytes as read so far (decoded when chunked), at most the sample limit
    /// the layer keeps (`Settings::body_sample_bytes`).
    pub fn sample(&self) -> &[u8] {
        &self.sample
    }

    /// Whether `100 Continue` was sent.
    pub fn is_continue_sent(&self) -> bool {
        self.continue_sent
    }

    /// Reads and discards up to `limit` bytes of what is left, so the next request on the
    /// connection can be read. Returns whether the body ended within the limit.
    pub(crate) fn discard(&mut self, limit: u64) -> bool {
        let mut scratch = [0u8; 8 * 1024];
        let start = self.read;
        while !self.is_complete() {
            if self.read - start >= limit {
                return false;
            }
            let room = usize::try_from(limit - (self.read - start))
                .map_or(scratch.len(), |left| left.min(scratch.len()));
            match self.read(&mut scratch[..room]) {
                // A chunked body's last read decodes the last chunk and the trailers and hands
                // out no data: that zero is its end, not a failure.
                Ok(0) => return self.is_complete(),
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        true
    }

    /// Takes the sample kept so far (for the log, once the service is done reading).
    pub(crate) fn take_sample(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.sample)
    }

    /// The wire the body is read from, to write the answer on.
    pub(crate) fn wire(&mut self) -> &mut dyn Wire {
        &mut *self.wire
    }

    fn fail(&mut self, failure: BodyFailure) -> io::Error {
        self.failure = Some(failure);
        failure.into()
    }

    /// RFC 9110 §10.1.1: the client waits for `100 Continue` before sending; we send it only now
    /// that the body is wanted, and not if its first bytes are here already.
    fn send_continue(&mut self) -> Result<(), BodyFailure> {
        if !self.continue_owed {
            return Ok(());
        }
        self.continue_owed = false;
        if !self.wire.buffered().is_empty() {
            return Ok(());
        }
        PacedWriter::new(&mut *self.wire, self.window)
            .write_all(&mut [IoSlice::new(CONTINUE)])
            .map_err(BodyFailure::from)?;
        self.continue_sent = true;
        Ok(())
    }

    fn keep_sample(&mut self, read: &[u8]) {
        let room = self.sample_limit.saturating_sub(self.sample.len());
        self.sample.extend_from_slice(&read[..room.min(read.len())]);
    }

    /// One read of at most `out.len()` (> 0) body bytes: the framing step says where they
    /// are, this carries it out on the wire.
    fn read_step(&mut self, out: &mut [u8]) -> Result<usize, BodyFailure> {
        loop {
            let step = self
                .framing
                .step(self.wire.buffered(), out.len())
                .map_err(|_| BodyFailure::Malformed)?;
            match step {
                Step::Copy { data, used } => {
                    let count = data.len();
                    out[..count].copy_from_slice(&self.wire.buffered()[data]);
                    self.wire.consume(used);
                    return Ok(count);
                }
                Step::Direct(want) => {
                    let pace = self.pace.get_or_insert_with(|| Pace::new(self.window));
                    let wire = &mut *self.wire;
                    return paced_read(pace, |timeout| wire.read_direct(&mut out[..want], timeout));
                }
                Step::NeedMore { used } => {
                    self.wire.consume(used);
                    let pace = self.pace.get_or_insert_with(|| Pace::new(self.window));
                    let wire = &mut *self.wire;
                    paced_read(pace, |timeout| wire.fill(timeout, FRAMING_BUFFER_LIMIT))?;
                }
                Step::End { used } => {
                    self.wire.consume(used);
                    return Ok(0);
                }
            }
        }
    }
}

/// One read under `--io-timeout`'s pace rule: a socket timeout inside the window is retried
/// with what is left of it; the peer's close or a failed socket is `Gone`.
fn paced_read(
    pace: &mut Pace,
    mut read: impl FnMut(Duration) -> io::Result<usize>,
) -> Result<usize, BodyFailure> {
    loop {
        let timeout = pace.time_left()?;
        match read(timeout) {
            Ok(0) => return Err(BodyFailure::Gone),
            Ok(count) => {
                pace.record(count);
                return Ok(count);
            }
            Err(error) if is_timeout(&error) => {}
            Err(_) => return Err(BodyFailure::Gone),
        }
    }
}

impl Read for BodyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(failure) = self.failure {
            return Err(failure.into());
        }
        if out.is_empty() || self.is_complete() {
            return Ok(0);
        }
        if let Err(failure) = self.send_continue() {
            return Err(self.fail(failure));
        }
        match self.read_step(out) {
            Ok(count) => {
                self.framing.handed_out(count);
                self.read += count as u64;
                self.keep_sample(&out[..count]);
                Ok(count)
            }
            Err(failure) => Err(self.fail(failure)),
        }
    }
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;
