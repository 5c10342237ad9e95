//! Writing an answer: the status line (always `HTTP/1.1`, RFC 9110 §2.5), `Date`, the framing
//! fields the body implies, the response's own fields and `Connection`, then the body. A head
//! and the in-memory pieces after it leave in one `writev`, so Nagle's algorithm never holds a
//! body back behind its head (the 40 ms stall tiny_http's 1 KiB buffer caused); a file goes out
//! with the wire's `send_file` (`sendfile` on a socket).

use std::io::{IoSlice, Read, Write};
use std::time::Duration;

use super::date;
use super::response::{has_content, reason_phrase, Piece, Response};
use super::wire::{PacedWriter, Stop, Wire};

/// What the answer says about the connection's future (RFC 9112 §9.3, §9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Persistence {
    /// HTTP/1.1 default: nothing to say.
    KeepAlive,
    /// An HTTP/1.0 client that asked for `keep-alive` is told it is kept.
    KeepAliveHttp10,
    /// `Connection: close`: this is the last answer on the connection.
    Close,
}

/// Serialises the head of `response` into `out` (cleared first). A field whose value could end
/// the line is dropped and named to `dropped`.
pub(crate) fn head(
    out: &mut Vec<u8>,
    response: &Response,
    persistence: Persistence,
    mut dropped: impl FnMut(&str),
) {
    out.clear();
    let status = response.status;
    // Writing into a Vec cannot fail; formatting numbers in place spares an allocation each.
    let _ = write!(out, "HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    date::with_current(|date| push_fields(out, &[b"Date: ", date, b"\r\n"]));
    if has_content(status) {
        if let Some(content_type) = &response.content_type {
            push_field(out, "Content-Type", content_type, &mut dropped);
        }
        let _ = write!(out, "Content-Length: {}\r\n", response.body.len());
    }
    for (name, value) in &response.headers {
        push_field(out, name, value, &mut dropped);
    }
    match persistence {
        Persistence::KeepAlive => {}
        Persistence::KeepAliveHttp10 => push_field(out, "Connection", "keep-alive", &mut dropped),
        Persistence::Close => push_field(out, "Connection", "close", &mut dropped),
    }
    out.extend_from_slice(b"\r\n");
}

fn push_fields(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// One field line. Values made from client input are encoded before they get here; should one
/// still hold a byte that could end the line or the head, the field is dropped, never sent (a
/// response-splitting guard).
fn push_field(out: &mut Vec<u8>, name: &str, value: &str, dropped: &mut impl FnMut(&str)) {
    if value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        dropped(name);
        return;
    }
    push_fields(out, &[name.as_bytes(), b": ", value.as_bytes(), b"\r\n"]);
}

/// Writes `head` and, unless `head_only` or the status has no content, the response's body.
/// Returns the body bytes written.
///
/// # Errors
/// [`Stop`] when the client stopped reading for `window` (the pace rule) or went away.
pub(crate) fn send(
    wire: &mut dyn Wire,
    head: &[u8],
    response: &mut Response,
    head_only: bool,
    window: Duration,
) -> Result<u64, Stop> {
    let mut writer = PacedWriter::new(wire, window);
    if head_only || !has_content(response.status) {
        writer.write_all(&mut [IoSlice::new(head)])?;
        return Ok(0);
    }
    if let Some((source, len)) = response.body.stream_mut() {
        writer.write_all(&mut [IoSlice::new(head)])?;
        writer.copy(len, |buffer, _| source.read(buffer))?;
        return Ok(len);
    }
    let pieces = response.body.as_pieces();
    // Leading in-memory pieces go out with the head in one writev.
    let in_memory = pieces
        .iter()
        .take_while(|piece| matches!(piece, Piece::Bytes(_)))
        .count();
    let mut slices: Vec<IoSlice<'_>> = std::iter::once(IoSlice::new(head))
        .chain(pieces[..in_memory].iter().map(|piece| match piece {
            Piece::Bytes(bytes) => IoSlice::new(bytes),
            Piece::File { .. } => unreachable!("only in-memory pieces were counted"),
        }))
        .collect();
    writer.write_all(&mut slices)?;
    let mut sent: u64 = pieces[..in_memory].iter().map(Piece::len).sum();
    for piece in &pieces[in_memory..] {
        match piece {
            Piece::Bytes(bytes) => writer.write_all(&mut [IoSlice::new(bytes)])?,
            Piece::File { file, offset, len } => writer.send_file(file, *offset, *len)?,
        }
        sent += piece.len();
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Body;
    use crate::test_wire::Sent;
    use std::sync::Arc;

    fn sent(response: &mut Response, head_only: bool) -> Sent {
        let mut wire = Sent::new(b"", 1);
        let window = Duration::from_secs(5);
        let body_bytes = send(&mut wire, b"HEAD\r\n\r\n", response, head_only, window);
        let no_body = head_only || !has_content(response.status);
        let expected = if no_body { 0 } else { response.body.len() };
        assert_eq!(body_bytes, Ok(expected));
        wire
    }

    /// A head and an in-memory body leave in one call (no Nagle stall between them).
    #[test]
    fn a_head_and_bytes_leave_in_one_write() {
        let pieces = vec![Piece::Bytes("ab".into()), Piece::Bytes("cd".into())];
        let mut response = Response::new(200).with_body("text/plain", Body::pieces(pieces));
        let wire = sent(&mut response, false);
        assert_eq!(wire.written, b"HEAD\r\n\r\nabcd");
        assert_eq!(wire.writes, [12]);
        let wire = sent(&mut response, true);
        assert_eq!(wire.written, b"HEAD\r\n\r\n", "no body to HEAD");
        let mut no_content = Response::new(304).with_body("text/plain", Body::bytes("x"));
        assert_eq!(sent(&mut no_content, false).written, b"HEAD\r\n\r\n");
    }

    /// A wire that cannot send a file gets it copied; a stream is read as it is sent.
    #[test]
    fn files_and_streams_are_sent_whole() {
        let path = std::env::temp_dir().join(format!("http1-write-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let file = Arc::new(std::fs::File::open(&path).unwrap());
        std::fs::remove_file(&path).unwrap();
        let pieces = vec![
            Piece::Bytes("[".into()),
            Piece::File {
                file,
                offset: 2,
                len: 5,
            },
            Piece::Bytes("]".into()),
        ];
        let mut response = Response::new(206).with_body("text/plain", Body::pieces(pieces));
        assert_eq!(sent(&mut response, false).written, b"HEAD\r\n\r\n[23456]");
        let stream = Box::new(std::io::Cursor::new(b"streamed".to_vec()));
        let mut response = Response::new(200).with_body("text/plain", Body::stream(stream, 8));
        assert_eq!(sent(&mut response, false).written, b"HEAD\r\n\r\nstreamed");
    }

    fn head_text(response: &Response, persistence: Persistence) -> String {
        let mut out = Vec::new();
        head(&mut out, response, persistence, |name| {
            panic!("{name} dropped")
        });
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_head_has_framing_fields_and_ends_with_an_empty_line() {
        let response = Response::new(201)
            .with_body("application/json", Body::bytes(&b"{\"a\":1}"[..]))
            .with_header("Location", "/things/1");
        let text = head_text(&response, Persistence::KeepAlive);
        assert!(text.starts_with("HTTP/1.1 201 Created\r\nDate: "), "{text}");
        assert!(text.contains("\r\nContent-Type: application/json\r\nContent-Length: 7\r\nLocation: /things/1\r\n\r\n"), "{text}");
        assert!(!text.contains("Connection"));
    }

    /// RFC 9110 §8.6 and §15.4.5: no Content-Length or Content-Type on 204 and 304.
    #[test]
    fn no_content_statuses_have_no_framing_fields() {
        for status in [204, 304] {
            let response = Response::new(status).with_header("ETag", "\"x\"");
            let text = head_text(&response, Persistence::Close);
            assert!(!text.contains("Content-"), "{text}");
            assert!(
                text.ends_with("ETag: \"x\"\r\nConnection: close\r\n\r\n"),
                "{text}"
            );
        }
        let redirect = Response::new(307);
        assert!(head_text(&redirect, Persistence::KeepAlive).contains("Content-Length: 0\r\n"));
    }

    #[test]
    fn an_unsendable_value_is_dropped_not_sent() {
        let response = Response::new(204).with_header("Location", "/a\r\nSet-Cookie: x=1");
        let mut out = Vec::new();
        let mut dropped = Vec::new();
        head(&mut out, &response, Persistence::KeepAliveHttp10, |name| {
            dropped.push(name.to_owned());
        });
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("Set-Cookie"), "{text}");
        assert!(text.ends_with("Connection: keep-alive\r\n\r\n"), "{text}");
        assert_eq!(dropped, ["Location"]);
    }
}
