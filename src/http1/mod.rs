//! taskd's HTTP/1.1 connection layer (CONTRACT §13, RFC 9112): a blocking accept loop with a
//! connection cap, one thread per connection that reads a head, frames its body, asks the
//! [`Service`] for an answer, writes it and reads the next request. It knows nothing of tasks;
//! the application knows nothing of sockets.
//!
//! - `listener`: binding, the accept loop, the 503 at the cap, shutdown.
//! - `registry`: the open connections, which are idle, and closing them (cap, shutdown).
//! - `conn`: one connection's loop: deadlines, answering, lingering close.
//! - `head` and `rules`: pure parsing of request heads, and the framing rules.
//! - `chunked`: the pure chunked decoder.
//! - `body`: the request body as a `Read`, with `100 Continue` and the pace rule.
//! - `io`: buffered reads and paced writes on the socket.
//! - `write`: serialising and sending answers.

mod body;
pub mod chunked;
mod conn;
pub mod head;
mod io;
mod listener;
mod registry;
pub mod rules;
mod write;

use std::net::SocketAddr;
use std::time::Duration;

pub use body::{BodyFailure, BodyReader, CONTINUE};
pub use head::Version;
pub use listener::{bind, start, OpenConnections, Running, Stopper};
pub use write::{has_content, reason_phrase};

use crate::http::Reply;

/// What the application does with requests.
pub trait Service: Send + Sync + 'static {
    /// Answers one request; it may read the body through [`Request::body`]. Never called again
    /// for this connection before the answer is written.
    fn respond(&self, request: &mut Request<'_>) -> Reply;

    /// Records one answer once it was written (or abandoned): the access log. Also called,
    /// with no reply, for a request that was never answered because its client went away.
    fn log(&self, exchange: &Exchange<'_>);

    /// Adds the application's own fields to an answer the layer made itself: a refusal before
    /// the head parsed (`request` is `None`), or the 400 / 408 that replaces the service's
    /// answer when the body failed. Does nothing unless implemented.
    fn amend(&self, request: Option<&Request<'_>>, reply: &mut Reply) {
        let _ = (request, reply);
    }
}

/// The deadlines and limits of CONTRACT §13.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// A head must be complete this long after its first byte (408).
    pub request_timeout: Duration,
    /// A body or an answer must move 1 KiB in every window this long.
    pub io_timeout: Duration,
    /// An idle connection is closed after this long.
    pub keep_alive_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Keep this many first bytes of each request body for [`Exchange::request_body`]
    /// (`--trace`); 0 keeps none.
    pub body_sample_bytes: usize,
}

/// Why a request is refused by the connection layer before the application sees it. Each has a
/// status and closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the head or the body framing breaks RFC 9112.
    BadRequest,
    /// 408: the head or the body came too slowly.
    RequestTimeout,
    /// 414: the request line is over 8 KiB.
    UriTooLong,
    /// 431: the field section is over 64 KiB or 100 lines.
    FieldsTooLarge,
    /// 417: an expectation other than `100-continue`.
    ExpectationFailed,
    /// 501: a transfer coding we cannot decode.
    NotImplemented,
    /// 503: the connection cap is reached and no connection is idle.
    ServiceUnavailable,
    /// 505: HTTP/0.x, or 2 and later.
    VersionNotSupported,
}

/// One request as the application sees it: its head, and its body as a `Read`.
#[derive(Debug)]
pub struct Request<'c> {
    bytes: &'c [u8],
    head: &'c head::Head,
    peer: SocketAddr,
    body: BodyReader<'c>,
}

impl<'c> Request<'c> {
    /// The method, case-sensitive.
    pub fn method(&self) -> &'c str {
        self.head.method(self.bytes)
    }

    /// The request target as sent.
    pub fn target(&self) -> &'c str {
        self.head.target(self.bytes)
    }

    /// The protocol version the client spoke.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The first value of a field (name case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&'c str> {
        self.head
            .field(self.bytes, name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// Every field line, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'c str, &'c [u8])> + '_ {
        self.head.fields(self.bytes)
    }

    /// The head exactly as received.
    pub fn raw_head(&self) -> &'c [u8] {
        self.bytes
    }

    /// The declared body length: `Some(0)` without a body, `None` for a chunked one.
    pub fn content_length(&self) -> Option<u64> {
        match self.head.framing {
            rules::Framing::None => Some(0),
            rules::Framing::Length(length) => Some(length),
            rules::Framing::Chunked => None,
        }
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The body. `100 Continue` is sent on the first read if the client asked for it.
    pub fn body(&mut self) -> &mut BodyReader<'c> {
        &mut self.body
    }
}

/// What went wrong at the transport level (CONTRACT §13), as the trace tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// Refused before a head was parsed (a broken or oversized head, one too slow, the
    /// connection cap); the answer's status says which.
    Refused(Refusal),
    /// The connection ended before the head was complete: nothing was answered.
    HeadCut,
    /// Reading the body failed: 400 or 408, or nothing at all when the client went away.
    Body(BodyFailure),
}

/// One answer, as the access log and the trace see it.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// The client's address.
    pub peer: SocketAddr,
    /// The connection's number (from 1, in accept order).
    pub connection: u64,
    /// Method and target, when the head parsed.
    pub request: Option<(&'a str, &'a str)>,
    /// The request head as received (what arrived of it, when it did not parse).
    pub raw_head: &'a [u8],
    /// The request body's first bytes as read (decoded when chunked), at most
    /// [`Settings::body_sample_bytes`].
    pub request_body: &'a [u8],
    /// The request body's length: as declared, or as decoded so far when chunked.
    pub request_body_len: u64,
    /// Whether `100 Continue` was sent before the answer.
    pub continue_sent: bool,
    /// What went wrong at the transport level, if anything.
    pub transport_error: Option<TransportError>,
    /// The answer; `None` when there was none (the client went away first).
    pub reply: Option<&'a Reply>,
    /// The answer's head as sent.
    pub response_head: &'a [u8],
    /// Body bytes written.
    pub body_bytes: u64,
    /// From the head's arrival to the answer's last byte.
    pub elapsed: Duration,
    /// Whether the answer was written whole.
    pub completed: bool,
}
