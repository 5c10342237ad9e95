//! One connection of taskd's HTTP/1.1 layer, without a socket or a clock: the steps of
//! `src/http1/conn.rs` (`next_request`, `read_head`, `exchange`, `settle`) and `body.rs`
//! (`BodyReader::read`, `read_length`, `read_chunked`, `discard`: this crate's `body.rs`), each
//! a few lines here around
//! the layer's own pure pieces (`head::Scanner`, `head::parse`, `rules` through `parse`,
//! `chunked::Decoder`). The socket is [`Wire`]: the client's bytes handed out by reads of
//! scripted sizes, so the same stream can be read whole or in any split.
//!
//! Left out, because they cannot change what the bytes mean: deadlines and the pace rule (no
//! 408 here), `100 Continue` (whether it is sent depends on timing: whether body bytes are
//! buffered yet), writing answers, the lingering close, the connection cap.

use taskd::http1::head::{self, Scan, Scanner, Version};
use taskd::http1::rules::Framing;
use taskd::http1::Refusal;

use super::body::{Body, Failure};

/// `conn::DRAIN_LIMIT` (CONTRACT §13): a body the service left unread is drained up to this many
/// (decoded) bytes to keep the connection.
pub const DRAIN_LIMIT: u64 = 64 * 1024;

/// The client's side of the socket: its bytes, handed out by reads of scripted sizes (cycled).
#[derive(Debug)]
pub struct Wire<'a> {
    stream: &'a [u8],
    sent: usize,
    sizes: &'a [usize],
    turn: usize,
}

impl<'a> Wire<'a> {
    /// `stream` read `sizes[0]`, `sizes[1]`, ... bytes at a time (at most what the reader has
    /// room for); `usize::MAX` is everything there is.
    pub fn new(stream: &'a [u8], sizes: &'a [usize]) -> Wire<'a> {
        assert!(!sizes.is_empty() && !sizes.contains(&0), "read sizes");
        Wire {
            stream,
            sent: 0,
            sizes,
            turn: 0,
        }
    }

    /// One `read` with room for `room` bytes; empty at the end of the stream.
    fn read(&mut self, room: usize) -> &'a [u8] {
        let size = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let count = size.min(room).min(self.stream.len() - self.sent);
        let bytes = &self.stream[self.sent..self.sent + count];
        self.sent += count;
        bytes
    }
}

/// `io::Inbound`: the read buffer in front of the wire.
#[derive(Debug)]
pub(super) struct Inbound<'a> {
    wire: Wire<'a>,
    buf: Vec<u8>,
    /// `buf[start..]` is received and not yet consumed.
    start: usize,
}

impl Inbound<'_> {
    pub(super) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub(super) fn consume(&mut self, count: usize) {
        self.start += count;
        assert!(self.start <= self.buf.len(), "consumed more than buffered");
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// `Inbound::fill`: one read into the buffer; 0 when the client closed.
    pub(super) fn fill(&mut self) -> usize {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let bytes = self.wire.read(usize::MAX);
        self.buf.extend_from_slice(bytes);
        bytes.len()
    }

    /// `Inbound::read_direct`: one read of at most `want` bytes past the (empty) buffer.
    pub(super) fn read_direct(&mut self, want: usize) -> &[u8] {
        assert!(
            self.buffered().is_empty(),
            "a direct read with bytes buffered"
        );
        self.wire.read(want)
    }

    /// Where in the stream the unconsumed bytes start.
    fn offset(&self) -> usize {
        self.wire.sent - self.buffered().len()
    }
}

/// What the model service does with a request's body: reads at most `limit` bytes of it, in
/// reads of `read_size` bytes (as `handlers` do through `Read::take`), then answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App {
    /// Body bytes read at most (0: the route does not read the body).
    pub limit: u64,
    /// The size of each `read` call.
    pub read_size: usize,
}

/// How a connection's exchange ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The connection ended before the body did: nothing is answered (`settle` gives `None`).
    Gone,
    /// The layer replaces the service's answer: broken chunked framing while the body was read.
    Layer(Refusal),
    /// The service's answer, with the persistence it is sent with (`write::Persistence`).
    Service(Persistence),
}

/// `write::Persistence`: the answer's `Connection` field and the connection's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    Close,
    KeepAlive,
    KeepAliveHttp10,
}

/// One request the service saw, and everything the layer did with its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// Where its head starts in the stream, and the head's length.
    pub at: usize,
    pub head_len: usize,
    pub method: String,
    pub target: String,
    pub version: Version,
    pub framing: Framing,
    pub expect_continue: bool,
    pub keep_alive: bool,
    /// Body bytes the service read.
    pub body: Vec<u8>,
    pub answer: Answer,
    /// Body bytes the layer read and discarded after the answer (`discard`).
    pub drained: Vec<u8>,
    /// Whether the body was read to its end, by the service or the layer.
    pub complete: bool,
    /// Where the next request starts, when the connection goes on.
    pub next: Option<usize>,
}

/// What happened on a connection, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A head the layer refused (answered with the refusal, then closed).
    Refused {
        at: usize,
        refusal: Refusal,
    },
    Served(Served),
    /// The stream ended inside a head: nothing to answer.
    EndedInHead {
        at: usize,
    },
    /// The stream ended between requests: an idle close.
    EndedIdle {
        at: usize,
    },
}

/// Serves one connection whose client sends `stream` in reads of `sizes`, to the end.
pub fn serve(stream: &[u8], sizes: &[usize], app: App) -> Vec<Event> {
    let mut inbound = Inbound {
        wire: Wire::new(stream, sizes),
        buf: Vec::new(),
        start: 0,
    };
    let mut events = Vec::new();
    loop {
        let event = next_request(&mut inbound, app);
        let goes_on = matches!(&event, Event::Served(served) if served.next.is_some());
        events.push(event);
        if !goes_on {
            return events;
        }
    }
}

/// `Connection::next_request` and `wait_while_idle`.
fn next_request(inbound: &mut Inbound<'_>, app: App) -> Event {
    let at = inbound.offset();
    if inbound.buffered().is_empty() && inbound.fill() == 0 {
        return Event::EndedIdle { at };
    }
    let head_len = match read_head(inbound) {
        Ok(head_len) => head_len,
        Err(Some(refusal)) => return Event::Refused { at, refusal },
        Err(None) => return Event::EndedInHead { at },
    };
    let head_bytes = inbound.buffered()[..head_len].to_vec();
    inbound.consume(head_len);
    match head::parse(&head_bytes) {
        Ok(head) => {
            let mut served = Served {
                at,
                head_len,
                method: head.method(&head_bytes).to_owned(),
                target: head.target(&head_bytes).to_owned(),
                version: head.version,
                framing: head.framing,
                expect_continue: head.expect_continue,
                keep_alive: head.keep_alive,
                body: Vec::new(),
                answer: Answer::Gone,
                drained: Vec::new(),
                complete: false,
                next: None,
            };
            let body = exchange(inbound, app, &mut served);
            served.complete = body.is_complete();
            Event::Served(served)
        }
        Err(refusal) => Event::Refused { at, refusal },
    }
}

/// `Connection::read_head`, without the deadline: `None` when the client went away.
fn read_head(inbound: &mut Inbound<'_>) -> Result<usize, Option<Refusal>> {
    let mut scanner = Scanner::default();
    loop {
        match scanner.scan(inbound.buffered()) {
            Scan::Complete(head_len) => return Ok(head_len),
            Scan::Refused(refusal) => return Err(Some(refusal)),
            Scan::Partial => {}
        }
        if inbound.fill() == 0 {
            return Err(None);
        }
    }
}

/// `Connection::exchange` and `settle`: the service reads what it reads of the body, then what
/// is left of it decides the answer and the connection's fate. Returns the body's state.
fn exchange(inbound: &mut Inbound<'_>, app: App, served: &mut Served) -> Body {
    let mut body = Body::new(served.framing, served.expect_continue);
    let mut out = Vec::new();
    while (out.len() as u64) < app.limit {
        let room = usize::try_from(app.limit - out.len() as u64)
            .map_or(app.read_size, |left| left.min(app.read_size));
        match body.read(inbound, &mut out, room) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    served.body = out;
    let persistence = match (served.keep_alive, served.version) {
        (false, _) => Persistence::Close,
        (true, Version::Http10) => Persistence::KeepAliveHttp10,
        (true, Version::Http11) => Persistence::KeepAlive,
    };
    served.answer = match body.failure {
        Some(Failure::Gone) => Answer::Gone,
        Some(Failure::Malformed) => Answer::Layer(Refusal::BadRequest),
        None => {
            let too_long = body.unread_length().is_some_and(|left| left > DRAIN_LIMIT);
            if !body.is_complete() && (body.is_continue_owed() || too_long) {
                Answer::Service(Persistence::Close)
            } else {
                Answer::Service(persistence)
            }
        }
    };
    let answered = served.answer == Answer::Service(persistence);
    if answered
        && persistence != Persistence::Close
        && (body.is_complete() || body.discard(inbound, &mut served.drained, DRAIN_LIMIT))
    {
        served.next = Some(inbound.offset());
    }
    body
}
