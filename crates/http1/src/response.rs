//! What a service answers: a status, its fields and a [`Body`] the layer writes without copying
//! it (bytes in memory are shared, files go out with `sendfile`, a streamed source is read as it
//! is sent). The layer adds `Date`, the framing fields the body implies and `Connection` itself
//! (see `write.rs`); it never looks inside the body.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;

/// One answer.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// `Content-Type`, sent (right after `Date`) when the status has content.
    pub content_type: Option<Cow<'static, str>>,
    /// The other fields, in order; the layer adds `Date`, `Content-Length` and `Connection`.
    pub headers: Vec<(&'static str, String)>,
    /// The content.
    pub body: Body,
}

impl Response {
    /// A response with no fields and no body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Body::empty(),
        }
    }

    /// Sets the body and its media type.
    pub fn with_body(mut self, content_type: impl Into<Cow<'static, str>>, body: Body) -> Response {
        self.content_type = Some(content_type.into());
        self.body = body;
        self
    }

    /// Adds a field.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// A piece of a body: bytes in memory or a stretch of an open file.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Bytes in memory, shared (never copied) with whoever made them.
    Bytes(Bytes),
    /// `len` bytes of `file` from `offset`, sent with `sendfile` (a positioned read, so one open
    /// file can serve several pieces and several answers at once).
    File {
        /// The open file.
        file: Arc<File>,
        /// Where the stretch starts.
        offset: u64,
        /// How long it is.
        len: u64,
    },
}

impl Piece {
    /// The piece's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Piece::Bytes(bytes) => bytes.len() as u64,
            Piece::File { len, .. } => *len,
        }
    }

    /// Whether the piece is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A source of body bytes read as they are sent, for content that is neither in memory nor in
/// a file (chunks fetched on demand). It must yield exactly the length it was given with.
pub type Stream = Box<dyn Read + Send>;

/// A response's content.
pub struct Body(Content);

enum Content {
    Empty,
    Pieces(Vec<Piece>),
    Stream { source: Stream, len: u64 },
}

impl Body {
    /// No content (`Content-Length: 0` where the status has content).
    pub fn empty() -> Body {
        Body(Content::Empty)
    }

    /// Bytes in memory, shared, not copied.
    pub fn bytes(bytes: impl Into<Bytes>) -> Body {
        Body::pieces(vec![Piece::Bytes(bytes.into())])
    }

    /// `len` bytes of an open file from `offset`.
    pub fn file(file: Arc<File>, offset: u64, len: u64) -> Body {
        Body::pieces(vec![Piece::File { file, offset, len }])
    }

    /// Pieces sent one after the other (a `multipart/byteranges` body: literal delimiters and
    /// stretches of a file or of shared bytes).
    pub fn pieces(pieces: Vec<Piece>) -> Body {
        Body(Content::Pieces(pieces))
    }

    /// `len` bytes read from `source` as they are sent.
    pub fn stream(source: Stream, len: u64) -> Body {
        Body(Content::Stream { source, len })
    }

    /// The content's length: the `Content-Length` sent.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Content::Empty => 0,
            Content::Pieces(pieces) => pieces.iter().map(Piece::len).sum(),
            Content::Stream { len, .. } => *len,
        }
    }

    /// Whether there is no content.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pieces in memory or in files; empty for a streamed body, whose bytes are gone once
    /// sent (a trace shows no sample of it).
    pub fn as_pieces(&self) -> &[Piece] {
        match &self.0 {
            Content::Pieces(pieces) => pieces,
            Content::Empty | Content::Stream { .. } => &[],
        }
    }

    /// The streamed source, if the body is one.
    pub(crate) fn stream_mut(&mut self) -> Option<(&mut Stream, u64)> {
        match &mut self.0 {
            Content::Stream { source, len } => Some((source, *len)),
            _ => None,
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Content::Empty => f.write_str("Body::Empty"),
            Content::Pieces(pieces) => f.debug_tuple("Body::Pieces").field(pieces).finish(),
            Content::Stream { len, .. } => write!(f, "Body::Stream({len} bytes)"),
        }
    }
}

/// RFC 9110 §15's reason phrases (the status line's text is informative only).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Whether a response with this status has content (RFC 9110 §6.4.1: never 1xx, 204, 304), so
/// whether it gets `Content-Type` and `Content-Length` (§8.6: not on 1xx and 204).
pub fn has_content(status: u16) -> bool {
    !(100..200).contains(&status) && status != 204 && status != 304
}
