//! A request's body as the handler sees it: a `Read` that stops where the framing says the body
//! ends (RFC 9112 §6.3), decodes chunked bodies, sends `100 Continue` only once the handler
//! starts reading (RFC 9110 §10.1.1), and enforces `--io-timeout`'s pace. A failure is
//! remembered, so the connection loop can answer 400 or 408 whatever the handler made of it.
//! When asked (`--trace`), it keeps a copy of the body's first bytes as handed out.

use std::io::{self, IoSlice, Read};
use std::time::Duration;

use super::chunked::{Decoded, Decoder};
use super::io::{self as wire, Inbound, Pace, Stop, Writer};
use super::rules::Framing;

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

#[derive(Debug)]
enum Remaining {
    /// A `Content-Length` body: this many bytes left.
    Length(u64),
    Chunked(Decoder),
}

/// The body of one request.
#[derive(Debug)]
pub struct BodyReader<'c> {
    inbound: &'c mut Inbound,
    remaining: Remaining,
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

impl<'c> BodyReader<'c> {
    /// The body framed by `framing`, read from `inbound`; its first `sample_limit` bytes are
    /// kept for [`BodyReader::sample`].
    pub fn new(
        inbound: &'c mut Inbound,
        framing: Framing,
        expect_continue: bool,
        window: Duration,
        sample_limit: usize,
    ) -> BodyReader<'c> {
        let remaining = match framing {
            Framing::None => Remaining::Length(0),
            Framing::Length(length) => Remaining::Length(length),
            Framing::Chunked => Remaining::Chunked(Decoder::default()),
        };
        BodyReader {
            inbound,
            remaining,
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
        match &self.remaining {
            Remaining::Length(left) => *left == 0,
            Remaining::Chunked(decoder) => decoder.is_done(),
        }
    }

    /// The declared length still unread; `None` for chunked bodies.
    pub fn unread_length(&self) -> Option<u64> {
        match &self.remaining {
            Remaining::Length(left) => Some(*left),
            Remaining::Chunked(decoder) if decoder.is_done() => Some(0),
            Remaining::Chunked(_) => None,
        }
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
        match &self.remaining {
            Remaining::Length(left) => self.read + left,
            Remaining::Chunked(_) => self.read,
        }
    }

    /// The body's first bytes as read so far (decoded when chunked), at most the sample limit
    /// given to [`BodyReader::new`].
    pub fn sample(&self) -> &[u8] {
        &self.sample
    }

    /// Whether `100 Continue` was sent.
    pub fn is_continue_sent(&self) -> bool {
        self.continue_sent
    }

    /// Reads and discards up to `limit` bytes of what is left, so the next request on the
    /// connection can be read. Returns whether the body ended within the limit.
    pub fn discard(&mut self, limit: u64) -> bool {
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
        if !self.inbound.buffered().is_empty() {
            return Ok(());
        }
        let mut writer = Writer::new(self.inbound.stream(), self.window);
        writer
            .write_all(&mut [IoSlice::new(CONTINUE)])
            .map_err(BodyFailure::from)?;
        self.continue_sent = true;
        Ok(())
    }

    fn keep_sample(&mut self, read: &[u8]) {
        let room = self.sample_limit.saturating_sub(self.sample.len());
        self.sample.extend_from_slice(&read[..room.min(read.len())]);
    }

    /// Waits for more bytes in the buffer under the pace rule.
    fn fill(&mut self) -> Result<(), BodyFailure> {
        let pace = self.pace.get_or_insert_with(|| Pace::new(self.window));
        let inbound = &mut *self.inbound;
        paced_read(pace, |timeout| inbound.fill(timeout, FRAMING_BUFFER_LIMIT)).map(drop)
    }

    fn read_length(&mut self, out: &mut [u8], left: u64) -> Result<usize, BodyFailure> {
        let want = usize::try_from(left).map_or(out.len(), |left| left.min(out.len()));
        let out = &mut out[..want];
        let buffered = self.inbound.buffered();
        if !buffered.is_empty() {
            let count = buffered.len().min(want);
            out[..count].copy_from_slice(&buffered[..count]);
            self.inbound.consume(count);
            return Ok(count);
        }
        let pace = self.pace.get_or_insert_with(|| Pace::new(self.window));
        let inbound = &mut *self.inbound;
        paced_read(pace, |timeout| inbound.read_direct(out, timeout))
    }

    fn read_chunked(&mut self, out: &mut [u8]) -> Result<usize, BodyFailure> {
        loop {
            let Remaining::Chunked(decoder) = &mut self.remaining else {
                unreachable!("read_chunked is called for chunked bodies only");
            };
            if decoder.is_done() {
                return Ok(0);
            }
            let buffered = self.inbound.buffered();
            let (used, decoded) = decoder
                .decode(buffered, out.len())
                .map_err(|_| BodyFailure::Malformed)?;
            match decoded {
                Decoded::Data(range) => {
                    let count = range.len();
                    out[..count].copy_from_slice(&buffered[range]);
                    self.inbound.consume(used);
                    return Ok(count);
                }
                Decoded::End => {
                    self.inbound.consume(used);
                    return Ok(0);
                }
                Decoded::NeedMore => {
                    self.inbound.consume(used);
                    self.fill()?;
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
            Err(error) if wire::is_timeout(&error) => {}
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
        let result = match self.remaining {
            Remaining::Length(left) => self.read_length(out, left),
            Remaining::Chunked(_) => self.read_chunked(out),
        };
        match result {
            Ok(count) => {
                if let Remaining::Length(left) = &mut self.remaining {
                    *left -= count as u64;
                }
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
