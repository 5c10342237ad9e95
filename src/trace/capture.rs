//! What the connection layer reports of one exchange (`http1::Exchange`) turned into a trace
//! block: the request head as received and its body's first bytes, then `100 Continue` when it
//! was sent and the answer's head as sent with its body's first bytes, and a note for each
//! transport error of CONTRACT §13. The answer's body is sampled here from the response (its
//! in-memory pieces, or positioned reads of its files), so writing answers costs nothing extra;
//! a streamed body, gone once sent, shows no sample.

use std::fs::File;
use std::os::unix::fs::FileExt;

use http1::{BodyFailure, Piece, Refusal, Response, TransportError};

use super::{BodySample, Exchange, Message, TraceSink, TRACE_BODY_BYTES};

/// Writes the block of `exchange` to `sink`.
pub fn write(sink: &TraceSink, exchange: &http1::Exchange<'_>) {
    let content_type = request_content_type(exchange.raw_head);
    let request = Message {
        head: exchange.raw_head,
        body: Some(BodySample {
            first_bytes: exchange.request_body,
            total_len: exchange.request_body_len,
            content_type: content_type.as_deref(),
        }),
    };
    let mut response_head = Vec::new();
    if exchange.continue_sent {
        // RFC 9110 §15.2.1: the interim answer went out before the body was read; shown
        // first among what the server sent, as `curl -v` shows it.
        response_head.extend_from_slice(http1::CONTINUE);
    }
    response_head.extend_from_slice(exchange.response_head);
    let sample = exchange
        .response
        .filter(|response| has_body(response, exchange))
        .map(|response| body_sample(response, exchange.body_bytes));
    let response = (!response_head.is_empty()).then(|| Message {
        head: &response_head,
        body: exchange
            .response
            .zip(sample.as_deref())
            .map(|(response, first_bytes)| BodySample {
                first_bytes,
                total_len: response.body.len(),
                content_type: response.content_type.as_deref(),
            }),
    });
    let abandoned = exchange.response.is_some() && !exchange.completed;
    sink.write(&Exchange {
        client: exchange.peer,
        connection: exchange.connection,
        request,
        request_error: exchange.transport_error.map(request_note),
        response,
        response_error: abandoned.then_some(
            "the answer was not written whole: the client stopped reading for --io-timeout, \
             or went away; the connection was closed",
        ),
    });
}

/// The request's `Content-Type`, when its head parsed (a refused head has no body to show).
fn request_content_type(raw_head: &[u8]) -> Option<String> {
    let head = http1::head::parse(raw_head).ok()?;
    let value = head.field(raw_head, "Content-Type")?;
    Some(String::from_utf8_lossy(value).into_owned())
}

/// Whether the answer has a body on the wire: not for HEAD, 1xx, 204 or 304 (RFC 9110 §6.4.1).
fn has_body(response: &Response, exchange: &http1::Exchange<'_>) -> bool {
    let head_only = exchange.request.is_some_and(|(method, _)| method == "HEAD");
    !head_only && http1::has_content(response.status) && !response.body.is_empty()
}

/// The first bytes of the response's body, at most [`TRACE_BODY_BYTES`] and at most what was
/// sent.
fn body_sample(response: &Response, sent: u64) -> Vec<u8> {
    let want = usize::try_from(sent).map_or(TRACE_BODY_BYTES, |sent| sent.min(TRACE_BODY_BYTES));
    let mut sample = Vec::with_capacity(want);
    for piece in response.body.as_pieces() {
        let room = want - sample.len();
        if room == 0 {
            break;
        }
        match piece {
            Piece::Bytes(bytes) => sample.extend_from_slice(&bytes[..room.min(bytes.len())]),
            Piece::File { file, offset, len } => {
                let (offset, len) = (*offset, *len);
                let room = usize::try_from(len).map_or(room, |len| len.min(room));
                if !read_file_start(file, offset, room, &mut sample) {
                    break;
                }
            }
        }
    }
    sample
}

/// Appends `count` bytes of `file` from `offset`; false when the file ended or failed first
/// (the trace then shows less, and counts the rest as not shown).
fn read_file_start(file: &File, offset: u64, count: usize, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    out.resize(start + count, 0);
    let mut filled = 0;
    while filled < count {
        match file.read_at(&mut out[start + filled..], offset + filled as u64) {
            Ok(0) | Err(_) => {
                out.truncate(start + filled);
                return false;
            }
            Ok(read) => filled += read,
        }
    }
    true
}

/// The note for a transport error: what happened, in the words of CONTRACT §13.
fn request_note(error: TransportError) -> &'static str {
    match error {
        TransportError::Refused(refusal) => refusal_note(refusal),
        TransportError::HeadCut => {
            "the connection ended before the request head was complete: nothing was answered"
        }
        TransportError::Body(BodyFailure::Malformed) => {
            "refused: the body's chunked framing is broken (RFC 9112 §7.1)"
        }
        TransportError::Body(BodyFailure::TimedOut) => {
            "refused: the body moved less than 1 KiB in an --io-timeout window"
        }
        TransportError::Body(BodyFailure::Gone) => {
            "the connection ended before the body did: nothing was answered, nothing changed"
        }
    }
}

fn refusal_note(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::BadRequest => {
            "refused: the request head breaks RFC 9112 (a line, Host, Content-Length or \
             Transfer-Encoding)"
        }
        Refusal::RequestTimeout => {
            "refused: the request head was not complete within --request-timeout"
        }
        Refusal::UriTooLong => "refused: the request line is over 8 KiB",
        Refusal::FieldsTooLarge => "refused: the header section is over 64 KiB or 100 lines",
        Refusal::ExpectationFailed => "refused: an Expect other than 100-continue",
        Refusal::NotImplemented => "refused: a transfer coding taskd cannot decode",
        Refusal::ServiceUnavailable => {
            "refused: --max-connections connections are open and none is idle"
        }
        Refusal::VersionNotSupported => "refused: a protocol version other than HTTP/1.x",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_sample_stops_at_2_kib_and_at_what_was_sent() {
        let json = format!("\"{}\"", "x".repeat(5000));
        let response =
            Response::new(200).with_body("application/json", http1::Body::bytes(json.into_bytes()));
        assert_eq!(body_sample(&response, 5002).len(), TRACE_BODY_BYTES);
        assert_eq!(body_sample(&response, 10), b"\"xxxxxxxxx");
        assert!(body_sample(&response, 0).is_empty());
    }

    #[test]
    fn a_streamed_file_is_sampled_with_a_positioned_read() {
        let path = std::env::temp_dir().join(format!("taskd-capture-{}", std::process::id()));
        std::fs::write(&path, "hello from a file\n".repeat(200)).unwrap();
        let file = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let response =
            Response::new(200).with_body("text/plain", http1::Body::file(Arc::new(file), 0, 3600));
        let sample = body_sample(&response, 3600);
        assert_eq!(sample.len(), TRACE_BODY_BYTES);
        assert!(sample.starts_with(b"hello from a file\nhello"));
    }
}
