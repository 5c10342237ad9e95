//! A reply's payload as the connection layer writes it: nothing, JSON, an attachment's shared
//! bytes, its open file, a stretch of it (a 206 with one range), or a `multipart/byteranges`
//! layout of literal bytes and slices of it (a 206 with several). [`Body::segments`] turns each
//! into bytes in memory and stretches of an open file, so no attachment is ever copied.

use std::fs::File;
use std::sync::Arc;

use bytes::Bytes;

use crate::storage::BodySource;
use crate::validators::{self, ByteRangesBody};

/// A reply's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// No body at all (204): no `Content-Type`, no `Content-Length` (RFC 9110 §8.6).
    Empty,
    /// `application/json`.
    Json(Vec<u8>),
    /// An attachment's bytes with its media type, shared with the store, not copied.
    File {
        /// The `Content-Type` to send.
        content_type: String,
        /// The bytes.
        bytes: Bytes,
    },
    /// An attachment streamed from its file (durable mode), never read into memory.
    Stream {
        /// The `Content-Type` to send.
        content_type: String,
        /// The open file.
        file: SharedFile,
        /// Its length, sent as `Content-Length`.
        len: u64,
    },
    /// One stretch of an attachment's file (a 206 with one range, durable mode), streamed
    /// from the open file; the rest of the file is never read.
    FileRange {
        /// The `Content-Type` to send: the attachment's own (RFC 9110 §15.3.7.1).
        content_type: String,
        /// The open file.
        file: SharedFile,
        /// Where the stretch starts.
        offset: u64,
        /// Its length, sent as `Content-Length`.
        len: u64,
    },
    /// A `multipart/byteranges` body (a 206 with several ranges, RFC 9110 §14.6): literal
    /// delimiters and part heads, and slices of the attachment read from `source` as they are
    /// sent, so nothing is copied.
    ByteRanges {
        /// `multipart/byteranges; boundary=...`.
        content_type: String,
        /// The attachment the slices are taken from.
        source: BodySource,
        /// The laid-out body.
        layout: ByteRangesBody,
    },
}

/// An open file that a `Reply` can carry: `Clone` and `PartialEq` by identity.
#[derive(Debug, Clone)]
pub struct SharedFile(pub Arc<File>);

impl PartialEq for SharedFile {
    fn eq(&self, other: &SharedFile) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A piece of a body as the connection layer writes it: bytes in memory, or a stretch of an
/// open file (read with positioned reads, so the file's cursor is never shared state).
#[derive(Debug, Clone, Copy)]
pub enum Segment<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// `len` bytes of `file` from `offset`.
    File {
        /// The open file.
        file: &'a File,
        /// Where the stretch starts.
        offset: u64,
        /// How long it is.
        len: u64,
    },
}

impl Segment<'_> {
    /// The segment's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Segment::Bytes(bytes) => bytes.len() as u64,
            Segment::File { len, .. } => *len,
        }
    }

    /// Whether the segment is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Body {
    /// The payload's length in bytes: the `Content-Length` sent.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Json(bytes) => bytes.len() as u64,
            Body::File { bytes, .. } => bytes.len() as u64,
            Body::Stream { len, .. } | Body::FileRange { len, .. } => *len,
            Body::ByteRanges { layout, .. } => layout.len(),
        }
    }

    /// Whether there is no payload.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `Content-Type` to send, if any.
    pub fn content_type(&self) -> Option<&str> {
        match self {
            Body::Empty => None,
            Body::Json(_) => Some("application/json"),
            Body::File { content_type, .. }
            | Body::Stream { content_type, .. }
            | Body::FileRange { content_type, .. }
            | Body::ByteRanges { content_type, .. } => Some(content_type),
        }
    }

    /// The payload as the pieces the connection layer writes, in order.
    pub fn segments(&self) -> Vec<Segment<'_>> {
        match self {
            Body::Empty => Vec::new(),
            Body::Json(bytes) => vec![Segment::Bytes(bytes)],
            Body::File { bytes, .. } => vec![Segment::Bytes(bytes)],
            Body::Stream { file, len, .. } => vec![Segment::File {
                file: &file.0,
                offset: 0,
                len: *len,
            }],
            Body::FileRange {
                file, offset, len, ..
            } => vec![Segment::File {
                file: &file.0,
                offset: *offset,
                len: *len,
            }],
            Body::ByteRanges { source, layout, .. } => layout
                .segments()
                .iter()
                .map(|segment| part_segment(source, segment))
                .collect(),
        }
    }
}

/// One piece of a `multipart/byteranges` body as the connection layer writes it.
fn part_segment<'a>(source: &'a BodySource, segment: &'a validators::Segment) -> Segment<'a> {
    match (segment, source) {
        (validators::Segment::Literal(bytes), _) => Segment::Bytes(bytes),
        (validators::Segment::Slice { start, len }, BodySource::Memory(bytes)) => {
            let range = usize::try_from(*start)
                .ok()
                .and_then(|start| Some(start..start.checked_add(usize::try_from(*len).ok()?)?));
            let slice = range.and_then(|range| bytes.get(range));
            Segment::Bytes(slice.expect("ranges are resolved against these very bytes"))
        }
        (validators::Segment::Slice { start, len }, BodySource::File { file, .. }) => {
            Segment::File {
                file,
                offset: *start,
                len: *len,
            }
        }
    }
}
