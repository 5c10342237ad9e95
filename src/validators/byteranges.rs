//! The body of a 206 with several ranges, `multipart/byteranges` (RFC 9110 §14.6; the framing of
//! RFC 2046 §5.1.1), laid out without touching the data: a list of segments that are either
//! literal bytes (delimiters and part heads) or a slice of the attachment. The writer streams
//! the slices from the blob file or from the shared `Bytes`, so a 206 never copies the whole
//! attachment, and the exact `Content-Length` is known before the first byte is sent.
//!
//! ```text
//! --B CRLF Content-Type: T CRLF Content-Range: bytes a-b/size CRLF CRLF <bytes a..=b>
//! CRLF --B CRLF ...                                                   <bytes c..=d>
//! CRLF --B-- CRLF
//! ```

use bytes::Bytes;

use super::digest::Digester;
use super::etag::EntityTag;
use super::range::ByteRange;

/// One piece of a laid-out body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Bytes to send as they are: a delimiter and a part's head, or the closing delimiter.
    Literal(Bytes),
    /// `len` bytes of the attachment from offset `start`.
    Slice {
        /// Offset of the first byte.
        start: u64,
        /// Bytes to send (at least 1).
        len: u64,
    },
}

impl Segment {
    /// Bytes this segment puts on the wire.
    pub fn len(&self) -> u64 {
        match self {
            Segment::Literal(bytes) => bytes.len() as u64,
            Segment::Slice { len, .. } => *len,
        }
    }

    /// Whether it sends nothing (never, for a laid-out body).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A `multipart/byteranges` body, laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteRangesBody {
    boundary: String,
    segments: Vec<Segment>,
    len: u64,
}

impl ByteRangesBody {
    /// Lays out `ranges` (in the order to send) of a representation of `size` bytes served as
    /// `part_type`, framed by `boundary` (see [`boundary_for`]).
    pub fn new(boundary: &str, part_type: &str, ranges: &[ByteRange], size: u64) -> ByteRangesBody {
        let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
        for (index, range) in ranges.iter().enumerate() {
            // RFC 2046 §5.1.1: the CRLF before a delimiter belongs to the delimiter, so the
            // first one, at the very start of the body, has none.
            let separator = if index == 0 { "" } else { "\r\n" };
            let head = format!(
                "{separator}--{boundary}\r\nContent-Type: {part_type}\r\nContent-Range: {}\r\n\r\n",
                range.content_range(size)
            );
            segments.push(Segment::Literal(Bytes::from(head)));
            segments.push(Segment::Slice {
                start: range.first,
                len: range.len(),
            });
        }
        let close = format!("\r\n--{boundary}--\r\n");
        segments.push(Segment::Literal(Bytes::from(close)));
        let len = segments.iter().map(Segment::len).sum();
        ByteRangesBody {
            boundary: boundary.to_owned(),
            segments,
            len,
        }
    }

    /// The response's `Content-Type`: `multipart/byteranges; boundary=<token>`.
    pub fn content_type(&self) -> String {
        format!("multipart/byteranges; boundary={}", self.boundary)
    }

    /// The boundary token.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The response's `Content-Length`: every segment's bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the body is empty (never: there is always a closing delimiter).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The segments, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The segments, for a writer that consumes them.
    pub fn into_segments(self) -> Vec<Segment> {
        self.segments
    }
}

/// A boundary for these ranges of the representation tagged `tag`: `taskd-` and 32 hex digits
/// derived from both, so the same request gets a byte-identical body.
///
/// RFC 2046 §5.1.1 wants a boundary that appears in none of the parts. taskd does not scan the
/// attachment for it (that would read every byte before sending one); a 128-bit value that
/// depends on the attachment's own digest appears in it only if its uploader built it so, and
/// then only that uploader's own downloads are garbled.
pub fn boundary_for(tag: &EntityTag, ranges: &[ByteRange]) -> String {
    let mut digester = Digester::new();
    digester.update(b"byteranges");
    digester.update(tag.as_str().as_bytes());
    for range in ranges {
        digester.update(&range.first.to_le_bytes());
        digester.update(&range.last.to_le_bytes());
    }
    format!("taskd-{}", digester.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validators::Digest;

    /// The body as a writer would send it from `data`.
    fn assemble(body: &ByteRangesBody, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for segment in body.segments() {
            match segment {
                Segment::Literal(bytes) => out.extend_from_slice(bytes),
                Segment::Slice { start, len } => {
                    let start = usize::try_from(*start).unwrap();
                    out.extend_from_slice(&data[start..start + usize::try_from(*len).unwrap()]);
                }
            }
        }
        out
    }

    #[test]
    fn two_ranges_byte_for_byte() {
        let data = b"0123456789abcdefghij";
        let ranges = [
            ByteRange {
                first: 10,
                last: 12,
            },
            ByteRange { first: 0, last: 1 },
        ];
        let body = ByteRangesBody::new("B", "text/plain", &ranges, 20);
        let expected =
            "--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-12/20\r\n\r\nabc\
             \r\n--B\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/20\r\n\r\n01\
             \r\n--B--\r\n";
        let sent = assemble(&body, data);
        assert_eq!(String::from_utf8(sent.clone()).unwrap(), expected);
        assert_eq!(body.len(), sent.len() as u64);
        assert_eq!(body.content_type(), "multipart/byteranges; boundary=B");
        assert_eq!(body.segments().len(), 5);
    }

    #[test]
    fn length_is_exact_for_many_ranges_and_large_offsets() {
        let size = 300 * 1024 * 1024 * 1024u64;
        let ranges: Vec<ByteRange> = (0..100)
            .map(|i| ByteRange {
                first: i * 3_000_000_000,
                last: i * 3_000_000_000 + i,
            })
            .collect();
        let tag = EntityTag::from_digest(Digest::of(b"big"));
        let boundary = boundary_for(&tag, &ranges);
        let body = ByteRangesBody::new(&boundary, "image/png", &ranges, size);
        let literal: u64 = body
            .segments()
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .map(Segment::len)
            .sum();
        let data: u64 = ranges.iter().map(ByteRange::len).sum();
        assert_eq!(body.len(), literal + data);
        assert!(body.segments().iter().all(|s| !s.is_empty()));
        let first_head = &body.segments()[0];
        let Segment::Literal(head) = first_head else {
            panic!("{first_head:?}")
        };
        let head = std::str::from_utf8(head).unwrap();
        assert!(head.ends_with("Content-Range: bytes 0-0/322122547200\r\n\r\n"));
    }

    #[test]
    fn boundaries_are_tokens_that_depend_on_tag_and_ranges() {
        let tag = EntityTag::from_digest(Digest::of(b"x"));
        let other = EntityTag::from_digest(Digest::of(b"y"));
        let one = [ByteRange { first: 0, last: 1 }];
        let two = [ByteRange { first: 0, last: 2 }];
        let boundary = boundary_for(&tag, &one);
        assert_eq!(boundary, boundary_for(&tag, &one));
        assert_ne!(boundary, boundary_for(&other, &one));
        assert_ne!(boundary, boundary_for(&tag, &two));
        // RFC 2046 §5.1.1: 1 to 70 characters; these are token characters, so the
        // Content-Type parameter needs no quotes.
        assert_eq!(boundary.len(), 38);
        assert!(boundary.starts_with("taskd-"));
        assert!(boundary
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }
}
