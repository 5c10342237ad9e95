//! One connection's loop (the shape of Go's `conn.serve`): wait for a request, read its head
//! under the request deadline, let the service answer, write the answer, then either read the
//! next request or close. Requests on one connection are answered one after the other, so
//! pipelined requests take effect in order (RFC 9112 §9.3.2) by construction.

use std::io::Read;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::body::{BodyFailure, BodyReader};
use super::head::{self, Head, Scan, Scanner, Version, MAX_FIELD_SECTION, MAX_REQUEST_LINE};
use super::io::{self as wire, Inbound};
use super::listener::Shared;
use super::registry::Slot;
use super::write::{self, Persistence};
use super::{Exchange, Refusal, Request, Service, TransportError};
use crate::error::ApiError;
use crate::http::Reply;

/// A body the handler left unread is read and discarded up to this much, to keep the
/// connection; a longer one closes it (CONTRACT §13).
pub const DRAIN_LIMIT: u64 = 64 * 1024;
/// RFC 9112 §9.6's lingering close: read and discard for at most this long...
const LINGER_TIME: Duration = Duration::from_secs(2);
/// ...or this many bytes.
const LINGER_BYTES: usize = 1024 * 1024;
/// The read buffer may grow to hold a head this long, and a little more, so that the scanner
/// sees a head over the limits before the buffer is full.
const HEAD_BUFFER_LIMIT: usize = MAX_REQUEST_LINE + MAX_FIELD_SECTION + 1024;

/// What happens after an answer.
enum Next {
    /// Read the next request.
    Continue,
    /// Close the connection.
    Close,
}

/// A connection's state between requests: the reading side and the answering side, kept apart
/// so a request's body can borrow the first while the second writes.
struct Connection<'s> {
    out: Responder<'s>,
    inbound: Inbound,
    /// The current head's bytes, copied out of the read buffer (reused across requests).
    head_bytes: Vec<u8>,
}

/// Writes answers and logs them.
struct Responder<'s> {
    shared: &'s Shared,
    slot: &'s Slot,
    peer: SocketAddr,
    /// The current answer's head (reused across requests).
    response_head: Vec<u8>,
}

/// Serves the connection in `slot` until it closes.
pub fn serve(shared: &Shared, slot: &Slot, peer: SocketAddr) {
    let mut connection = Connection {
        out: Responder {
            shared,
            slot,
            peer,
            response_head: Vec::with_capacity(256),
        },
        inbound: Inbound::new(slot.stream.clone()),
        head_bytes: Vec::new(),
    };
    while let Next::Continue = connection.next_request() {}
}

impl Connection<'_> {
    fn next_request(&mut self) -> Next {
        if !self.wait_while_idle() {
            return Next::Close;
        }
        let started = Instant::now();
        let head_len = self.read_head();
        let received = match head_len {
            Ok(head_len) => head_len,
            // What arrived of a refused head is kept for the log.
            Err(_) => self.inbound.buffered().len().min(MAX_REQUEST_LINE),
        };
        self.head_bytes.clear();
        self.head_bytes
            .extend_from_slice(&self.inbound.buffered()[..received]);
        let parsed = match head_len {
            Ok(head_len) => {
                self.inbound.consume(head_len);
                self.inbound.shrink();
                head::parse(&self.head_bytes).map_err(Some)
            }
            Err(refusal) => Err(refusal),
        };
        match parsed {
            Ok(head) => self.exchange(&head, started),
            Err(Some(refusal)) => {
                let mut reply = Reply::from(ApiError::from(refusal));
                self.out.shared.service.amend(None, &mut reply);
                let answer = Answer::refusal(&reply, refusal, &self.head_bytes, started);
                if self.out.answer(&answer) {
                    linger(&self.out.slot.stream);
                }
                Next::Close
            }
            // The client went away mid-head: nothing to answer (what came of it is logged).
            Err(None) => {
                if !self.head_bytes.is_empty() {
                    self.out
                        .answer(&Answer::head_cut(&self.head_bytes, started));
                }
                Next::Close
            }
        }
    }

    /// Waits for the first byte of the next request, as an idle connection that the registry
    /// may close (at shutdown, or to make room). Returns false when the connection should close.
    fn wait_while_idle(&mut self) -> bool {
        let (shared, slot) = (self.out.shared, self.out.slot);
        if !shared.registry.mark_idle(slot) || shared.is_stopping() {
            return false;
        }
        if self.inbound.buffered().is_empty() {
            // RFC 9112 §9.3: a connection idle for --keep-alive-timeout is closed, unanswered.
            let timeout = shared.settings.keep_alive_timeout;
            match self.inbound.fill(timeout, HEAD_BUFFER_LIMIT) {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
        shared.registry.mark_busy(slot)
    }

    /// Reads until the head is complete: its length, or the refusal it earned (`None`: the
    /// client went away).
    fn read_head(&mut self) -> Result<usize, Option<Refusal>> {
        // The head's deadline counts from its first byte, however slowly the rest trickles in.
        let deadline = Instant::now() + self.out.shared.settings.request_timeout;
        let mut scanner = Scanner::default();
        loop {
            match scanner.scan(self.inbound.buffered()) {
                Scan::Complete(head_len) => return Ok(head_len),
                Scan::Refused(refusal) => return Err(Some(refusal)),
                Scan::Partial => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Some(Refusal::RequestTimeout));
            }
            match self.inbound.fill(left, HEAD_BUFFER_LIMIT) {
                Ok(0) => return Err(None),
                Ok(_) => {}
                Err(error) if wire::is_timeout(&error) => {}
                Err(_) => return Err(None),
            }
        }
    }

    /// One request: the service answers, then what is left of the body decides the
    /// connection's fate.
    fn exchange(&mut self, head: &Head, started: Instant) -> Next {
        let Connection {
            out,
            inbound,
            head_bytes,
        } = self;
        let shared = out.shared;
        let mut request = Request {
            bytes: head_bytes,
            head,
            peer: out.peer,
            body: BodyReader::new(
                inbound,
                head.framing,
                head.expect_continue,
                shared.settings.io_timeout,
                shared.settings.body_sample_bytes,
            ),
        };
        let reply = shared.service.respond(&mut request);
        let keep_alive = head.keep_alive && !shared.is_stopping();
        let settled = settle(reply, &request, &*shared.service, keep_alive);
        let body = &mut request.body;
        let answer = Answer::for_request(settled.as_ref(), head, head_bytes, body, started);
        let persistence = answer.persistence;
        if !out.answer(&answer) || settled.is_none() {
            // The client stopped reading (the write was abandoned), or the connection ended
            // before the body did (nothing to answer, nothing changed).
            return Next::Close;
        }
        let unread = !body.is_complete();
        if persistence == Persistence::Close || (unread && !body.discard(DRAIN_LIMIT)) {
            linger(&out.slot.stream);
            return Next::Close;
        }
        Next::Continue
    }
}

/// The answer to send after the service answered: its reply replaced by 400 or 408 (amended by
/// the service) when the body's framing or pace failed (`None` when the client went away), and
/// whether the connection stays open.
fn settle(
    reply: Reply,
    request: &Request<'_>,
    service: &dyn Service,
    keep_alive: bool,
) -> Option<(Reply, Persistence)> {
    let body = &request.body;
    let persistence = match (keep_alive, request.version()) {
        (false, _) => Persistence::Close,
        (true, Version::Http10) => Persistence::KeepAliveHttp10,
        (true, Version::Http11) => Persistence::KeepAlive,
    };
    let refusal = match body.failure() {
        None => None,
        Some(BodyFailure::Gone) => return None,
        Some(BodyFailure::Malformed) => Some(Refusal::BadRequest),
        Some(BodyFailure::TimedOut) => Some(Refusal::RequestTimeout),
    };
    if let Some(refusal) = refusal {
        let mut reply = Reply::from(ApiError::from(refusal));
        service.amend(Some(request), &mut reply);
        return Some((reply, Persistence::Close));
    }
    // An unread body: a client still waiting for 100 Continue may never send it, and a long one
    // is not worth reading, so either ends the connection after the answer.
    let too_long = body.unread_length().is_some_and(|left| left > DRAIN_LIMIT);
    if !body.is_complete() && (body.is_continue_owed() || too_long) {
        return Some((reply, Persistence::Close));
    }
    Some((reply, persistence))
}

/// An answer to write and log, and what the log needs to know of its request.
struct Answer<'a> {
    /// `None`: nothing to write, only to log.
    reply: Option<&'a Reply>,
    request: Option<(&'a str, &'a str)>,
    raw_head: &'a [u8],
    request_body: &'a [u8],
    request_body_len: u64,
    continue_sent: bool,
    transport_error: Option<TransportError>,
    persistence: Persistence,
    head_only: bool,
    started: Instant,
}

impl<'a> Answer<'a> {
    /// The answer to a parsed request (`None` when the client went away before its body ended).
    fn for_request(
        settled: Option<&'a (Reply, Persistence)>,
        head: &Head,
        head_bytes: &'a [u8],
        body: &'a BodyReader<'_>,
        started: Instant,
    ) -> Answer<'a> {
        let method = head.method(head_bytes);
        Answer {
            reply: settled.map(|(reply, _)| reply),
            request: Some((method, head.target(head_bytes))),
            raw_head: head_bytes,
            request_body: body.sample(),
            request_body_len: body.total_len(),
            continue_sent: body.is_continue_sent(),
            transport_error: body.failure().map(TransportError::Body),
            persistence: settled.map_or(Persistence::Close, |(_, persistence)| *persistence),
            head_only: method == "HEAD",
            started,
        }
    }

    /// The answer to a head the layer refused: always the last on its connection. A refused
    /// HEAD request gets no content either (RFC 9110 §9.3.2: the server MUST NOT send any).
    fn refusal(
        reply: &'a Reply,
        refusal: Refusal,
        raw_head: &'a [u8],
        started: Instant,
    ) -> Answer<'a> {
        Answer {
            reply: Some(reply),
            transport_error: Some(TransportError::Refused(refusal)),
            ..Answer::head_cut(raw_head, started)
        }
    }

    /// No answer: the client went away before its head was complete.
    fn head_cut(raw_head: &'a [u8], started: Instant) -> Answer<'a> {
        Answer {
            reply: None,
            request: None,
            raw_head,
            request_body: &[],
            request_body_len: 0,
            continue_sent: false,
            transport_error: Some(TransportError::HeadCut),
            persistence: Persistence::Close,
            head_only: head::is_head_method(raw_head),
            started,
        }
    }
}

impl Responder<'_> {
    /// Writes the answer, if there is one, and logs it. Returns whether it was written whole.
    fn answer(&mut self, answer: &Answer<'_>) -> bool {
        self.response_head.clear();
        let sent = answer.reply.map(|reply| {
            write::head(&mut self.response_head, reply, answer.persistence);
            let window = self.shared.settings.io_timeout;
            let stream = &self.slot.stream;
            write::send(stream, &self.response_head, reply, answer.head_only, window)
        });
        let completed = sent.as_ref().is_some_and(Result::is_ok);
        self.shared.service.log(&Exchange {
            peer: self.peer,
            connection: self.slot.id,
            request: answer.request,
            raw_head: answer.raw_head,
            request_body: answer.request_body,
            request_body_len: answer.request_body_len,
            continue_sent: answer.continue_sent,
            transport_error: answer.transport_error,
            reply: answer.reply,
            response_head: &self.response_head,
            body_bytes: sent.and_then(Result::ok).unwrap_or(0),
            elapsed: answer.started.elapsed(),
            completed,
        });
        completed
    }
}

/// Closes politely: stop sending, then read and discard what the client still sends, so its
/// TCP stack does not answer our close with a reset that destroys the answer in flight.
pub(super) fn linger(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER_TIME;
    let mut scratch = [0u8; 16 * 1024];
    let mut discarded = 0;
    while discarded < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match (&*stream).read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(read) => discarded += read,
        }
    }
}
