//! The model service the real `http1::Connection` answers with here, and what it observes: each
//! request as the layer hands it over (its head, the body bytes the service read), the layer's
//! own refusals, and each exchange as the layer logs it (the answer's head as written, whether
//! `100 Continue` went out, the transport error). Whether the connection went on after an
//! answer is what the wire saw (`Wire::linger`) and what came next.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http1::head;
use http1::{
    BodyLength, Connection, Exchange, Refusal, Request, Response, Service, Settings,
    TransportError, Version, Wire, CONTINUE,
};

use super::wire::{lock, Journal, ScriptedWire, Shared};

/// The body of every answer the model service gives.
const ANSWER_BODY: &[u8] = b"ok";

/// What the model service does with a request's body: reads at most `limit` bytes of it, in
/// reads of `read_size` bytes (as `handlers` do through `Read::take`), then answers 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App {
    /// Body bytes read at most (0: the route does not read the body).
    pub limit: u64,
    /// The size of each `read` call.
    pub read_size: usize,
}

/// How an exchange's answer went out, read from what the layer wrote and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The connection ended before the body did: nothing was answered.
    Gone,
    /// The layer's answer replaced the service's: broken chunked framing while reading the body.
    Layer(Refusal),
    /// The service's answer, with the persistence its head announced.
    Service(Persistence),
}

/// What an answer's head says of the connection (its `Connection` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// `Connection: close`.
    Close,
    /// No `Connection` field (HTTP/1.1's default).
    KeepAlive,
    /// `Connection: keep-alive` (to an HTTP/1.0 client).
    KeepAliveHttp10,
}

/// One request the service saw, and what the layer did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// Where its head starts in the stream, and the head's length.
    pub at: usize,
    pub head_len: usize,
    pub method: String,
    pub target: String,
    pub version: Version,
    pub body_length: BodyLength,
    pub expect_continue: bool,
    pub keep_alive: bool,
    /// Body bytes the service read.
    pub body: Vec<u8>,
    pub answer: Answer,
    /// Whether `100 Continue` was written (depends on the split: not if the body's first bytes
    /// came with the head).
    pub continue_sent: bool,
    /// Whether the connection went on to read another request.
    pub went_on: bool,
}

/// What happened on a connection, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A head the layer refused (answered with the refusal, then closed). `offset`: how far
    /// the layer had consumed the stream (the head's start, or its end when it was read whole
    /// and then failed to parse).
    Refused {
        offset: usize,
        refusal: Refusal,
    },
    Served(Served),
    /// The stream ended inside a head: nothing to answer.
    EndedInHead {
        offset: usize,
    },
    /// The stream ended between requests: an idle close.
    EndedIdle {
        offset: usize,
    },
}

/// What one connection produced.
#[derive(Debug)]
pub struct Outcome {
    pub events: Vec<Event>,
    /// What the layer wrote, and what the log says it wrote (`100 Continue`, heads, bodies).
    pub written: Vec<u8>,
    pub logged: Vec<u8>,
}

#[derive(Debug, Default)]
struct Record {
    events: Vec<Event>,
    /// The request being answered: respond ran, its log has not yet come.
    current: Option<Served>,
    /// The layer's refusal of the current request's body, if any.
    body_refusal: Option<Refusal>,
    /// A served request whose log came: whether the connection goes on is known at the next
    /// event, or at the end.
    answered: Option<Served>,
    logged: Vec<u8>,
}

struct Model {
    app: App,
    journal: Shared,
    record: Mutex<Record>,
}

impl Model {
    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The last answered request is followed by something: it went on unless the layer closed.
    fn settle_answered(&self, record: &mut Record) {
        if let Some(mut served) = record.answered.take() {
            let journal = lock(&self.journal);
            served.went_on = served.answer != Answer::Gone && !journal.lingered;
            record.events.push(Event::Served(served));
        }
    }
}

impl Service for Model {
    fn respond(&self, request: &mut Request<'_>) -> Response {
        let mut record = self.record();
        self.settle_answered(&mut record);
        let offset = {
            let mut journal = lock(&self.journal);
            journal.lingered = false;
            journal.offset
        };
        let raw_head = request.raw_head();
        let head = head::parse(raw_head).expect("the layer hands over heads that parse");
        assert_eq!(request.method(), head.method(raw_head));
        assert_eq!(request.version(), head.version);
        let declared = match head.body_length {
            BodyLength::None => Some(0),
            BodyLength::Fixed(length) => Some(length),
            BodyLength::Chunked => None,
        };
        assert_eq!(request.content_length(), declared);
        let mut body = Vec::new();
        let mut scratch = vec![0u8; self.app.read_size];
        while (body.len() as u64) < self.app.limit {
            let room = usize::try_from(self.app.limit - body.len() as u64)
                .map_or(self.app.read_size, |left| left.min(self.app.read_size));
            match request.body().read(&mut scratch[..room]) {
                Ok(0) | Err(_) => break,
                Ok(count) => body.extend_from_slice(&scratch[..count]),
            }
        }
        record.current = Some(Served {
            at: offset - raw_head.len(),
            head_len: raw_head.len(),
            method: request.method().to_owned(),
            target: request.target().to_owned(),
            version: head.version,
            body_length: head.body_length,
            expect_continue: head.expect_continue,
            keep_alive: head.keep_alive,
            body,
            answer: Answer::Gone,
            continue_sent: false,
            went_on: false,
        });
        record.body_refusal = None;
        Response::new(200).with_body("text/plain", http1::Body::bytes(ANSWER_BODY))
    }

    fn refuse(&self, refusal: Refusal, request: Option<&Request<'_>>) -> Response {
        let mut record = self.record();
        if request.is_some() {
            record.body_refusal = Some(refusal);
        } else {
            self.settle_answered(&mut record);
        }
        Response::new(refusal.status()).with_body("text/plain", http1::Body::bytes(&b"refused"[..]))
    }

    fn log(&self, exchange: &Exchange<'_>) {
        let mut record = self.record();
        if exchange.continue_sent {
            record.logged.extend_from_slice(CONTINUE);
        }
        record.logged.extend_from_slice(exchange.response_head);
        if let Some(response) = exchange.response {
            let sent = usize::try_from(exchange.body_bytes).expect("a small body");
            for piece in response.body.as_pieces() {
                if let http1::Piece::Bytes(bytes) = piece {
                    record.logged.extend_from_slice(bytes);
                }
            }
            let keep = record.logged.len() - response.body.len() as usize + sent;
            record.logged.truncate(keep);
        }
        let offset = lock(&self.journal).offset;
        match exchange.transport_error {
            Some(TransportError::Refused(refusal)) => {
                record.events.push(Event::Refused { offset, refusal });
            }
            Some(TransportError::HeadCut) => {
                self.settle_answered(&mut record);
                record.events.push(Event::EndedInHead { offset });
            }
            _ => {
                let mut served = record.current.take().expect("a log after respond");
                served.continue_sent = exchange.continue_sent;
                served.answer = match (exchange.response, record.body_refusal) {
                    (None, _) => Answer::Gone,
                    (Some(_), Some(refusal)) => Answer::Layer(refusal),
                    (Some(_), None) => Answer::Service(persistence(exchange.response_head)),
                };
                record.answered = Some(served);
            }
        }
    }
}

/// The persistence an answer's head announces.
fn persistence(head: &[u8]) -> Persistence {
    let has = |line: &[u8]| head.windows(line.len()).any(|window| window == line);
    match (
        has(b"\r\nConnection: close\r\n"),
        has(b"\r\nConnection: keep-alive\r\n"),
    ) {
        (true, false) => Persistence::Close,
        (false, true) => Persistence::KeepAliveHttp10,
        (false, false) => Persistence::KeepAlive,
        (true, true) => panic!("an answer both closes and keeps its connection"),
    }
}

/// Serves one connection whose client sends `stream` in reads of `sizes`, to the end, with the
/// real `http1::Connection`.
pub fn serve(stream: &[u8], sizes: &[usize], app: App) -> Outcome {
    let journal: Shared = Arc::new(Mutex::new(Journal::default()));
    let model = Model {
        app,
        journal: journal.clone(),
        record: Mutex::new(Record::default()),
    };
    let settings = Settings {
        // No deadline can pass: the scripted client has sent everything.
        request_timeout: Duration::from_secs(86_400),
        io_timeout: Duration::from_secs(86_400),
        keep_alive_timeout: Duration::from_secs(86_400),
        max_connections: 1,
        body_sample_bytes: 0,
    };
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 1));
    let wire = ScriptedWire::new(stream, sizes, journal.clone());
    let wire = Connection::new(wire, &model, settings, peer, 1).serve();
    let mut record = model.record();
    let went_idle = match record.answered.take() {
        Some(mut served) => {
            served.went_on = served.answer != Answer::Gone && !lock(&journal).lingered;
            let went_on = served.went_on;
            record.events.push(Event::Served(served));
            went_on
        }
        None => record.events.is_empty(),
    };
    if went_idle {
        let offset = wire.buffered().len() + lock(&journal).offset;
        record.events.push(Event::EndedIdle { offset });
    }
    Outcome {
        events: std::mem::take(&mut record.events),
        written: wire.written,
        logged: std::mem::take(&mut record.logged),
    }
}
