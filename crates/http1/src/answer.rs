//! Writing one answer and logging it: what the log needs to know of the request ([`Answer`]),
//! and the [`Responder`] that serialises the head, sends it with the body, and hands the
//! service the [`Exchange`] for its access log or trace. Also the 503 at the connection cap,
//! the one answer written on a connection that is never served.

use std::net::SocketAddr;
use std::time::Instant;

use super::head;
use super::response::Response;
use super::rules::Refusal;
use super::service::{Exchange, Service, Settings, TransportError};
use super::wire::Wire;
use super::write::{self, Persistence};

/// What the log needs to know of an answer's request, and how to write the answer.
pub(crate) struct Answer<'a> {
    pub(crate) request: Option<(&'a str, &'a str)>,
    pub(crate) raw_head: &'a [u8],
    pub(crate) request_body: &'a [u8],
    pub(crate) request_body_len: u64,
    pub(crate) continue_sent: bool,
    pub(crate) transport_error: Option<TransportError>,
    pub(crate) persistence: Persistence,
    pub(crate) head_only: bool,
    pub(crate) started: Instant,
}

impl<'a> Answer<'a> {
    /// The answer to a head the layer refused: always the last on its connection. A refused
    /// HEAD request gets no content either (RFC 9110 §9.3.2: the server MUST NOT send any).
    pub(crate) fn refusal(refusal: Refusal, raw_head: &'a [u8], started: Instant) -> Answer<'a> {
        Answer {
            transport_error: Some(TransportError::Refused(refusal)),
            ..Answer::head_cut(raw_head, started)
        }
    }

    /// No answer: the client went away before its head was complete.
    pub(crate) fn head_cut(raw_head: &'a [u8], started: Instant) -> Answer<'a> {
        Answer {
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

/// Writes answers and logs them.
pub(crate) struct Responder<'r> {
    pub(crate) service: &'r dyn Service,
    pub(crate) settings: Settings,
    pub(crate) peer: SocketAddr,
    pub(crate) id: u64,
    /// The answer's head (a buffer reused across requests).
    pub(crate) response_head: &'r mut Vec<u8>,
}

impl Responder<'_> {
    /// Writes `response`, if there is one, and logs it. Returns whether it was written whole.
    pub(crate) fn answer(
        &mut self,
        wire: &mut dyn Wire,
        answer: &Answer<'_>,
        response: Option<&mut Response>,
    ) -> bool {
        self.response_head.clear();
        let service = self.service;
        let sent = response.map(|response| {
            write::head(self.response_head, response, answer.persistence, |name| {
                service.note(format_args!("dropped an unsendable {name} field"));
            });
            let window = self.settings.io_timeout;
            let sent = write::send(wire, self.response_head, response, answer.head_only, window);
            (&*response, sent)
        });
        let completed = sent.as_ref().is_some_and(|(_, sent)| sent.is_ok());
        self.service.log(&Exchange {
            peer: self.peer,
            connection: self.id,
            request: answer.request,
            raw_head: answer.raw_head,
            request_body: answer.request_body,
            request_body_len: answer.request_body_len,
            continue_sent: answer.continue_sent,
            transport_error: answer.transport_error,
            response: sent.as_ref().map(|(response, _)| *response),
            response_head: self.response_head,
            body_bytes: sent.and_then(|(_, sent)| sent.ok()).unwrap_or(0),
            elapsed: answer.started.elapsed(),
            completed,
        });
        completed
    }
}

/// The 503 at the connection cap, written and logged on a connection that is never served.
pub(crate) fn refuse_at_cap(responder: &mut Responder<'_>, wire: &mut dyn Wire) -> bool {
    let started = Instant::now();
    let mut response = responder.service.refuse(Refusal::ServiceUnavailable, None);
    let answer = Answer {
        head_only: false,
        transport_error: Some(TransportError::Refused(Refusal::ServiceUnavailable)),
        ..Answer::head_cut(&[], started)
    };
    responder.answer(wire, &answer, Some(&mut response))
}
