//! Independent whole-buffer readings of the same grammar, for the framing oracles: where a
//! request head ends (RFC 9112 §2.2), what a served head's fields say about its framing and
//! persistence (§3.2, §6, §9.3), and what a chunked body holds (§7.1) with taskd's limits
//! (CONTRACT §13). Written line by line over a slice, not as a state machine, so a mistake in
//! `chunked::Decoder`'s states does not repeat itself here.

use http1::chunked::{MAX_EXTENSION_BYTES, MAX_TRAILER_BYTES, MAX_TRAILER_FIELDS};
use http1::rules::{is_tchar, BodyLength};

/// The length of the head at the start of `bytes`: empty lines (LF or CR LF, never a lone CR)
/// before the request line are skipped (§2.2), the request line ends at its LF, and the head
/// at the first empty line after it (LF LF or LF CR LF). `None` when `bytes` holds no
/// complete head.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(line) = [&b"\n"[..], b"\r\n"]
        .into_iter()
        .find(|line| bytes[start..].starts_with(line))
    {
        start += line.len();
    }
    let line_end = start + bytes[start..].iter().position(|&b| b == b'\n')?;
    (line_end..bytes.len())
        .filter(|&at| bytes[at] == b'\n')
        .find_map(|lf| match &bytes[lf + 1..] {
            [b'\n', ..] => Some(lf + 2),
            [b'\r', b'\n', ..] => Some(lf + 3),
            _ => None,
        })
}

/// What a chunked body's bytes hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunked {
    /// A whole body: its data, and the length of its framing (trailers included).
    Body { data: Vec<u8>, end: usize },
    /// The framing breaks; the data that came before the fault.
    Malformed { data_before: Vec<u8> },
    /// The bytes end before the body does; the data so far.
    Truncated { data: Vec<u8> },
}

/// Why reading stopped early.
enum Stop {
    Malformed,
    Truncated,
}

/// Reads the chunked body at the start of `bytes`.
pub fn decode_chunked(bytes: &[u8]) -> Chunked {
    let mut data = Vec::new();
    let mut at = 0;
    let result = loop {
        let size = match chunk_size_line(bytes, &mut at) {
            Ok(size) => size,
            Err(stop) => break Err(stop),
        };
        if size == 0 {
            break trailer_section(bytes, &mut at);
        }
        let available = bytes.len() - at;
        let take = usize::try_from(size).map_or(available, |size| size.min(available));
        data.extend_from_slice(&bytes[at..at + take]);
        at += take;
        if (take as u64) < size {
            break Err(Stop::Truncated);
        }
        if let Err(stop) = crlf(bytes, &mut at) {
            break Err(stop);
        }
    };
    match result {
        Ok(()) => Chunked::Body { data, end: at },
        Err(Stop::Malformed) => Chunked::Malformed { data_before: data },
        Err(Stop::Truncated) => Chunked::Truncated { data },
    }
}

/// `chunk-size [ BWS ";" chunk-ext ] CRLF`: 1 to 16 hex digits, then optional whitespace that
/// only an extension may follow; extensions are up to 4 KiB of field bytes, not parsed.
fn chunk_size_line(bytes: &[u8], at: &mut usize) -> Result<u64, Stop> {
    let digits = bytes[*at..]
        .iter()
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    if digits > 16 {
        return Err(Stop::Malformed);
    }
    let rest = &bytes[*at + digits..];
    if digits == 0 {
        return Err(if rest.is_empty() {
            Stop::Truncated
        } else {
            Stop::Malformed
        });
    }
    let hex = std::str::from_utf8(&bytes[*at..*at + digits]).expect("hex digits");
    let size = u64::from_str_radix(hex, 16).expect("at most 16 hex digits");
    *at += digits;
    let spaces = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    match rest.get(spaces) {
        None => return Err(Stop::Truncated),
        Some(b';') => {
            *at += spaces + 1;
            let extension = bytes[*at..]
                .iter()
                .take_while(|&&b| is_field_byte(b))
                .count();
            if extension > MAX_EXTENSION_BYTES {
                return Err(Stop::Malformed);
            }
            *at += extension;
        }
        Some(b'\r') if spaces == 0 => {}
        Some(_) => return Err(Stop::Malformed),
    }
    crlf(bytes, at)?;
    Ok(size)
}

/// Exactly CR LF.
fn crlf(bytes: &[u8], at: &mut usize) -> Result<(), Stop> {
    match &bytes[*at..] {
        [b'\r', b'\n', ..] => {
            *at += 2;
            Ok(())
        }
        [] | [b'\r'] => Err(Stop::Truncated),
        _ => Err(Stop::Malformed),
    }
}

/// `*( field-line CRLF ) CRLF`: each line `name ":" value` with a token name; at most 16 KiB
/// (field bytes and each line's CR) in at most 100 lines.
fn trailer_section(bytes: &[u8], at: &mut usize) -> Result<(), Stop> {
    let mut counted = 0;
    let mut fields = 0;
    loop {
        if bytes[*at..].first() == Some(&b'\r') {
            return crlf(bytes, at);
        }
        let line = bytes[*at..]
            .iter()
            .take_while(|&&b| is_field_byte(b))
            .count();
        // The limit is checked as bytes arrive, so it wins over whatever follows.
        if counted + line > MAX_TRAILER_BYTES
            || (counted + line == MAX_TRAILER_BYTES && bytes.get(*at + line) == Some(&b'\r'))
        {
            return Err(Stop::Malformed);
        }
        counted += line + 1;
        let name_end = bytes[*at..*at + line].iter().position(|&b| b == b':');
        let name_ok = name_end
            .is_some_and(|colon| colon > 0 && bytes[*at..*at + colon].iter().all(|&b| is_tchar(b)));
        let end = *at + line;
        if line == 0 && end == bytes.len() {
            return Err(Stop::Truncated);
        }
        *at = end;
        crlf(bytes, at)?;
        fields += 1;
        if !name_ok || fields > MAX_TRAILER_FIELDS {
            return Err(Stop::Malformed);
        }
    }
}

/// HTAB, SP, visible ASCII, obs-text (RFC 9110 §5.5).
fn is_field_byte(byte: u8) -> bool {
    byte == b'\t' || (0x20..=0x7e).contains(&byte) || byte >= 0x80
}

/// What a head's field lines must say for the layer to serve it (RFC 9112 §3.2, §6.1, §6.3,
/// §9.3; RFC 9110 §10.1.1), read straight from the lines: the framing, whether `100-continue`
/// was asked for, whether the connection persists. `Err` names the rule a served head broke.
pub fn served_framing<'b>(
    http11: bool,
    fields: impl Iterator<Item = (&'b str, &'b [u8])>,
) -> Result<(BodyLength, bool, bool), &'static str> {
    let mut hosts = 0;
    let (mut lengths, mut codings, mut expects, mut options) = (vec![], vec![], 0, vec![]);
    for (name, value) in fields {
        match name.to_ascii_lowercase().as_str() {
            "host" => hosts += 1,
            "content-length" => lengths.push(value),
            "transfer-encoding" => codings.extend(elements(value)),
            "expect" => expects += 1,
            "connection" => options.extend(elements(value).map(|o| o.to_ascii_lowercase())),
            _ => {}
        }
    }
    if hosts > 1 || (http11 && hosts == 0) {
        return Err("one Host, and in HTTP/1.1 exactly one");
    }
    let framing = match (&lengths[..], &codings[..]) {
        ([], []) => BodyLength::None,
        ([length], []) => {
            let digits = std::str::from_utf8(length).map_err(|_| "Content-Length")?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err("Content-Length is 1*DIGIT");
            }
            match digits.parse::<i64>() {
                Ok(length) => BodyLength::Fixed(length.unsigned_abs()),
                Err(_) => return Err("Content-Length fits 63 bits"),
            }
        }
        ([], [coding]) if http11 && coding.eq_ignore_ascii_case(b"chunked") => BodyLength::Chunked,
        ([], _) => return Err("Transfer-Encoding is exactly chunked, in HTTP/1.1"),
        _ => return Err("one Content-Length, without Transfer-Encoding"),
    };
    let keep_alive = !options.iter().any(|o| o == b"close")
        && (http11 || options.iter().any(|o| o == b"keep-alive"));
    Ok((framing, http11 && expects > 0, keep_alive))
}

/// The non-empty elements of a comma-separated list, trimmed (RFC 9110 §5.6.1).
fn elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|element| !element.is_empty())
}
