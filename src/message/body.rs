//! A reply's payload: nothing, JSON, an attachment's shared bytes, its open file, a stretch of
//! it (a 206 with one range), or a `multipart/byteranges` layout of literal bytes and slices of
//! it (a 206 with several). `server::response` turns each into the connection layer's pieces
//! (bytes in memory, stretches of an open file), so no attachment is ever copied.

use std::fs::File;
use std::sync::Arc;

use bytes::Bytes;

use crate::storage::BodySource;
use crate::validators::ByteRangesBody;

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
    /// A stretch of an attachment read as it is sent (a database's chunks, CONTRACT §14): the
    /// whole of it for a 200, one range for a 206; only the chunks it overlaps are fetched.
    Chunks {
        /// The `Content-Type` to send.
        content_type: String,
        /// The attachment.
        source: BodySource,
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

impl Body {
    /// The payload's length in bytes: the `Content-Length` sent.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Json(bytes) => bytes.len() as u64,
            Body::File { bytes, .. } => bytes.len() as u64,
            Body::Stream { len, .. } | Body::FileRange { len, .. } | Body::Chunks { len, .. } => {
                *len
            }
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
            | Body::Chunks { content_type, .. }
            | Body::ByteRanges { content_type, .. } => Some(content_type),
        }
    }
}
