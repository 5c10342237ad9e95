//! Request heads (RFC 9112 §2–§3): where a head ends in the bytes received so far, the request
//! line (ours: httparse knows only HTTP/1.0 and 1.1, and RFC 9110 §2.5 wants 1.2–1.9 served as
//! 1.1 and 2.x refused with 505), and the field lines (httparse). Pure functions from bytes to a
//! [`Head`] or a [`Refusal`]: no socket in sight, so every rule is tested byte by byte.

use std::ops::Range;

use super::rules::Refusal;
use super::rules::{self, BodyLength, Version};

/// RFC 9112 §3: a server must be able to take request lines of 8000 octets; longer is a 414.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// The field section's limit (everything after the request line); more is a 431.
pub const MAX_FIELD_SECTION: usize = 64 * 1024;
/// At most this many field lines; more is a 431.
pub const MAX_FIELDS: usize = 100;

/// A field line: its name and value, as ranges of the head's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    name: Range<usize>,
    value: Range<usize>,
}

/// A parsed request head. Names, values, method and target are ranges of the bytes it was
/// parsed from, so parsing allocates one small vector and copies nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    method: Range<usize>,
    target: Range<usize>,
    /// The version the client spoke.
    pub version: Version,
    fields: Vec<Field>,
    /// How the body is delimited (RFC 9112 §6.3).
    pub body_length: BodyLength,
    /// `Expect: 100-continue` in an HTTP/1.1 request (RFC 9110 §10.1.1).
    pub expect_continue: bool,
    /// Whether the connection may carry another request after this one (RFC 9112 §9.3).
    pub keep_alive: bool,
}

impl Head {
    /// The method token (case-sensitive, RFC 9110 §9.1).
    pub fn method<'b>(&self, bytes: &'b [u8]) -> &'b str {
        ascii(&bytes[self.method.clone()])
    }

    /// The request target as sent (visible ASCII only).
    pub fn target<'b>(&self, bytes: &'b [u8]) -> &'b str {
        ascii(&bytes[self.target.clone()])
    }

    /// Every field line as `(name, value)`, in the order received.
    pub fn fields<'s, 'b: 's>(
        &'s self,
        bytes: &'b [u8],
    ) -> impl Iterator<Item = (&'b str, &'b [u8])> + 's {
        self.fields.iter().map(move |field| {
            (
                ascii(&bytes[field.name.clone()]),
                &bytes[field.value.clone()],
            )
        })
    }

    /// The first value of the field `name` (case-insensitive, RFC 9110 §5.1).
    pub fn field<'b>(&self, bytes: &'b [u8], name: &str) -> Option<&'b [u8]> {
        self.fields(bytes)
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }
}

/// Names, methods and targets were checked to be ASCII while parsing.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("the parser admits only ASCII here")
}

/// Where a head ends, as far as the bytes received so far tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The head is the first this many bytes, its empty line included.
    Complete(usize),
    /// Not yet: more bytes are needed.
    Partial,
    /// Over a limit already.
    Refused(Refusal),
}

/// Finds the end of a head in a growing buffer. It remembers how far it has looked, so a head
/// trickled in byte by byte is still scanned once.
///
/// Lines may end in CRLF or a bare LF (RFC 9112 §2.2). Empty lines before the request line are
/// skipped (§2.2: a server SHOULD ignore at least one) and count towards the request line's
/// limit.
#[derive(Debug, Default, Clone)]
pub struct Scanner {
    /// Bytes before this were looked at already.
    scanned: usize,
    /// Where the request line's LF is, once seen.
    line_end: Option<usize>,
}

impl Scanner {
    /// Looks at `buf` (the same buffer as before, possibly longer) for the end of the head.
    pub fn scan(&mut self, buf: &[u8]) -> Scan {
        let line_end = match self.line_end {
            Some(line_end) => line_end,
            None => {
                let start = leading_empty_lines(buf).max(self.scanned);
                match buf[start..].iter().position(|&b| b == b'\n') {
                    Some(at) => *self.line_end.insert(start + at),
                    None if buf.len() > MAX_REQUEST_LINE + 2 => {
                        return Scan::Refused(Refusal::UriTooLong)
                    }
                    None => {
                        self.scanned = buf.len();
                        return Scan::Partial;
                    }
                }
            }
        };
        if line_end > MAX_REQUEST_LINE + 1 {
            return Scan::Refused(Refusal::UriTooLong);
        }
        // The empty line that ends the head: an LF followed by LF or CRLF. The last two bytes
        // seen may be the start of it, so they are looked at again.
        let mut at = self.scanned.saturating_sub(2).max(line_end);
        while let Some(offset) = buf[at..].iter().position(|&b| b == b'\n') {
            let lf = at + offset;
            match &buf[lf + 1..] {
                [b'\n', ..] => return Scan::Complete(lf + 2),
                [b'\r', b'\n', ..] => return Scan::Complete(lf + 3),
                _ => at = lf + 1,
            }
        }
        self.scanned = buf.len();
        if buf.len() - line_end > MAX_FIELD_SECTION + 2 {
            return Scan::Refused(Refusal::FieldsTooLarge);
        }
        Scan::Partial
    }
}

/// Whether `bytes` begin a request line whose method is `HEAD`, however the rest of the head
/// fares: the answer to a HEAD request, a refusal included, has no content.
pub fn is_head_method(bytes: &[u8]) -> bool {
    bytes[leading_empty_lines(bytes)..].starts_with(b"HEAD ")
}

/// The bytes of the empty lines (CRLF or bare LF) before the request line. A CR alone is no
/// line end (RFC 9112 §2.2), so `\rGET` is a request line that does not parse, not a skipped
/// prefix.
fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match &buf[at..] {
            [b'\n', ..] => at += 1,
            [b'\r', b'\n', ..] => at += 2,
            _ => return at,
        }
    }
}

/// Parses a complete head (as delimited by [`Scanner::scan`]) and applies the message rules.
///
/// # Errors
/// The status the head earns: 400 for anything that does not parse or breaks a framing rule,
/// 414 / 431 over the limits, 417 for an unknown expectation, 501 for an unknown transfer
/// coding, 505 for HTTP/0.x and 2 or later.
pub fn parse(bytes: &[u8]) -> Result<Head, Refusal> {
    let start = leading_empty_lines(bytes);
    let line_end = bytes[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|at| start + at)
        .ok_or(Refusal::BadRequest)?;
    let line = &bytes[start..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_REQUEST_LINE {
        return Err(Refusal::UriTooLong);
    }
    let section = line_end + 1;
    // The limits come before the syntax: the scanner refuses an oversized field section before
    // it has seen all of it, so a head read whole must get the same 431, or the answer would
    // depend on how the bytes were split into reads.
    if bytes.len() - section > MAX_FIELD_SECTION + 2 {
        return Err(Refusal::FieldsTooLarge);
    }
    let (method, target, version) = request_line(line)?;
    let fields = field_lines(bytes, section)?;
    let mut head = Head {
        method: start + method.start..start + method.end,
        target: start + target.start..start + target.end,
        version,
        fields,
        body_length: BodyLength::None,
        expect_continue: false,
        keep_alive: false,
    };
    let decision = rules::decide(version, head.fields(bytes))?;
    head.body_length = decision.body_length;
    head.expect_continue = decision.expect_continue;
    head.keep_alive = decision.keep_alive;
    Ok(head)
}

/// RFC 9112 §3: `method SP request-target SP HTTP-version`, single spaces, nothing else.
fn request_line(line: &[u8]) -> Result<(Range<usize>, Range<usize>, Version), Refusal> {
    let first_space = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(Refusal::BadRequest)?;
    let rest = &line[first_space + 1..];
    let second_space = rest
        .iter()
        .position(|&b| b == b' ')
        .ok_or(Refusal::BadRequest)?;
    let method = 0..first_space;
    let target = first_space + 1..first_space + 1 + second_space;
    let version = &rest[second_space + 1..];
    if method.is_empty() || !line[method.clone()].iter().all(|&b| rules::is_tchar(b)) {
        return Err(Refusal::BadRequest);
    }
    // Visible ASCII only: no spaces, no controls, and non-ASCII must be percent-encoded.
    if target.is_empty()
        || !line[target.clone()]
            .iter()
            .all(|&b| (0x21..=0x7e).contains(&b))
    {
        return Err(Refusal::BadRequest);
    }
    Ok((method, target, http_version(version)?))
}

/// `HTTP/` DIGIT `.` DIGIT (RFC 9112 §2.3); a major version other than 1 is not ours to serve.
fn http_version(version: &[u8]) -> Result<Version, Refusal> {
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'0') => Ok(Version::Http10),
                (b'1', _) => Ok(Version::Http11),
                _ => Err(Refusal::VersionNotSupported),
            }
        }
        _ => Err(Refusal::BadRequest),
    }
}

/// The field lines after the request line, parsed by httparse (which refuses obs-fold,
/// whitespace before a colon, a CR without LF, and control bytes but HTAB in values).
fn field_lines(bytes: &[u8], section: usize) -> Result<Vec<Field>, Refusal> {
    let mut parsed = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let (used, headers) = match httparse::parse_headers(&bytes[section..], &mut parsed) {
        Ok(httparse::Status::Complete(done)) => done,
        Ok(httparse::Status::Partial) => return Err(Refusal::BadRequest),
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::FieldsTooLarge),
        Err(_) => return Err(Refusal::BadRequest),
    };
    if section + used != bytes.len() {
        return Err(Refusal::BadRequest);
    }
    let base = bytes.as_ptr() as usize;
    let range_of = |slice: &[u8]| {
        let start = slice.as_ptr() as usize - base;
        start..start + slice.len()
    };
    Ok(headers
        .iter()
        .map(|header| Field {
            name: range_of(header.name.as_bytes()),
            value: range_of(header.value),
        })
        .collect())
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
