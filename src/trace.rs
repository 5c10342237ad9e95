//! `--trace`: each exchange (a request and its answer) as one block of text, the way `curl -v`
//! shows one, and the sink that writes each block to stderr whole.
//!
//! A block is a `* ` line naming the exchange (its number, counted as blocks are written, the
//! client and the connection), then every request line prefixed `> ` and every response line
//! prefixed `< `, head and body alike, so no byte a client sends can forge a line
//! of another kind or of another block. Heads are shown as they crossed the wire, except:
//! - the values of `Authorization`, `Proxy-Authorization` and `Cookie` read `[redacted]`
//!   (names compared case-insensitively, the name kept as sent);
//! - a CRLF line end is the line break itself; a bare LF line end (RFC 9112 §2.2 lets a server
//!   accept one in a request) shows as `\n` before the break, a CR elsewhere as `\r`, a tab as
//!   `\t`, other control bytes as `\x07`, C1 controls as `\u{85}`, bytes that are not UTF-8 as
//!   `\xff`; a backslash is left alone.
//!
//! A JSON or text body follows its head, escaped the same way except that LF and CRLF both
//! break lines (a final line end adds no empty line): its first 2 KiB, then `[… N more bytes]`
//! (a UTF-8 character cut by the 2 KiB edge is left out whole and counted in N). Other bodies
//! are one line, `[1048576 bytes of image/png]`.

use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};

use crate::log::QueuedStderr;

/// How much of a JSON or text body a block shows.
pub const TRACE_BODY_BYTES: usize = 2048;

/// Fields whose values never reach the trace: they carry credentials.
pub const REDACTED_FIELDS: &[&str] = &["Authorization", "Proxy-Authorization", "Cookie"];

/// One exchange, as the connection layer saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange<'a> {
    /// The client's address.
    pub client: SocketAddr,
    /// The connection's number (per process), so a reader can follow one keep-alive
    /// connection.
    pub connection: u64,
    /// The request as received; for a request that never parsed, the bytes that arrived.
    pub request: Message<'a>,
    /// What went wrong at the transport level while reading the request (CONTRACT §13: a head
    /// that does not parse, a timeout, a connection that ended before its body did).
    pub request_error: Option<&'a str>,
    /// The response as sent; `None` when nothing was (the connection was closed instead).
    pub response: Option<Message<'a>>,
    /// What went wrong while writing the response (a write abandoned after `--io-timeout`).
    pub response_error: Option<&'a str>,
}

/// A head and the start of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The head's bytes exactly as they crossed the wire, final empty line included.
    pub head: &'a [u8],
    /// The body; `None` when there is none (a 204, a HEAD's answer, a GET).
    pub body: Option<BodySample<'a>>,
}

/// What a block shows of a body: its first bytes and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodySample<'a> {
    /// The body's first bytes (decoded when chunked); only [`TRACE_BODY_BYTES`] are shown.
    pub first_bytes: &'a [u8],
    /// The body's whole length in bytes.
    pub total_len: u64,
    /// Its `Content-Type` value, parameters included.
    pub content_type: Option<&'a str>,
}

/// The block for one exchange, numbered `sequence`, ending in a line break.
#[cfg(test)]
pub fn format_exchange(sequence: u64, exchange: &Exchange<'_>) -> String {
    let mut block = first_line(sequence, exchange);
    block.push_str(&format_lines(exchange));
    block
}

/// The line that opens a block: its number, the client and the connection.
fn first_line(sequence: u64, exchange: &Exchange<'_>) -> String {
    format!(
        "* #{sequence} from {}, connection {}\n",
        exchange.client, exchange.connection
    )
}

/// The block without its first line.
fn format_lines(exchange: &Exchange<'_>) -> String {
    let mut block = String::new();
    write_message(&mut block, '>', &exchange.request);
    write_note(&mut block, exchange.request_error);
    if let Some(response) = &exchange.response {
        write_message(&mut block, '<', response);
    }
    write_note(&mut block, exchange.response_error);
    block
}

/// Writes blocks to stderr (or any writer), each in one locked write, and numbers exchanges.
#[derive(Debug)]
pub struct TraceSink<W: Write = QueuedStderr> {
    /// Held for exactly one `write_all` per block, and the number the last block got. For
    /// stderr, the block is one entry of the log queue, written whole by its one writer, so
    /// no other line can land inside a block either, and blocks keep their numbers' order.
    out: Mutex<(W, u64)>,
}

impl TraceSink {
    /// A sink on the process's stderr, through the log queue (a stderr nobody reads drops
    /// blocks instead of stalling requests).
    pub fn stderr() -> TraceSink {
        TraceSink::new(QueuedStderr)
    }
}

impl<W: Write> TraceSink<W> {
    /// A sink on `out`; the first block is numbered 1.
    pub fn new(out: W) -> TraceSink<W> {
        TraceSink {
            out: Mutex::new((out, 0)),
        }
    }

    /// Writes the exchange's block in one write, numbered one more than the block before it:
    /// blocks appear as exchanges end, and numbered under the same lock as the write, the
    /// numbers go up the way a reader reads. The block is formatted before taking the lock.
    /// A failed write (stderr closed) is ignored: tracing must never break serving. Returns
    /// the block's number.
    pub fn write(&self, exchange: &Exchange<'_>) -> u64 {
        let lines = format_lines(exchange);
        let mut guard = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let (out, last) = &mut *guard;
        *last += 1;
        let mut block = first_line(*last, exchange);
        block.push_str(&lines);
        let _ = out.write_all(block.as_bytes()).and_then(|()| out.flush());
        *last
    }

    /// The writer, for tests.
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }
}

fn write_note(block: &mut String, note: Option<&str>) {
    if let Some(note) = note {
        block.push_str("* ");
        escape_into(block, note.as_bytes());
        block.push('\n');
    }
}

fn write_message(block: &mut String, marker: char, message: &Message<'_>) {
    write_head(block, marker, message.head);
    if let Some(body) = &message.body {
        write_body(block, marker, body);
    }
}

/// One line of the block: the marker, then a space and the text unless it is empty.
fn push_line(block: &mut String, marker: char, text: &str) {
    block.push(marker);
    if !text.is_empty() {
        block.push(' ');
        block.push_str(text);
    }
    block.push('\n');
}

fn write_head(block: &mut String, marker: char, head: &[u8]) {
    // A continuation line (obs-fold, RFC 9112 §5.2) belongs to the field above it, so it is
    // redacted with it: a refused request may carry one.
    let mut redacting = false;
    let mut rest = head;
    while !rest.is_empty() {
        let (line, bare_lf, next) = match rest.iter().position(|&byte| byte == b'\n') {
            Some(lf) => match rest[..lf].strip_suffix(b"\r") {
                Some(line) => (line, false, &rest[lf + 1..]),
                None => (&rest[..lf], true, &rest[lf + 1..]),
            },
            None => (rest, false, &rest[rest.len()..]),
        };
        let continues = matches!(line.first(), Some(b' ' | b'\t'));
        let mut text = String::new();
        if continues && redacting {
            text.push_str("[redacted]");
        } else if let Some(name) = redacted_name(line) {
            redacting = true;
            escape_into(&mut text, name);
            text.push_str(": [redacted]");
        } else {
            redacting = redacting && continues;
            escape_into(&mut text, line);
        }
        if bare_lf {
            text.push_str("\\n");
        }
        push_line(block, marker, &text);
        rest = next;
    }
}

/// The name of a field line whose value must not be shown. The name is trimmed before the
/// comparison: `Authorization : x` is refused by taskd (RFC 9112 §5.1) but still traced.
fn redacted_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|&byte| byte == b':')?;
    let name = &line[..colon];
    let trimmed = name.trim_ascii();
    REDACTED_FIELDS
        .iter()
        .any(|field| trimmed.eq_ignore_ascii_case(field.as_bytes()))
        .then_some(name)
}

fn write_body(block: &mut String, marker: char, body: &BodySample<'_>) {
    if body.total_len == 0 {
        return;
    }
    let media_type = body
        .content_type
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .filter(|media_type| !media_type.is_empty());
    match media_type {
        Some(media_type) if is_textual(media_type) => write_text(block, marker, body),
        Some(media_type) => {
            let mut text = format!("[{} of ", bytes(body.total_len));
            escape_into(&mut text, media_type.as_bytes());
            text.push(']');
            push_line(block, marker, &text);
        }
        None => {
            let text = format!("[{}, no Content-Type]", bytes(body.total_len));
            push_line(block, marker, &text);
        }
    }
}

/// JSON (`application/json`, any `+json`, RFC 6839 §3.1), `text/*`, and form data, which
/// `curl -d` sends by default and a learner should see.
fn is_textual(media_type: &str) -> bool {
    let media_type = media_type.to_ascii_lowercase();
    media_type.starts_with("text/")
        || media_type == "application/json"
        || media_type.ends_with("+json")
        || media_type == "application/x-www-form-urlencoded"
}

fn write_text(block: &mut String, marker: char, body: &BodySample<'_>) {
    let limit = usize::try_from(body.total_len)
        .unwrap_or(usize::MAX)
        .min(TRACE_BODY_BYTES);
    let sample = &body.first_bytes[..body.first_bytes.len().min(limit)];
    let shown = if body.total_len > sample.len() as u64 {
        without_cut_character(sample)
    } else {
        sample
    };
    write_text_lines(block, marker, shown);
    let more = body.total_len - shown.len() as u64;
    if more > 0 {
        let unit = if more == 1 { "byte" } else { "bytes" };
        push_line(block, marker, &format!("[… {more} more {unit}]"));
    }
}

/// Text split at LF (a CR before it dropped too); a final line end adds no empty line.
fn write_text_lines(block: &mut String, marker: char, text: &[u8]) {
    if text.is_empty() {
        return;
    }
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    for line in text.split(|&byte| byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut escaped = String::new();
        escape_into(&mut escaped, line);
        push_line(block, marker, &escaped);
    }
}

/// `sample` without a UTF-8 character that the end of the sample cut short, so the cut does
/// not show as invalid bytes: the start of a valid sequence with its last 1–3 bytes missing.
fn without_cut_character(sample: &[u8]) -> &[u8] {
    let incomplete = |cut: usize| {
        matches!(
            std::str::from_utf8(&sample[cut..]),
            Err(error) if error.valid_up_to() == 0 && error.error_len().is_none()
        )
    };
    (sample.len().saturating_sub(3)..sample.len())
        .find(|&cut| incomplete(cut))
        .map_or(sample, |cut| &sample[..cut])
}

/// `1 byte`, `2 bytes`.
fn bytes(count: u64) -> String {
    if count == 1 {
        "1 byte".to_owned()
    } else {
        format!("{count} bytes")
    }
}

/// Appends `raw` with every control character and every byte that is not UTF-8 escaped (see
/// the module doc), so a trace line is one terminal line that cannot move the cursor.
fn escape_into(out: &mut String, raw: &[u8]) {
    for chunk in raw.utf8_chunks() {
        for character in chunk.valid().chars() {
            match character {
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                c if c.is_ascii_control() => {
                    let _ = write!(out, "\\x{:02x}", u32::from(c));
                }
                c if c.is_control() => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
}

pub mod capture;

#[cfg(test)]
mod tests;
