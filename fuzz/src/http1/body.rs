//! `src/http1/body.rs`'s `BodyReader` over the model's read buffer: the same steps (`read`,
//! `read_length`, `read_chunked`, `discard`) around `chunked::Decoder`, minus the pace rule and
//! the write of `100 Continue`.

use taskd::http1::chunked::{Decoded, Decoder};
use taskd::http1::rules::Framing;

use super::conn::Inbound;

/// `body::discard` reads into a scratch buffer of this size.
const DISCARD_SCRATCH: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Broken chunked framing: 400.
    Malformed,
    /// The stream ended first: nothing to answer.
    Gone,
}

#[derive(Debug)]
enum Remaining {
    Length(u64),
    Chunked(Decoder),
}

/// `BodyReader`, minus the pace rule and `100 Continue`'s write.
#[derive(Debug)]
pub struct Body {
    remaining: Remaining,
    continue_owed: bool,
    /// How reading failed, if it did.
    pub failure: Option<Failure>,
}

impl Body {
    pub fn new(framing: Framing, expect_continue: bool) -> Body {
        let remaining = match framing {
            Framing::None => Remaining::Length(0),
            Framing::Length(length) => Remaining::Length(length),
            Framing::Chunked => Remaining::Chunked(Decoder::default()),
        };
        Body {
            remaining,
            continue_owed: expect_continue,
            failure: None,
        }
    }

    pub fn is_complete(&self) -> bool {
        match &self.remaining {
            Remaining::Length(left) => *left == 0,
            Remaining::Chunked(decoder) => decoder.is_done(),
        }
    }

    pub fn unread_length(&self) -> Option<u64> {
        match &self.remaining {
            Remaining::Length(left) => Some(*left),
            Remaining::Chunked(decoder) if decoder.is_done() => Some(0),
            Remaining::Chunked(_) => None,
        }
    }

    pub fn is_continue_owed(&self) -> bool {
        self.continue_owed && !self.is_complete()
    }

    /// `BodyReader::read` into a buffer of `room` bytes, appended to `out`.
    pub fn read(
        &mut self,
        inbound: &mut Inbound<'_>,
        out: &mut Vec<u8>,
        room: usize,
    ) -> Result<usize, Failure> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        if room == 0 || self.is_complete() {
            return Ok(0);
        }
        // `send_continue`: only whether it is still owed matters here.
        self.continue_owed = false;
        let result = match &mut self.remaining {
            Remaining::Length(left) => read_length(inbound, out, room, *left),
            Remaining::Chunked(decoder) => read_chunked(decoder, inbound, out, room),
        };
        match result {
            Ok(count) => {
                if let Remaining::Length(left) = &mut self.remaining {
                    *left -= count as u64;
                }
                Ok(count)
            }
            Err(failure) => {
                self.failure = Some(failure);
                Err(failure)
            }
        }
    }

    /// `BodyReader::discard`: whether the body ended within `limit` more bytes.
    pub fn discard(&mut self, inbound: &mut Inbound<'_>, out: &mut Vec<u8>, limit: u64) -> bool {
        let start = out.len() as u64;
        while !self.is_complete() {
            let read = out.len() as u64 - start;
            if read >= limit {
                return false;
            }
            let room = usize::try_from(limit - read)
                .map_or(DISCARD_SCRATCH, |left| left.min(DISCARD_SCRATCH));
            match self.read(inbound, out, room) {
                Ok(0) => return self.is_complete(),
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        true
    }
}

/// `BodyReader::read_length`: from the buffer if it holds anything, else straight from the
/// socket into the caller's buffer (so never past the body's end).
fn read_length(
    inbound: &mut Inbound<'_>,
    out: &mut Vec<u8>,
    room: usize,
    left: u64,
) -> Result<usize, Failure> {
    let want = usize::try_from(left).map_or(room, |left| left.min(room));
    let buffered = inbound.buffered();
    if !buffered.is_empty() {
        let count = buffered.len().min(want);
        out.extend_from_slice(&buffered[..count]);
        inbound.consume(count);
        return Ok(count);
    }
    let direct = inbound.read_direct(want);
    if direct.is_empty() {
        return Err(Failure::Gone);
    }
    out.extend_from_slice(direct);
    Ok(direct.len())
}

/// `BodyReader::read_chunked`.
fn read_chunked(
    decoder: &mut Decoder,
    inbound: &mut Inbound<'_>,
    out: &mut Vec<u8>,
    room: usize,
) -> Result<usize, Failure> {
    loop {
        if decoder.is_done() {
            return Ok(0);
        }
        let (used, decoded) = decoder
            .decode(inbound.buffered(), room)
            .map_err(|_| Failure::Malformed)?;
        match decoded {
            Decoded::Data(range) => {
                let count = range.len();
                out.extend_from_slice(&inbound.buffered()[range]);
                inbound.consume(used);
                return Ok(count);
            }
            Decoded::End => {
                inbound.consume(used);
                return Ok(0);
            }
            Decoded::NeedMore => {
                inbound.consume(used);
                if inbound.fill() == 0 {
                    return Err(Failure::Gone);
                }
            }
        }
    }
}
