//! The pure step of reading a body (RFC 9112 §6.3): given the bytes buffered so far and room for
//! a read, where the body's next bytes are. No wire, no clock: [`crate::BodyReader`] carries out
//! the step on a connection's [`crate::Wire`], whichever wire it is.

use std::ops::Range;

use super::chunked::{Decoded, Decoder, Malformed};
use super::rules::BodyLength;

/// What is left of one body.
#[derive(Debug)]
pub(crate) enum BodyFraming {
    /// A `Content-Length` body (or none): this many bytes left.
    Fixed(u64),
    /// A chunked body: the decoder's state.
    Chunked(Decoder),
}

/// What to do next to read a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Hand out these buffered bytes (body data), then consume `used` buffered bytes.
    Copy { data: Range<usize>, used: usize },
    /// Read at most this many body bytes straight from the wire (the buffer is empty).
    Direct(usize),
    /// Consume `used` buffered bytes (framing), then wait for more.
    NeedMore { used: usize },
    /// Consume `used` buffered bytes (the last chunk and trailers): the body is complete.
    End { used: usize },
}

impl BodyFraming {
    /// The framing a head declared.
    pub(crate) fn new(length: BodyLength) -> BodyFraming {
        match length {
            BodyLength::None => BodyFraming::Fixed(0),
            BodyLength::Fixed(length) => BodyFraming::Fixed(length),
            BodyLength::Chunked => BodyFraming::Chunked(Decoder::default()),
        }
    }

    /// Whether the whole body has been read.
    pub(crate) fn is_complete(&self) -> bool {
        match self {
            BodyFraming::Fixed(left) => *left == 0,
            BodyFraming::Chunked(decoder) => decoder.is_done(),
        }
    }

    /// The declared length still unread; `None` for a chunked body not yet complete.
    pub(crate) fn unread_length(&self) -> Option<u64> {
        match self {
            BodyFraming::Fixed(left) => Some(*left),
            BodyFraming::Chunked(decoder) if decoder.is_done() => Some(0),
            BodyFraming::Chunked(_) => None,
        }
    }

    /// The next step for a read of at most `room` (> 0) bytes, with `buffered` received.
    ///
    /// # Errors
    /// [`Malformed`] when the chunked framing breaks.
    pub(crate) fn step(&mut self, buffered: &[u8], room: usize) -> Result<Step, Malformed> {
        match self {
            BodyFraming::Fixed(0) => Ok(Step::End { used: 0 }),
            BodyFraming::Fixed(left) => {
                let want = usize::try_from(*left).map_or(room, |left| left.min(room));
                if buffered.is_empty() {
                    return Ok(Step::Direct(want));
                }
                let count = buffered.len().min(want);
                Ok(Step::Copy {
                    data: 0..count,
                    used: count,
                })
            }
            BodyFraming::Chunked(decoder) if decoder.is_done() => Ok(Step::End { used: 0 }),
            BodyFraming::Chunked(decoder) => {
                let (used, decoded) = decoder.decode(buffered, room)?;
                Ok(match decoded {
                    Decoded::Data(data) => Step::Copy { data, used },
                    Decoded::NeedMore => Step::NeedMore { used },
                    Decoded::End => Step::End { used },
                })
            }
        }
    }

    /// Counts `count` body bytes handed out (a chunked decoder counts its own).
    pub(crate) fn handed_out(&mut self, count: usize) {
        if let BodyFraming::Fixed(left) = self {
            *left -= count as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_body_is_copied_from_the_buffer_then_read_directly() {
        let mut framing = BodyFraming::new(BodyLength::Fixed(10));
        let step = framing.step(b"abcdefGET / HTTP/1.1", 100).unwrap();
        assert_eq!(
            step,
            Step::Copy {
                data: 0..10,
                used: 10
            }
        );
        framing.handed_out(4);
        assert_eq!(framing.step(b"", 100).unwrap(), Step::Direct(6));
        assert_eq!(framing.step(b"", 2).unwrap(), Step::Direct(2));
        framing.handed_out(6);
        assert!(framing.is_complete());
        assert_eq!(framing.step(b"next", 100).unwrap(), Step::End { used: 0 });
    }

    #[test]
    fn a_chunked_body_steps_through_its_framing() {
        let mut framing = BodyFraming::new(BodyLength::Chunked);
        let bytes = b"3\r\nabc\r\n0\r\n\r\nNEXT";
        let Step::Copy { data, used } = framing.step(bytes, 100).unwrap() else {
            panic!("data first");
        };
        assert_eq!(&bytes[data], b"abc");
        assert_eq!(framing.unread_length(), None);
        let rest = &bytes[used..];
        let Step::End { used: end } = framing.step(rest, 100).unwrap() else {
            panic!("then the end");
        };
        assert_eq!(&rest[end..], b"NEXT");
        assert_eq!(framing.unread_length(), Some(0));
    }

    #[test]
    fn broken_chunked_framing_is_malformed() {
        let mut framing = BodyFraming::new(BodyLength::Chunked);
        assert_eq!(framing.step(b"zz\r\n", 100), Err(Malformed));
    }
}
