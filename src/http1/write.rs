//! Writing an answer: the status line (always `HTTP/1.1`, RFC 9110 §2.5), `Date`, the framing
//! fields the body implies, the reply's own fields and `Connection`, then the body. A head and
//! an in-memory body leave in one `writev`, so Nagle's algorithm never holds a body back behind
//! its head (the 40 ms stall tiny_http's 1 KiB buffer caused); a file goes out with `sendfile`.

use std::cell::RefCell;
use std::fs::File;
use std::io::{IoSlice, Write};
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::io::{Stop, Writer};
use crate::http::{http_date, Reply, Segment};

/// Bytes per `sendfile` call, so the pace rule is checked between calls.
const SENDFILE_CHUNK: usize = 4 * 1024 * 1024;
/// Buffer for copying a file when `sendfile` is not available for it.
const COPY_BUFFER: usize = 256 * 1024;

/// What the answer says about the connection's future (RFC 9112 §9.3, §9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// HTTP/1.1 default: nothing to say.
    KeepAlive,
    /// An HTTP/1.0 client that asked for `keep-alive` is told it is kept.
    KeepAliveHttp10,
    /// `Connection: close`: this is the last answer on the connection.
    Close,
}

/// RFC 9110 §15's reason phrases (the status line's text is informative only).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        206 => "Partial Content",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Whether a response with this status has content (RFC 9110 §6.4.1: never 1xx, 204, 304), so
/// whether it gets `Content-Type` and `Content-Length` (§8.6: not on 1xx and 204).
pub fn has_content(status: u16) -> bool {
    !(100..200).contains(&status) && status != 204 && status != 304
}

/// Serialises the head of `reply` into `out` (cleared first).
pub fn head(out: &mut Vec<u8>, reply: &Reply, persistence: Persistence) {
    out.clear();
    let status = reply.status;
    // Writing into a Vec cannot fail; formatting numbers in place spares an allocation each.
    let _ = write!(out, "HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    with_date(|date| push_fields(out, &[b"Date: ", date, b"\r\n"]));
    if has_content(status) {
        if let Some(content_type) = reply.body.content_type() {
            push_field(out, "Content-Type", content_type);
        }
        let _ = write!(out, "Content-Length: {}\r\n", reply.body.len());
    }
    for (name, value) in &reply.headers {
        push_field(out, name, value);
    }
    match persistence {
        Persistence::KeepAlive => {}
        Persistence::KeepAliveHttp10 => push_field(out, "Connection", "keep-alive"),
        Persistence::Close => push_field(out, "Connection", "close"),
    }
    out.extend_from_slice(b"\r\n");
}

fn push_fields(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// One field line. Values made from client input are encoded before they get here; should one
/// still hold a byte that could end the line or the head, the field is dropped and logged,
/// never sent (a response-splitting guard).
fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    if value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        crate::log::line(format_args!("taskd: dropped an unsendable {name} field"));
        return;
    }
    push_fields(out, &[name.as_bytes(), b": ", value.as_bytes(), b"\r\n"]);
}

/// The current `Date` value, formatted once per second per thread.
fn with_date<T>(use_date: impl FnOnce(&[u8]) -> T) -> T {
    thread_local! {
        static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    DATE.with_borrow_mut(|(cached_second, text)| {
        if *cached_second != second {
            *cached_second = second;
            *text = http_date(now);
        }
        use_date(text.as_bytes())
    })
}

/// Writes `head` and, unless `head_only` or the status has no content, the reply's body.
/// Returns the body bytes written.
///
/// # Errors
/// [`Stop`] when the client stopped reading for `window` (the pace rule) or went away.
pub fn send(
    stream: &TcpStream,
    head: &[u8],
    reply: &Reply,
    head_only: bool,
    window: Duration,
) -> Result<u64, Stop> {
    let mut writer = Writer::new(stream, window);
    let segments = if head_only || !has_content(reply.status) {
        Vec::new()
    } else {
        reply.body.segments()
    };
    // Leading in-memory segments go out with the head in one writev.
    let in_memory = segments
        .iter()
        .take_while(|segment| matches!(segment, Segment::Bytes(_)))
        .count();
    let mut slices: Vec<IoSlice<'_>> = std::iter::once(IoSlice::new(head))
        .chain(segments[..in_memory].iter().map(|segment| match segment {
            Segment::Bytes(bytes) => IoSlice::new(bytes),
            Segment::File { .. } => unreachable!("only byte segments were counted"),
        }))
        .collect();
    writer.write_all(&mut slices)?;
    let mut sent: u64 = segments[..in_memory].iter().map(Segment::len).sum();
    for segment in &segments[in_memory..] {
        match *segment {
            Segment::Bytes(bytes) => writer.write_all(&mut [IoSlice::new(bytes)])?,
            Segment::File { file, offset, len } => send_file(&mut writer, file, offset, len)?,
        }
        sent += segment.len();
    }
    Ok(sent)
}

/// Sends `len` bytes of `file` from `offset` with `sendfile` (no copy through user space, and a
/// positioned read, so one open file can serve several ranges), or by copying where the file
/// system cannot.
fn send_file(writer: &mut Writer<'_>, file: &File, mut offset: u64, len: u64) -> Result<(), Stop> {
    use rustix::io::Errno;
    let end = offset + len;
    while offset < end {
        writer.before_call()?;
        let count =
            usize::try_from(end - offset).map_or(SENDFILE_CHUNK, |left| left.min(SENDFILE_CHUNK));
        let before = offset;
        match rustix::fs::sendfile(writer.stream(), file, Some(&mut offset), count) {
            Ok(0) => return Err(Stop::Gone),
            Ok(_) | Err(Errno::INTR | Errno::AGAIN) => writer.record((offset - before) as usize),
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                return copy_file(writer, file, offset, end - offset)
            }
            Err(_) => return Err(Stop::Gone),
        }
    }
    Ok(())
}

fn copy_file(writer: &mut Writer<'_>, file: &File, mut offset: u64, len: u64) -> Result<(), Stop> {
    let end = offset + len;
    let mut buffer = vec![0u8; COPY_BUFFER.min(usize::try_from(len).unwrap_or(COPY_BUFFER))];
    while offset < end {
        let want =
            usize::try_from(end - offset).map_or(buffer.len(), |left| left.min(buffer.len()));
        let read = file
            .read_at(&mut buffer[..want], offset)
            .map_err(|_| Stop::Gone)?;
        if read == 0 {
            // The file is shorter than it was said to be: the length already sent cannot be met.
            return Err(Stop::Gone);
        }
        writer.write_all(&mut [IoSlice::new(&buffer[..read])])?;
        offset += read as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Body;

    fn head_text(reply: &Reply, persistence: Persistence) -> String {
        let mut out = Vec::new();
        head(&mut out, reply, persistence);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_json_head_has_framing_fields_and_ends_with_an_empty_line() {
        let reply =
            Reply::json(201, &serde_json::json!({"a": 1})).with_header("Location", "/tasks/1");
        let text = head_text(&reply, Persistence::KeepAlive);
        assert!(text.starts_with("HTTP/1.1 201 Created\r\nDate: "), "{text}");
        assert!(text.contains("\r\nContent-Type: application/json\r\nContent-Length: 7\r\nLocation: /tasks/1\r\n\r\n"), "{text}");
        assert!(!text.contains("Connection"));
    }

    /// RFC 9110 §8.6 and §15.4.5: no Content-Length or Content-Type on 204 and 304.
    #[test]
    fn no_content_statuses_have_no_framing_fields() {
        for status in [204, 304] {
            let reply = Reply {
                status,
                headers: vec![("ETag", "\"x\"".to_owned())],
                body: Body::Empty,
            };
            let text = head_text(&reply, Persistence::Close);
            assert!(!text.contains("Content-"), "{text}");
            assert!(
                text.ends_with("ETag: \"x\"\r\nConnection: close\r\n\r\n"),
                "{text}"
            );
        }
        let redirect = Reply {
            status: 307,
            headers: Vec::new(),
            body: Body::Empty,
        };
        assert!(head_text(&redirect, Persistence::KeepAlive).contains("Content-Length: 0\r\n"));
    }

    #[test]
    fn an_unsendable_value_is_dropped_not_sent() {
        let reply = Reply::no_content().with_header("Location", "/a\r\nSet-Cookie: x=1");
        let text = head_text(&reply, Persistence::KeepAliveHttp10);
        assert!(!text.contains("Set-Cookie"), "{text}");
        assert!(text.ends_with("Connection: keep-alive\r\n\r\n"), "{text}");
    }
}
