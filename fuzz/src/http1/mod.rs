//! `http1`: taskd's HTTP/1.1 layer, the `http1` crate, driven whole: the real
//! [`http1::Connection`] runs on a scripted wire ([`wire`]: the client's bytes handed out in
//! reads of fuzz-chosen sizes) and answers with a model service ([`service`]), so heads, body
//! framing, `100 Continue`, `Connection: close`, draining and every persistence decision are the
//! layer's own, observed from outside, with a split-invariance oracle.
//!
//! Input:
//! - byte 0: the model service ([`App`]): bits 0-2 pick how many body bytes it reads
//!   ([`APP_LIMITS`]), bits 3-5 the size of its reads ([`APP_READ_SIZES`]);
//! - byte 1: a count `n`, then `n` read-size bytes: `0` everything there is, `1..=127` 1 to 8
//!   bytes, `128..=255` 16 to 2048 bytes (cycled; none: one byte per read);
//! - 4 bytes: a repetition, so inputs of a few bytes reach the 8 KiB / 64 KiB / 16 KiB limits:
//!   count `c`, unit length byte `u`, position `p` (u16, little-endian): `c * 128` more copies
//!   of the stream's `u % 32 + 1` bytes at `p % (len + 1)`, inserted there (at most
//!   [`MAX_EXPANSION`] bytes); `c = 0`: none;
//! - the rest: the bytes the client sends on one connection.
//!
//! Oracles:
//! - nothing panics;
//! - **split invariance**: the stream read whole and read in the scripted sizes gives the same
//!   [`Event`]s: each head's outcome (method, target, version, body length, `Expect`,
//!   keep-alive, or the refusal), the body bytes the service read, the layer's own answer (400
//!   for broken chunked framing) or the persistence its answer announced, and whether the
//!   connection went on (only whether `100 Continue` was sent may differ: not when the body's
//!   first bytes came with the head);
//! - what the layer wrote is exactly what it logged: `100 Continue` when it says so, then each
//!   answer's head and body (none for HEAD), in order;
//! - framing, whatever the split: refusals are only 400/414/431/417/501/505 and end the
//!   connection; each request starts where the previous one's body ended; a head is what the
//!   grammar says it is (it ends at the first empty line after the request line, parses again
//!   the same, and its body length, `Expect` and persistence are what its field lines say, read
//!   independently); a `Content-Length` body is exactly the next `n` bytes; a chunked body is
//!   what an independent whole-buffer decoder ([`reference`]) makes of the same bytes; HTTP/1.0
//!   has neither chunked bodies nor `100 Continue`; `100 Continue` only to a request that asked
//!   for it and whose body was read;
//! - persistence (CONTRACT §13): a connection goes on only after an answer that kept it and a
//!   body read to its end, and it does go on when the answer kept it and the body, whole in the
//!   stream, left less than [`DRAIN_LIMIT`] unread for the layer to drain.

pub mod reference;
pub mod service;
pub mod wire;

use http1::head;
use http1::rules;
use http1::{BodyLength, Refusal, Version};

pub use service::{serve, Answer, App, Event, Outcome, Persistence, Served};

/// The connection layer drains a body the service left unread up to this much to keep the
/// connection (CONTRACT §13, `DRAIN_LIMIT` in `crates/http1/src/conn.rs`).
pub const DRAIN_LIMIT: u64 = 64 * 1024;

/// Body bytes the model service reads at most (byte 0, bits 0-2): everything, nothing (GET,
/// 404...), a little, `read_json`'s limit plus one...
pub const APP_LIMITS: [u64; 8] = [
    u64::MAX,
    0,
    1,
    5,
    100,
    4096,
    DRAIN_LIMIT + 1,
    1024 * 1024 + 1,
];
/// The size of the model service's reads (byte 0, bits 3-5).
pub const APP_READ_SIZES: [usize; 8] = [8192, 1, 2, 3, 7, 64, 1024, 65536];
/// A repetition adds at most this many bytes: enough to pass the 64 KiB field section and the
/// 64 KiB drain limit.
pub const MAX_EXPANSION: usize = 96 * 1024;

/// A decoded fuzz input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub app: App,
    /// Read sizes for the split run (never empty, never 0).
    pub sizes: Vec<usize>,
    pub stream: Vec<u8>,
}

impl Input {
    /// Decodes `data` as the module doc says; `None` when it is too short for the header.
    pub fn decode(data: &[u8]) -> Option<Input> {
        let (&app_byte, rest) = data.split_first()?;
        let (&count, rest) = rest.split_first()?;
        let count = usize::from(count).min(rest.len());
        let (size_bytes, rest) = rest.split_at(count);
        let mut sizes: Vec<usize> = size_bytes.iter().map(|&b| read_size(b)).collect();
        if sizes.is_empty() {
            sizes.push(1);
        }
        let (repeat, stream) = match rest {
            [c, u, p0, p1, stream @ ..] => ([*c, *u, *p0, *p1], stream),
            _ => ([0; 4], rest),
        };
        let app = App {
            limit: APP_LIMITS[usize::from(app_byte & 7)],
            read_size: APP_READ_SIZES[usize::from(app_byte >> 3 & 7)],
        };
        Some(Input {
            app,
            sizes,
            stream: expand(stream, repeat),
        })
    }
}

fn read_size(byte: u8) -> usize {
    match byte {
        0 => usize::MAX,
        1..=127 => usize::from(byte % 8) + 1,
        _ => usize::from(byte - 127) * 16,
    }
}

/// Inserts the repetition `[count, unit, p0, p1]` into `stream`.
fn expand(stream: &[u8], [count, unit, p0, p1]: [u8; 4]) -> Vec<u8> {
    let at = usize::from(u16::from_le_bytes([p0, p1])) % (stream.len() + 1);
    let unit = &stream[at..(at + usize::from(unit % 32) + 1).min(stream.len())];
    if count == 0 || unit.is_empty() {
        return stream.to_vec();
    }
    let copies = (usize::from(count) * 128).min(MAX_EXPANSION / unit.len());
    let mut expanded = Vec::with_capacity(stream.len() + copies * unit.len());
    expanded.extend_from_slice(&stream[..at]);
    for _ in 0..copies {
        expanded.extend_from_slice(unit);
    }
    expanded.extend_from_slice(&stream[at..]);
    expanded
}

/// Runs every oracle on one input.
pub fn check(data: &[u8]) {
    let Some(input) = Input::decode(data) else {
        return;
    };
    let whole = serve(&input.stream, &[usize::MAX], input.app);
    let split = serve(&input.stream, &input.sizes, input.app);
    for outcome in [&whole, &split] {
        assert!(
            outcome.written == outcome.logged,
            "what the layer wrote is not what it logged\nwritten: {}\nlogged: {}",
            outcome.written.escape_ascii(),
            outcome.logged.escape_ascii()
        );
    }
    if comparable(&whole.events) != comparable(&split.events) {
        panic!(
            "split invariance: read whole and in reads of {:?} differ\nwhole: {}\nsplit: {}",
            &input.sizes[..input.sizes.len().min(16)],
            summary(&whole.events),
            summary(&split.events)
        );
    }
    check_events(&input.stream, input.app, &whole.events);
    check_events(&input.stream, input.app, &split.events);
}

/// The events without what may depend on the split: whether `100 Continue` was sent, and how
/// far a refused head had been consumed (a head read whole is consumed before it is parsed; an
/// oversized one trickled in is refused while it is still buffered).
fn comparable(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .map(|event| match event {
            Event::Served(served) => Event::Served(Served {
                continue_sent: false,
                ..served.clone()
            }),
            Event::Refused { refusal, .. } => Event::Refused {
                offset: 0,
                refusal: *refusal,
            },
            other => other.clone(),
        })
        .collect()
}

/// The events, with bodies shortened, for a readable panic message.
fn summary(events: &[Event]) -> String {
    let mut lines = Vec::new();
    for event in events {
        lines.push(match event {
            Event::Served(served) => format!(
                "{} {} {:?} {:?} at {}+{} body {} {:?} continue {} went on {}",
                served.method,
                served.target.escape_default(),
                served.version,
                served.body_length,
                served.at,
                served.head_len,
                served.body.len(),
                served.answer,
                served.continue_sent,
                served.went_on
            ),
            other => format!("{other:?}"),
        });
    }
    lines.join("\n       ")
}

/// The framing oracles, on the events of one run.
fn check_events(stream: &[u8], app: App, events: &[Event]) {
    let mut expected_at = 0;
    for (index, event) in events.iter().enumerate() {
        let last = index + 1 == events.len();
        match event {
            Event::Refused { offset, refusal } => {
                // A head read whole was consumed before it failed to parse.
                let head_len = reference::head_end(&stream[expected_at..]).unwrap_or(0);
                assert!(
                    *offset == expected_at || *offset == expected_at + head_len,
                    "a refused head starts where the last request ended"
                );
                assert!(last, "a refusal ends the connection");
                let status = refusal.status();
                assert!(
                    matches!(status, 400 | 414 | 431 | 417 | 501 | 505),
                    "refusal {refusal:?} ({status}) from the bytes alone"
                );
            }
            Event::EndedInHead { offset } => {
                assert_eq!(
                    *offset, expected_at,
                    "the stream ends in a head that starts where the last request ended"
                );
                assert!(reference::head_end(&stream[expected_at..]).is_none());
                assert!(last);
            }
            Event::EndedIdle { offset } => {
                assert_eq!(*offset, expected_at, "the last request ended the stream");
                assert_eq!(
                    *offset,
                    stream.len(),
                    "an idle end is the end of the stream"
                );
                assert!(last);
            }
            Event::Served(served) => {
                assert_eq!(
                    served.at, expected_at,
                    "a request starts where the last ended"
                );
                let next = check_served(stream, app, served);
                match next {
                    Some(next) => expected_at = next,
                    None => assert!(last, "a closed connection serves nothing more"),
                }
            }
        }
    }
}

/// One served request against the grammar and an independent reading of its bytes; where the
/// next request starts, when the connection went on.
fn check_served(stream: &[u8], app: App, served: &Served) -> Option<usize> {
    let head_end = served.at + served.head_len;
    let head_bytes = &stream[served.at..head_end];
    assert_eq!(
        Some(served.head_len),
        reference::head_end(&stream[served.at..]),
        "where the head ends"
    );
    let head = head::parse(head_bytes).expect("a served head parses again");
    assert_eq!(head.method(head_bytes), served.method);
    let http11 = served.version == Version::Http11;
    let expected = reference::served_framing(http11, head.fields(head_bytes));
    assert_eq!(
        expected,
        Ok((
            served.body_length,
            served.expect_continue,
            served.keep_alive
        )),
        "body length, Expect and persistence from the field lines"
    );
    assert!(!served.method.is_empty() && served.method.bytes().all(rules::is_tchar));
    assert!(!served.target.is_empty() && served.target.bytes().all(|b| b.is_ascii_graphic()));
    if served.version == Version::Http10 {
        assert_ne!(
            served.body_length,
            BodyLength::Chunked,
            "HTTP/1.0 cannot be chunked"
        );
        assert!(!served.expect_continue, "HTTP/1.0 ignores Expect");
    }
    if served.continue_sent {
        assert!(served.expect_continue, "100 Continue unasked");
        assert!(
            app.limit > 0,
            "100 Continue for a body the service did not read"
        );
        assert!(
            served.body_length != BodyLength::None,
            "100 Continue without a body"
        );
    }
    if let Answer::Layer(refusal) = served.answer {
        assert_eq!(
            refusal,
            Refusal::BadRequest,
            "the layer answers a body only with 400"
        );
        assert_eq!(
            served.body_length,
            BodyLength::Chunked,
            "only chunked framing breaks mid-body"
        );
    }
    let kept = matches!(
        served.answer,
        Answer::Service(Persistence::KeepAlive | Persistence::KeepAliveHttp10)
    );
    assert!(
        !served.went_on || kept,
        "a connection goes on only if its answer kept it"
    );
    let rest = &stream[head_end..];
    // The body as the reference reads it: its data, and where it ends if it does.
    let (data, end) = match served.body_length {
        BodyLength::None => (Vec::new(), Some(0)),
        BodyLength::Fixed(length) => {
            let declared = usize::try_from(length).unwrap_or(usize::MAX);
            let data = rest[..declared.min(rest.len())].to_vec();
            let end = (declared <= rest.len()).then_some(declared);
            (data, end)
        }
        BodyLength::Chunked => check_chunked(rest, served),
    };
    assert!(
        data.starts_with(&served.body),
        "the body bytes the service read"
    );
    if (served.body.len() as u64) < app.limit && end.is_some() {
        assert_eq!(
            served.body, data,
            "a service that reads everything gets the whole body"
        );
    }
    let unread = (data.len() - served.body.len()) as u64;
    if served.went_on {
        let end = end.expect("a connection goes on after a whole body only");
        assert!(unread <= DRAIN_LIMIT, "drained past the limit");
        return Some(head_end + end);
    }
    // CONTRACT §13: a body the service left unread is drained up to 64 KiB "so the connection
    // stays usable".
    if kept && end.is_some() && unread < DRAIN_LIMIT {
        panic!("a kept connection with {unread} body bytes left to drain was closed");
    }
    None
}

/// A chunked body against [`reference::decode_chunked`] of the bytes after the head: its data
/// (before any fault) and where it ends, if it does.
fn check_chunked(rest: &[u8], served: &Served) -> (Vec<u8>, Option<usize>) {
    let refused = served.answer == Answer::Layer(Refusal::BadRequest);
    match reference::decode_chunked(rest) {
        reference::Chunked::Body { data, end } => {
            assert!(!refused, "a well-formed chunked body refused");
            (data, Some(end))
        }
        reference::Chunked::Malformed { data_before } => {
            if refused {
                assert_eq!(
                    served.body, data_before,
                    "everything before the fault was read"
                );
            }
            (data_before, None)
        }
        reference::Chunked::Truncated { data } => {
            assert!(!refused, "a cut chunked body refused as broken");
            (data, None)
        }
    }
}
