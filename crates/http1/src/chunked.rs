//! The chunked transfer coding (RFC 9112 §7.1) as a pure state machine: bytes in, chunk data
//! out. It is strict where a lenient reader would let two parsers disagree about where a body
//! ends: CRLF only (never a bare LF), 1–16 hex digits, bounded extensions and trailers.

use std::ops::Range;

/// Most bytes of chunk extensions on one chunk-size line.
pub const MAX_EXTENSION_BYTES: usize = 4 * 1024;
/// Most bytes of chunk extensions in a whole body. Extensions carry nothing this layer uses, and
/// without a total a client could send gigabytes of them around a 1 MiB body (4 KiB per 1-byte
/// chunk), keeping a thread busy for as long as it cares to (hyper caps them at 16 KiB a body).
pub const MAX_BODY_EXTENSION_BYTES: usize = 64 * 1024;
/// Most bytes of the trailer section.
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Most trailer field lines.
pub const MAX_TRAILER_FIELDS: usize = 100;
/// A chunk size has at most this many hex digits (it then fills 64 bits).
const MAX_SIZE_DIGITS: u8 = 16;

/// The chunked framing is broken: the request gets 400 and the connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// What one call to [`Decoder::decode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Chunk data: this range of the input (its bytes were consumed).
    Data(Range<usize>),
    /// The input ran out before any data or the end; everything given was consumed.
    NeedMore,
    /// The last chunk and the trailer section are complete.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the chunk size's hex digits.
    Size {
        value: u64,
        digits: u8,
    },
    /// Whitespace after the size, which only a `;` may follow (§7.1.1's BWS).
    SizeSpace {
        value: u64,
    },
    /// Inside chunk extensions, until CR.
    Extension {
        value: u64,
    },
    /// After the CR of a chunk-size line.
    SizeLf {
        value: u64,
    },
    /// Chunk data still to come.
    Data {
        remaining: u64,
    },
    /// After the data, expecting CR then LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerLine,
    /// Inside a trailer field line.
    TrailerField,
    /// After the CR of a trailer field line.
    TrailerFieldLf,
    /// After the CR of the final empty line.
    EndLf,
    Done,
}

/// Decodes one chunked body. Feed it the bytes as they arrive.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    extension_bytes: usize,
    /// Extension bytes in the whole body so far.
    body_extension_bytes: usize,
    trailer_bytes: usize,
    trailer_fields: usize,
    /// The trailer line being read, to check its shape; fields are otherwise discarded.
    trailer_line: Vec<u8>,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            extension_bytes: 0,
            body_extension_bytes: 0,
            trailer_bytes: 0,
            trailer_fields: 0,
            trailer_line: Vec::new(),
        }
    }
}

impl Decoder {
    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing from `input` until it reaches chunk data (at most `max_data` bytes of
    /// it are returned), the end of the body, or the end of the input. Returns how many bytes
    /// of `input` were consumed (the data returned included) and what they held.
    ///
    /// # Errors
    /// [`Malformed`] when the bytes break RFC 9112 §7.1's grammar or its limits here.
    pub fn decode(&mut self, input: &[u8], max_data: usize) -> Result<(usize, Decoded), Malformed> {
        let mut at = 0;
        while at < input.len() {
            if let State::Data { remaining } = self.state {
                let available = (input.len() - at).min(max_data);
                let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
                if take == 0 {
                    return Ok((at, Decoded::NeedMore));
                }
                let left = remaining - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data { remaining: left }
                };
                return Ok((at + take, Decoded::Data(at..at + take)));
            }
            self.step(input[at])?;
            at += 1;
            if self.state == State::Done {
                return Ok((at, Decoded::End));
            }
        }
        Ok((
            at,
            if self.is_done() {
                Decoded::End
            } else {
                Decoded::NeedMore
            },
        ))
    }

    /// One framing byte.
    fn step(&mut self, byte: u8) -> Result<(), Malformed> {
        self.state = match (self.state, byte) {
            (State::Size { value, digits }, _) if byte.is_ascii_hexdigit() => {
                if digits == MAX_SIZE_DIGITS {
                    return Err(Malformed);
                }
                let digit = u64::from((byte as char).to_digit(16).expect("a hex digit"));
                State::Size {
                    value: value << 4 | digit,
                    digits: digits + 1,
                }
            }
            (State::Size { digits: 0, .. }, _) => return Err(Malformed),
            (State::Size { value, .. } | State::SizeSpace { value }, b' ' | b'\t') => {
                State::SizeSpace { value }
            }
            (State::Size { value, .. } | State::SizeSpace { value }, b';') => {
                self.extension_bytes = 0;
                State::Extension { value }
            }
            (State::Size { value, .. }, b'\r') => State::SizeLf { value },
            (State::Extension { value }, b'\r') => State::SizeLf { value },
            (State::Extension { value }, _) if is_field_byte(byte) => {
                self.extension_bytes += 1;
                self.body_extension_bytes += 1;
                if self.extension_bytes > MAX_EXTENSION_BYTES
                    || self.body_extension_bytes > MAX_BODY_EXTENSION_BYTES
                {
                    return Err(Malformed);
                }
                State::Extension { value }
            }
            (State::SizeLf { value: 0 }, b'\n') => State::TrailerLine,
            (State::SizeLf { value }, b'\n') => State::Data { remaining: value },
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size {
                value: 0,
                digits: 0,
            },
            (State::TrailerLine, b'\r') => State::EndLf,
            (State::EndLf, b'\n') => State::Done,
            (State::TrailerLine | State::TrailerField, _) if is_field_byte(byte) => {
                self.count_trailer_byte()?;
                self.trailer_line.push(byte);
                State::TrailerField
            }
            (State::TrailerField, b'\r') => {
                self.count_trailer_byte()?;
                State::TrailerFieldLf
            }
            (State::TrailerFieldLf, b'\n') => self.end_trailer_field()?,
            // Anything else, a bare LF or a CR without its LF included, breaks the framing.
            _ => return Err(Malformed),
        };
        Ok(())
    }

    fn count_trailer_byte(&mut self) -> Result<(), Malformed> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > MAX_TRAILER_BYTES {
            return Err(Malformed);
        }
        Ok(())
    }

    /// A trailer field line must look like a field line (§7.1.2: `field-name ":" field-value`);
    /// its content is read and discarded.
    fn end_trailer_field(&mut self) -> Result<State, Malformed> {
        self.trailer_fields += 1;
        let line = std::mem::take(&mut self.trailer_line);
        let colon = line.iter().position(|&b| b == b':').ok_or(Malformed)?;
        let name_ok = colon > 0 && line[..colon].iter().all(|&b| super::rules::is_tchar(b));
        if !name_ok || self.trailer_fields > MAX_TRAILER_FIELDS {
            return Err(Malformed);
        }
        self.trailer_line = line;
        self.trailer_line.clear();
        Ok(State::TrailerLine)
    }
}

/// Bytes allowed inside a field value or an extension: HTAB, SP, visible ASCII, obs-text.
fn is_field_byte(byte: u8) -> bool {
    byte == b'\t' || (0x20..=0x7e).contains(&byte) || byte >= 0x80
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
