//! One connection's loop (the shape of Go's `conn.serve`): wait for a request, read its head
//! under the request deadline, let the service answer, write the answer, then either read the
//! next request or close. Requests on one connection are answered one after the other, so
//! pipelined requests take effect in order (RFC 9112 §9.3.2) by construction. The loop runs on
//! any [`Wire`]: the socket in production, a scripted one in the fuzzer, which so drives this
//! very code.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::answer::{Answer, Responder};
use super::body::{BodyFailure, BodyReader};
use super::head::{self, Head, Scan, Scanner, MAX_FIELD_SECTION, MAX_REQUEST_LINE};
use super::response::Response;
use super::rules::{Refusal, Version};
use super::service::{Request, Service, Settings, TransportError};
use super::wire::{is_timeout, Wire};
use super::write::Persistence;

/// A body the handler left unread is read and discarded up to this much, to keep the
/// connection; a longer one closes it (CONTRACT §13).
pub const DRAIN_LIMIT: u64 = 64 * 1024;
/// The read buffer may grow to hold a head this long, and a little more, so that the scanner
/// sees a head over the limits before the buffer is full.
const HEAD_BUFFER_LIMIT: usize = MAX_REQUEST_LINE + MAX_FIELD_SECTION + 1024;

/// What happens after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Read the next request.
    Continue,
    /// Close the connection.
    Close,
}

/// Whoever keeps track of a connection (the registry): told when it waits for a request and
/// when it works on one, and asked whether the server is stopping.
pub(crate) trait Tracker {
    /// The connection waits for a request; false if it was closed meanwhile.
    fn idle(&self) -> bool;
    /// A request's first byte arrived; false if the connection was closed meanwhile.
    fn busy(&self) -> bool;
    /// Whether the server is stopping (no connection is kept after its answer).
    fn stopping(&self) -> bool;
}

/// No one keeps track: a connection served on its own, to its end.
struct Untracked<'s>(&'s AtomicBool);

impl Tracker for Untracked<'_> {
    fn idle(&self) -> bool {
        true
    }
    fn busy(&self) -> bool {
        true
    }
    fn stopping(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One connection: its wire, the service that answers on it, and the buffers reused across its
/// requests.
pub struct Connection<'s, W: Wire> {
    wire: W,
    service: &'s dyn Service,
    settings: Settings,
    peer: SocketAddr,
    id: u64,
    /// The current head's bytes, copied out of the read buffer.
    head_bytes: Vec<u8>,
    /// The current answer's head.
    response_head: Vec<u8>,
}

impl<'s, W: Wire> Connection<'s, W> {
    /// Connection number `id` from `peer` on `wire`, answered by `service`.
    pub fn new(
        wire: W,
        service: &'s dyn Service,
        settings: Settings,
        peer: SocketAddr,
        id: u64,
    ) -> Connection<'s, W> {
        Connection {
            wire,
            service,
            settings,
            peer,
            id,
            head_bytes: Vec::new(),
            response_head: Vec::with_capacity(256),
        }
    }

    /// Serves requests until the connection closes, then gives the wire back.
    pub fn serve(mut self) -> W {
        let stopping = AtomicBool::new(false);
        self.serve_tracked(&Untracked(&stopping));
        self.wire
    }

    /// Serves requests until the connection closes, telling `tracker` when it is idle.
    pub(crate) fn serve_tracked(&mut self, tracker: &dyn Tracker) {
        while self.wait_while_idle(tracker) && self.next_request(tracker) == Next::Continue {}
    }

    /// Waits for the first byte of the next request, as an idle connection that the registry
    /// may close (at shutdown, or to make room). Returns false when the connection should close.
    fn wait_while_idle(&mut self, tracker: &dyn Tracker) -> bool {
        if !tracker.idle() || tracker.stopping() {
            return false;
        }
        if self.wire.buffered().is_empty() {
            // RFC 9112 §9.3: a connection idle for --keep-alive-timeout is closed, unanswered.
            let timeout = self.settings.keep_alive_timeout;
            match self.wire.fill(timeout, HEAD_BUFFER_LIMIT) {
                Ok(0) | Err(_) => return false,
                Ok(_) => {}
            }
        }
        tracker.busy()
    }

    fn next_request(&mut self, tracker: &dyn Tracker) -> Next {
        let started = Instant::now();
        let head_len = self.read_head();
        let received = match head_len {
            Ok(head_len) => head_len,
            // What arrived of a refused head is kept for the log.
            Err(_) => self.wire.buffered().len().min(MAX_REQUEST_LINE),
        };
        self.head_bytes.clear();
        self.head_bytes
            .extend_from_slice(&self.wire.buffered()[..received]);
        let parsed = match head_len {
            Ok(head_len) => {
                self.wire.consume(head_len);
                self.wire.shrink();
                head::parse(&self.head_bytes).map_err(Some)
            }
            Err(refusal) => Err(refusal),
        };
        match parsed {
            Ok(head) => self.exchange(&head, started, tracker),
            Err(Some(refusal)) => {
                let mut response = self.service.refuse(refusal, None);
                let (mut responder, wire, head_bytes) = self.parts();
                let answer = Answer::refusal(refusal, head_bytes, started);
                if responder.answer(wire, &answer, Some(&mut response)) {
                    wire.linger();
                }
                Next::Close
            }
            // The client went away mid-head: nothing to answer (what came of it is logged).
            Err(None) => {
                let (mut responder, wire, head_bytes) = self.parts();
                if !head_bytes.is_empty() {
                    responder.answer(wire, &Answer::head_cut(head_bytes, started), None);
                }
                Next::Close
            }
        }
    }

    /// Reads until the head is complete: its length, or the refusal it earned (`None`: the
    /// client went away).
    fn read_head(&mut self) -> Result<usize, Option<Refusal>> {
        // The head's deadline counts from its first byte, however slowly the rest trickles in.
        let deadline = Instant::now() + self.settings.request_timeout;
        let mut scanner = Scanner::default();
        loop {
            match scanner.scan(self.wire.buffered()) {
                Scan::Complete(head_len) => return Ok(head_len),
                Scan::Refused(refusal) => return Err(Some(refusal)),
                Scan::Partial => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Some(Refusal::RequestTimeout));
            }
            match self.wire.fill(left, HEAD_BUFFER_LIMIT) {
                Ok(0) => return Err(None),
                Ok(_) => {}
                Err(error) if is_timeout(&error) => {}
                Err(_) => return Err(None),
            }
        }
    }

    /// One request: the service answers, then what is left of the body decides the
    /// connection's fate.
    fn exchange(&mut self, head: &Head, started: Instant, tracker: &dyn Tracker) -> Next {
        let Connection {
            wire,
            service,
            settings,
            peer,
            id,
            head_bytes,
            response_head,
        } = self;
        let mut request = Request {
            bytes: head_bytes,
            head,
            peer: *peer,
            body: BodyReader::new(
                wire,
                head.body_length,
                head.expect_continue,
                settings.io_timeout,
                settings.body_sample_bytes,
            ),
        };
        let response = service.respond(&mut request);
        let keep_alive = head.keep_alive && !tracker.stopping();
        let settled = final_answer(response, &request, *service, keep_alive);
        let body = &mut request.body;
        let sample = body.take_sample();
        let method = head.method(head_bytes);
        let (mut response, persistence) = match settled {
            Some((response, persistence)) => (Some(response), persistence),
            None => (None, Persistence::Close),
        };
        let answer = Answer {
            request: Some((method, head.target(head_bytes))),
            raw_head: head_bytes,
            request_body: &sample,
            request_body_len: body.total_len(),
            continue_sent: body.is_continue_sent(),
            transport_error: body.failure().map(TransportError::Body),
            persistence,
            head_only: method == "HEAD",
            started,
        };
        let mut responder = Responder {
            service: *service,
            settings: *settings,
            peer: *peer,
            id: *id,
            response_head,
        };
        if !responder.answer(body.wire(), &answer, response.as_mut()) || response.is_none() {
            // The client stopped reading (the write was abandoned), or the connection ended
            // before the body did (nothing to answer, nothing changed).
            return Next::Close;
        }
        let unread = !body.is_complete();
        if persistence == Persistence::Close || (unread && !body.discard(DRAIN_LIMIT)) {
            body.wire().linger();
            return Next::Close;
        }
        Next::Continue
    }

    /// What answers, the wire, and the current head.
    fn parts(&mut self) -> (Responder<'_>, &mut W, &[u8]) {
        let responder = Responder {
            service: self.service,
            settings: self.settings,
            peer: self.peer,
            id: self.id,
            response_head: &mut self.response_head,
        };
        (responder, &mut self.wire, &self.head_bytes)
    }
}

/// The answer to send after the service answered, and whether the connection stays open: the
/// service's, or the layer's 400 / 408 in its place when the body's framing or pace failed;
/// `None` when the client went away (nothing to answer).
fn final_answer(
    response: Response,
    request: &Request<'_>,
    service: &dyn Service,
    keep_alive: bool,
) -> Option<(Response, Persistence)> {
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
        return Some((service.refuse(refusal, Some(request)), Persistence::Close));
    }
    // An unread body: a client still waiting for 100 Continue may never send it, and a long one
    // is not worth reading, so either ends the connection after the answer.
    let too_long = body.unread_length().is_some_and(|left| left > DRAIN_LIMIT);
    if !body.is_complete() && (body.is_continue_owed() || too_long) {
        return Some((response, Persistence::Close));
    }
    Some((response, persistence))
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
