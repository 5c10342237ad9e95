//! The byte-level check of a multipart body's framing (RFC 2046 §5.1.1), run on each chunk
//! before multer sees it. multer is lenient where CONTRACT §9 wants a 400 (preamble, header
//! blocks that never end) and refuses control bytes in header values that §9 reads; this
//! module decides those 400s and rewrites such bytes for multer while keeping what was sent.

use std::collections::VecDeque;
use std::mem;

use super::{INVALID, NO_NAME};

/// Most bytes in a row outside part data: leading newlines, a delimiter line with its padding
/// and a header block. multer bounds none of these and rescans its whole buffer on each poll
/// while in them, so a megabyte header line would cost a megabyte of memory and seconds of CPU.
/// Counted by position in the body, so whether a body is refused never depends on how the
/// network cut it into reads.
pub(super) const MAX_FRAMING_RUN: usize = 64 * 1024;

/// Where the body is, in RFC 2046 §5.1.1 terms.
///
/// multer skips any preamble and finds a header block's end only by searching for CRLF CRLF,
/// so the contract's 400s for text before the first delimiter and for a part whose headers
/// never end in a blank line are decided here, byte by byte, the way python-multipart
/// (FastAPI's parser) decides them. Data is only scanned for the next delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the first delimiter, `matched` bytes of `--boundary` seen. Leading CR and LF bytes
    /// are skipped, as python-multipart does; any other preamble is refused.
    Start { matched: usize },
    /// Part data, `matched` bytes of `CRLF--boundary` seen.
    Data { matched: usize },
    /// Right after a delimiter: `--` closes the body, else optional padding then CRLF.
    AfterDelimiter,
    /// The first `-` of a close delimiter's `--`.
    CloseDash,
    /// RFC 2046 transport padding (spaces, tabs) before the delimiter line's CRLF; multer allows it.
    Padding,
    /// The CR ending the delimiter line; LF must follow.
    DelimiterLf,
    /// At the start of a header line; `empty` until the part has a header.
    LineStart { empty: bool },
    /// Inside a header name: token characters up to `:` (RFC 9110 §5.1).
    HeaderName,
    /// Inside a header value, up to CR; multer's header parser judges the bytes, after
    /// control bytes were rewritten (see `Framing::track_headers`).
    HeaderValue,
    /// The CR ending a header line; LF must follow.
    HeaderLf,
    /// The CR of the blank line that ends the header block.
    BlankLf { empty: bool },
    /// After the close delimiter (RFC 2046's epilogue): ignored.
    Epilogue,
}

/// The values of a part's `Content-Type` and `Content-Disposition` as sent (trimmed of spaces
/// and tabs, as multer's are), for each one whose bytes multer only saw rewritten; `None` where
/// multer's value is the one sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct SentHeaders {
    pub(super) content_type: Option<Vec<u8>>,
    pub(super) disposition: Option<Vec<u8>>,
}

/// The framing check's state, carried from one chunk to the next.
pub(super) struct Framing {
    /// `CRLF--boundary`; the first delimiter lacks the CRLF.
    delimiter: Vec<u8>,
    stage: Stage,
    /// The header line being read (`name:value`), as sent. Bounded like the whole header block
    /// by `MAX_FRAMING_RUN`.
    line: Vec<u8>,
    /// Whether a byte of `line` was rewritten on its way to multer.
    line_rewritten: bool,
    /// What the current part's header lines so far had rewritten.
    part: SentHeaders,
    /// Bytes since part data last ended (or since the body began), bounded by
    /// `MAX_FRAMING_RUN`.
    framing_run: usize,
    /// Header blocks completed so far: the next one's index, as multer's `Field::index` counts.
    parts: usize,
    /// Parts with rewritten headers that multer has not yielded yet, by index. The body is read
    /// only one chunk ahead of the parser, so this holds at most one chunk's worth of parts.
    rewritten: VecDeque<(usize, SentHeaders)>,
}

impl Framing {
    pub(super) fn new(boundary: &str) -> Framing {
        Framing {
            delimiter: [b"\r\n--", boundary.as_bytes()].concat(),
            stage: Stage::Start { matched: 0 },
            line: Vec::new(),
            line_rewritten: false,
            framing_run: 0,
            part: SentHeaders::default(),
            parts: 0,
            rewritten: VecDeque::new(),
        }
    }

    /// Advances over `bytes`, rewriting control bytes in header values so multer accepts them;
    /// on an error, says at which byte and with which 400 detail.
    pub(super) fn scan(&mut self, bytes: &mut [u8]) -> Result<(), (usize, &'static str)> {
        let mut at = 0;
        while let Some(byte) = bytes.get_mut(at) {
            if self.stage == Stage::Epilogue {
                return Ok(());
            }
            if self.stage == (Stage::Data { matched: 0 }) && *byte != b'\r' {
                // Most bytes are file data: jump to the next CR, where a delimiter could start.
                let rest = bytes.get(at..).unwrap_or_default();
                match find_cr(rest) {
                    Some(skip) => at += skip,
                    None => return Ok(()),
                }
                continue;
            }
            let previous = self.stage;
            self.stage = self.step(*byte).map_err(|message| (at, message))?;
            match self.stage {
                Stage::Data { .. } | Stage::Epilogue => self.framing_run = 0,
                _ => self.framing_run += 1,
            }
            if self.framing_run > MAX_FRAMING_RUN {
                return Err((at, INVALID));
            }
            self.track_headers(previous, byte);
            at += 1;
        }
        Ok(())
    }

    /// Takes what header block `index` had rewritten (see `Driver::sent_headers`); asked once
    /// per block, in order.
    pub(super) fn sent_headers(&mut self, index: usize) -> SentHeaders {
        let queue = &mut self.rewritten;
        // Both sides count header blocks from 0, so the front is this field or a later one;
        // dropping anything older only guards against a mismatch leaving stale entries behind.
        while queue.front().is_some_and(|(part, _)| *part < index) {
            queue.pop_front();
        }
        match queue.front() {
            Some((part, _)) if *part == index => queue.pop_front().map(|(_, sent)| sent),
            _ => None,
        }
        .unwrap_or_default()
    }

    /// Keeps the header line as sent and hides its control bytes from multer.
    ///
    /// httparse (multer's header parser) refuses control bytes other than HTAB in a value, and
    /// a CR or LF ends the line, so a part `Content-Type: text/plain\x01` would be a 400
    /// `Invalid multipart data.`. CONTRACT §9 reads such a part normally and then refuses its
    /// type as a type (after the 422s and the 404) with the value as sent, so multer gets a `?`
    /// in place of each such byte, and the part's `Content-Type` and `Content-Disposition` are
    /// read from `SentHeaders` instead, as if httparse had taken the bytes.
    fn track_headers(&mut self, previous: Stage, byte: &mut u8) {
        match (previous, self.stage) {
            (_, Stage::HeaderName) => self.line.push(*byte),
            (_, Stage::HeaderValue) => {
                self.line.push(*byte);
                if byte.is_ascii_control() && *byte != b'\t' {
                    *byte = b'?';
                    self.line_rewritten = true;
                }
            }
            // The CR that ends a header line.
            (_, Stage::HeaderLf) => self.end_line(),
            // The LF of the blank line that ends the header block.
            (Stage::BlankLf { .. }, Stage::Data { .. }) => {
                let part = mem::take(&mut self.part);
                if part != SentHeaders::default() {
                    self.rewritten.push_back((self.parts, part));
                }
                self.parts += 1;
            }
            _ => {}
        }
    }

    fn end_line(&mut self) {
        let rewritten = mem::take(&mut self.line_rewritten);
        let colon = self.line.iter().position(|&b| b == b':');
        let (name, value) = self.line.split_at(colon.unwrap_or(self.line.len()));
        let slot = if name.eq_ignore_ascii_case(b"content-type") {
            &mut self.part.content_type
        } else if name.eq_ignore_ascii_case(b"content-disposition") {
            &mut self.part.disposition
        } else {
            self.line.clear();
            return;
        };
        // multer's header map keeps the last of repeated headers, so every line of that name
        // overwrites what an earlier one left. httparse trims spaces and tabs around a value.
        *slot = rewritten.then(|| {
            let value = value.get(1..).unwrap_or_default();
            let start = value.iter().position(|&b| b != b' ' && b != b'\t');
            let end = value.iter().rposition(|&b| b != b' ' && b != b'\t');
            match (start, end) {
                (Some(start), Some(end)) => value.get(start..=end).unwrap_or_default().to_vec(),
                _ => Vec::new(),
            }
        });
        self.line.clear();
    }

    fn step(&self, byte: u8) -> Result<Stage, &'static str> {
        let expects = |matched: usize| self.delimiter.get(matched) == Some(&byte);
        let complete = |matched: usize| matched + 1 == self.delimiter.len();
        Ok(match (self.stage, byte) {
            (Stage::Start { matched: 0 }, b'\r' | b'\n') => Stage::Start { matched: 0 },
            (Stage::Start { matched }, _) if expects(matched + 2) => {
                if complete(matched + 2) {
                    Stage::AfterDelimiter
                } else {
                    Stage::Start {
                        matched: matched + 1,
                    }
                }
            }
            (Stage::Data { matched }, _) if expects(matched) => {
                if complete(matched) {
                    Stage::AfterDelimiter
                } else {
                    Stage::Data {
                        matched: matched + 1,
                    }
                }
            }
            // The delimiter's only CR is its first byte (a boundary has no CR), so a mismatch
            // restarts the search at this byte.
            (Stage::Data { .. }, _) => Stage::Data {
                matched: usize::from(byte == b'\r'),
            },
            (Stage::AfterDelimiter, b'-') => Stage::CloseDash,
            (Stage::CloseDash, b'-') | (Stage::Epilogue, _) => Stage::Epilogue,
            (Stage::AfterDelimiter | Stage::Padding, b' ' | b'\t') => Stage::Padding,
            (Stage::AfterDelimiter | Stage::Padding, b'\r') => Stage::DelimiterLf,
            (Stage::DelimiterLf, b'\n') => Stage::LineStart { empty: true },
            (Stage::LineStart { empty }, b'\r') => Stage::BlankLf { empty },
            (Stage::LineStart { .. } | Stage::HeaderName, _) if is_token(byte) => Stage::HeaderName,
            (Stage::HeaderName, b':') => Stage::HeaderValue,
            (Stage::HeaderValue, b'\r') => Stage::HeaderLf,
            (Stage::HeaderValue, _) => Stage::HeaderValue,
            (Stage::HeaderLf, b'\n') => Stage::LineStart { empty: false },
            // No headers at all means no Content-Disposition, so no name (RFC 7578 §4.2).
            (Stage::BlankLf { empty: true }, b'\n') => return Err(NO_NAME),
            (Stage::BlankLf { empty: false }, b'\n') => Stage::Data { matched: 0 },
            _ => return Err(INVALID),
        })
    }
}

/// The index of the first CR in `bytes`. File data is almost all of an upload and every byte of
/// it passes here, so it is checked eight bytes at a time (a byte-by-byte search took a fifth
/// of an upload's CPU time); memchr would do the same, but as a direct dependency.
fn find_cr(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const CRS: u64 = u64::from_ne_bytes([b'\r'; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in words.by_ref() {
        let word = u64::from_ne_bytes(word.try_into().unwrap_or_default());
        let zero_where_cr = word ^ CRS;
        // Non-zero exactly when some byte of `zero_where_cr` is zero (a CR in `word`).
        if zero_where_cr.wrapping_sub(ONES) & !zero_where_cr & HIGHS != 0 {
            break;
        }
        offset += 8;
    }
    let tail = bytes.get(offset..).unwrap_or_default();
    tail.iter().position(|&b| b == b'\r').map(|at| offset + at)
}

/// RFC 9110 §5.6.2 `tchar`: what a header field name is made of.
fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_cr_agrees_with_a_byte_by_byte_search() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..80 {
            for _ in 0..50 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        // Mostly bytes next to CR, so near misses (0x0c, 0x0e, 0x8d) are common.
                        [b'\r', 0x0c, 0x0e, 0x8d, 0x00, 0xff, b'\n', b'a'][(state % 8) as usize]
                    })
                    .collect();
                let expected = bytes.iter().position(|&b| b == b'\r');
                assert_eq!(find_cr(&bytes), expected, "{bytes:?}");
                let without: Vec<u8> = bytes
                    .iter()
                    .map(|&b| if b == b'\r' { 0x8d } else { b })
                    .collect();
                assert_eq!(find_cr(&without), None, "{without:?}");
            }
        }
    }

    #[test]
    fn framing_rewrites_control_bytes_in_header_values_only() {
        let mut framing = Framing::new("B");
        let mut bytes = b"--B\r\nA: \x00x\x01\ty\x7f \r\n\r\n\x00\x01\r\n--B--".to_vec();
        assert_eq!(framing.scan(&mut bytes), Ok(()));
        assert_eq!(bytes, b"--B\r\nA: ?x?\ty? \r\n\r\n\x00\x01\r\n--B--");
        assert!(
            framing.rewritten.is_empty(),
            "only two headers are kept as sent"
        );

        let mut framing = Framing::new("B");
        let mut bytes =
            b"--B\r\ncontent-TYPE: \t a\x01 \t\r\nContent-Disposition: b\r\n\r\n".to_vec();
        assert_eq!(framing.scan(&mut bytes), Ok(()));
        let sent = SentHeaders {
            content_type: Some(b"a\x01".to_vec()),
            disposition: None,
        };
        assert_eq!(framing.rewritten, [(0, sent)]);
    }

    #[test]
    fn framing_error_is_reported_at_its_byte() {
        let mut framing = Framing::new("B");
        assert_eq!(
            framing.scan(&mut b"\r\n--B\r\nName: v\r\nbad line\r\n".to_vec()),
            Err((19, INVALID))
        );
        let mut framing = Framing::new("B");
        assert_eq!(
            framing.scan(&mut b"--B\r\n\r\n".to_vec()),
            Err((6, NO_NAME))
        );
        let mut framing = Framing::new("B");
        assert_eq!(
            framing.scan(&mut b"--B \t\r\nA: b\r\n\r\n\r\n-\r\n--B--anything".to_vec()),
            Ok(())
        );
        assert_eq!(framing.stage, Stage::Epilogue);
    }
}
