//! `http1`: request heads and body framing in taskd's HTTP/1.1 layer (`taskd::http1::head`,
//! `rules`, `chunked`), driven the way one connection drives them ([`conn`], a model of
//! `src/http1/conn.rs` and `body.rs` without socket or clock), with a split-invariance oracle.
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
//!   [`Event`]s: each head's outcome (method, target, version, framing, `Expect`, keep-alive,
//!   or the refusal), the body bytes the service read and the layer drained, the layer's own
//!   answer (400 for broken chunked framing) or the persistence of the service's, and where the
//!   next request starts;
//! - framing, whatever the split: refusals are only 400/414/431/417/501/505 and end the
//!   connection; each request starts where the previous one ended; a head is what the grammar
//!   says it is (it ends at the first empty line after the request line, parses again the
//!   same, and its framing, `Expect` and persistence are what its field lines say, read
//!   independently); a `Content-Length` body is exactly the next `n` bytes; a chunked body is what an
//!   independent whole-buffer decoder ([`reference`]) makes of the same bytes; HTTP/1.0 has
//!   neither chunked bodies nor `100-continue`.

mod body;
pub mod conn;
pub mod reference;

use taskd::fuzzing::ApiError;
use taskd::http1::head::{self, Version};
use taskd::http1::rules::{self, Framing};
use taskd::http1::Refusal;

pub use conn::{serve, Answer, App, Event, Persistence, Served, DRAIN_LIMIT};

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
    if whole != split {
        panic!(
            "split invariance: read whole and in reads of {:?} differ\nwhole: {}\nsplit: {}",
            &input.sizes[..input.sizes.len().min(16)],
            summary(&whole),
            summary(&split)
        );
    }
    check_events(&input.stream, &whole);
}

/// The events, with bodies shortened, for a readable panic message.
fn summary(events: &[Event]) -> String {
    let mut lines = Vec::new();
    for event in events {
        lines.push(match event {
            Event::Served(served) => format!(
                "{} {} {:?} {:?} at {}+{} body {} drained {} {:?} next {:?}",
                served.method,
                served.target.escape_default(),
                served.version,
                served.framing,
                served.at,
                served.head_len,
                served.body.len(),
                served.drained.len(),
                served.answer,
                served.next
            ),
            other => format!("{other:?}"),
        });
    }
    lines.join("\n       ")
}

/// The framing oracles, on the events of one read of the whole stream.
fn check_events(stream: &[u8], events: &[Event]) {
    let mut expected_at = 0;
    for (index, event) in events.iter().enumerate() {
        let last = index + 1 == events.len();
        match event {
            Event::Refused { at, refusal } => {
                assert_eq!(
                    *at, expected_at,
                    "a refused head starts where the last ended"
                );
                assert!(last, "a refusal ends the connection");
                let status = ApiError::from(*refusal).status();
                assert!(
                    matches!(status, 400 | 414 | 431 | 417 | 501 | 505),
                    "refusal {refusal:?} ({status}) from the bytes alone"
                );
            }
            Event::EndedInHead { at } | Event::EndedIdle { at } => {
                assert_eq!(
                    *at, expected_at,
                    "the stream ends where the last request ended"
                );
                assert!(last);
            }
            Event::Served(served) => {
                assert_eq!(
                    served.at, expected_at,
                    "a request starts where the last ended"
                );
                check_served(stream, served);
                match served.next {
                    Some(next) => expected_at = next,
                    None => assert!(last, "a closed connection serves nothing more"),
                }
            }
        }
    }
    if let Some(Event::EndedIdle { at }) = events.last() {
        assert_eq!(*at, stream.len(), "an idle end is the end of the stream");
    }
}

/// One served request against the grammar and an independent reading of its bytes.
fn check_served(stream: &[u8], served: &Served) {
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
        Ok((served.framing, served.expect_continue, served.keep_alive)),
        "framing, Expect and persistence from the field lines"
    );
    assert!(!served.method.is_empty() && served.method.bytes().all(rules::is_tchar));
    assert!(!served.target.is_empty() && served.target.bytes().all(|b| b.is_ascii_graphic()));
    if served.version == Version::Http10 {
        assert_ne!(
            served.framing,
            Framing::Chunked,
            "HTTP/1.0 cannot be chunked"
        );
        assert!(!served.expect_continue, "HTTP/1.0 ignores Expect");
    }
    if let Answer::Layer(refusal) = served.answer {
        assert_eq!(
            refusal,
            Refusal::BadRequest,
            "the layer answers a body only with 400"
        );
        assert_eq!(
            served.framing,
            Framing::Chunked,
            "only chunked framing breaks mid-body"
        );
    }
    // CONTRACT §13: a body the service left unread is drained up to 64 KiB "so the connection
    // stays usable"; a kept connection goes on exactly when its body was read to the end.
    assert!(
        served.drained.len() as u64 <= DRAIN_LIMIT,
        "drained past the limit"
    );
    let kept = matches!(
        served.answer,
        Answer::Service(Persistence::KeepAlive | Persistence::KeepAliveHttp10)
    );
    assert_eq!(
        served.next.is_some(),
        kept && served.complete,
        "a kept connection goes on after a whole body, and only then"
    );
    let mut framed = served.body.clone();
    framed.extend_from_slice(&served.drained);
    let rest = &stream[head_end..];
    match served.framing {
        Framing::None => {
            assert!(framed.is_empty(), "a body without framing");
            if let Some(next) = served.next {
                assert_eq!(next, head_end);
            }
        }
        Framing::Length(length) => {
            let declared = usize::try_from(length).unwrap_or(usize::MAX);
            let body = &rest[..declared.min(rest.len())];
            assert!(body.starts_with(&framed), "Content-Length body bytes");
            if served.complete {
                assert_eq!(framed.len(), declared, "a body read whole");
            }
            if let Some(next) = served.next {
                assert!(served.complete, "the next request after a whole body");
                assert_eq!(next, head_end + declared);
            }
        }
        Framing::Chunked => check_chunked(rest, &framed, served, head_end),
    }
}

/// A chunked body against [`reference::decode_chunked`] of the bytes after the head.
fn check_chunked(rest: &[u8], framed: &[u8], served: &Served, head_end: usize) {
    let refused = served.answer == Answer::Layer(Refusal::BadRequest);
    match reference::decode_chunked(rest) {
        reference::Chunked::Body { data, end } => {
            assert!(data.starts_with(framed), "chunked body bytes");
            assert!(!refused, "a well-formed chunked body refused");
            if served.complete {
                assert_eq!(framed, &data[..], "a chunked body read whole");
            }
            if let Some(next) = served.next {
                assert!(served.complete, "the next request after a whole body");
                assert_eq!(next, head_end + end);
            }
        }
        reference::Chunked::Malformed { data_before } => {
            assert!(
                data_before.starts_with(framed),
                "chunked body bytes before the fault"
            );
            assert!(!served.complete, "a broken chunked body decoded whole");
            if refused {
                assert_eq!(
                    framed,
                    &data_before[..],
                    "everything before the fault was read"
                );
            }
        }
        reference::Chunked::Truncated { data } => {
            assert!(
                data.starts_with(framed),
                "chunked body bytes before the end"
            );
            assert!(!refused, "a cut chunked body refused as broken");
            assert!(!served.complete, "a cut chunked body decoded whole");
        }
    }
}
