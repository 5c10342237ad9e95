//! The rules a parsed head must obey before anything else happens: `Host` (RFC 9112 §3.2), how the
//! body is delimited by `Content-Length` and `Transfer-Encoding` (§6), `Expect` (RFC 9110
//! §10.1.1) and whether the connection persists (§9.3). Pure: field lines in, a [`Decision`] or a
//! [`Refusal`] out. The vocabulary of heads lives here too: [`Version`], [`BodyLength`], and the
//! [`Refusal`]s the layer answers itself.

/// Why a request is refused by the connection layer before the application sees it. Each has a
/// status and closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the head or the body framing breaks RFC 9112.
    BadRequest,
    /// 408: the head or the body came too slowly.
    RequestTimeout,
    /// 414: the request line is over 8 KiB.
    UriTooLong,
    /// 431: the field section is over 64 KiB or 100 lines.
    FieldsTooLarge,
    /// 417: an expectation other than `100-continue`.
    ExpectationFailed,
    /// 501: a transfer coding we cannot decode.
    NotImplemented,
    /// 503: the connection cap is reached and no connection is idle.
    ServiceUnavailable,
    /// 505: HTTP/0.x, or 2 and later.
    VersionNotSupported,
}

impl Refusal {
    /// The status code the refusal is answered with.
    pub fn status(self) -> u16 {
        match self {
            Refusal::BadRequest => 400,
            Refusal::RequestTimeout => 408,
            Refusal::UriTooLong => 414,
            Refusal::FieldsTooLarge => 431,
            Refusal::ExpectationFailed => 417,
            Refusal::NotImplemented => 501,
            Refusal::ServiceUnavailable => 503,
            Refusal::VersionNotSupported => 505,
        }
    }
}

/// The protocol version of a request (the status line is always `HTTP/1.1`, RFC 9110 §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: no `Host` needed, no chunked bodies, closes unless `keep-alive`.
    Http10,
    /// `HTTP/1.1`, and `HTTP/1.2`–`HTTP/1.9` read as 1.1 (RFC 9110 §2.5).
    Http11,
}

/// How a request's body is delimited (RFC 9112 §6.3: the message body length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No `Content-Length` and no `Transfer-Encoding`: no body (§6.3 item 7).
    None,
    /// Exactly this many bytes (`Content-Length`).
    Fixed(u64),
    /// The chunked coding (§7.1): the body says where it ends.
    Chunked,
}

/// What the head's fields decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// How the body is delimited.
    pub body_length: BodyLength,
    /// `Expect: 100-continue` in HTTP/1.1.
    pub expect_continue: bool,
    /// Whether another request may follow on this connection.
    pub keep_alive: bool,
}

/// RFC 9110 §5.6.2 `tchar`.
pub fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Applies the rules to a head's field lines.
///
/// # Errors
/// 400 for a missing, repeated or invalid `Host` in HTTP/1.1, a bad or repeated
/// `Content-Length`, `Content-Length` with `Transfer-Encoding`, a final coding that is not
/// `chunked`; 501 for an unknown coding before `chunked`; 417 for an expectation other than
/// `100-continue`.
pub fn decide<'b>(
    version: Version,
    fields: impl Iterator<Item = (&'b str, &'b [u8])>,
) -> Result<Decision, Refusal> {
    let mut seen = Seen::default();
    for (name, value) in fields {
        seen.add(name, value)?;
    }
    let http11 = version == Version::Http11;
    // §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host, and to any request
    // with more than one Host field line or an invalid Host value.
    match seen.host {
        Hosts::Several | Hosts::Invalid => return Err(Refusal::BadRequest),
        Hosts::None if http11 => return Err(Refusal::BadRequest),
        _ => {}
    }
    let body_length = match (seen.content_length, seen.transfer_coding) {
        (_, None) => seen
            .content_length
            .map_or(BodyLength::None, BodyLength::Fixed),
        // §6.1: Transfer-Encoding in an HTTP/1.0 message is a framing fault; with
        // Content-Length as well it is the request-smuggling shape. Both: 400 and close.
        _ if !http11 => return Err(Refusal::BadRequest),
        (Some(_), _) => return Err(Refusal::BadRequest),
        (None, Some(coding)) => coding.body_length()?,
    };
    let expect_continue = match seen.expect {
        Expectation::None => false,
        // §10.1.1: HTTP/1.0 clients cannot mean it; ignore it.
        _ if !http11 => false,
        Expectation::Continue => true,
        Expectation::Other => return Err(Refusal::ExpectationFailed),
    };
    let keep_alive = !seen.close && (http11 || seen.keep_alive);
    Ok(Decision {
        body_length,
        expect_continue,
        keep_alive,
    })
}

#[derive(Debug, Default)]
enum Hosts {
    #[default]
    None,
    One,
    Several,
    Invalid,
}

/// The state of a `Transfer-Encoding` list read so far (all its field lines together).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Coding {
    /// No coding listed yet.
    #[default]
    Empty,
    /// The list so far ends in `chunked`, applied once.
    Chunked,
    /// The list so far ends in `chunked` with an unknown coding before it.
    UnknownThenChunked,
    /// `chunked` twice.
    Broken,
    /// The list so far ends in a coding that is not `chunked`.
    NotChunkedLast { chunked_before: bool },
}

impl Coding {
    fn then(self, coding: &[u8]) -> Coding {
        let is_chunked = coding.eq_ignore_ascii_case(b"chunked");
        match (self, is_chunked) {
            (Coding::Broken, _) => Coding::Broken,
            // §6.1: a sender MUST NOT apply chunked more than once.
            (Coding::Chunked | Coding::UnknownThenChunked, true) => Coding::Broken,
            (
                Coding::NotChunkedLast {
                    chunked_before: true,
                },
                true,
            ) => Coding::Broken,
            (Coding::Empty, true) => Coding::Chunked,
            (Coding::NotChunkedLast { .. }, true) => Coding::UnknownThenChunked,
            (Coding::Empty, false) => Coding::NotChunkedLast {
                chunked_before: false,
            },
            (Coding::Chunked | Coding::UnknownThenChunked, false) => Coding::NotChunkedLast {
                chunked_before: true,
            },
            (last @ Coding::NotChunkedLast { .. }, false) => last,
        }
    }

    /// §6.3 item 4: the final coding must be chunked, or the length cannot be known (400);
    /// a coding we cannot decode before it is 501 (RFC 9110 §15.6.2).
    fn body_length(self) -> Result<BodyLength, Refusal> {
        match self {
            Coding::Chunked => Ok(BodyLength::Chunked),
            Coding::UnknownThenChunked => Err(Refusal::NotImplemented),
            // An empty list frames nothing we can read either.
            Coding::Empty | Coding::Broken | Coding::NotChunkedLast { .. } => {
                Err(Refusal::BadRequest)
            }
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
enum Expectation {
    #[default]
    None,
    Continue,
    Other,
}

/// What the field lines said, accumulated one line at a time.
#[derive(Debug, Default)]
struct Seen {
    host: Hosts,
    content_length: Option<u64>,
    /// `None` without any `Transfer-Encoding` line.
    transfer_coding: Option<Coding>,
    expect: Expectation,
    close: bool,
    keep_alive: bool,
}

impl Seen {
    fn add(&mut self, name: &str, value: &[u8]) -> Result<(), Refusal> {
        if name.eq_ignore_ascii_case("host") {
            self.host = match self.host {
                Hosts::None if is_valid_host(value) => Hosts::One,
                Hosts::None => Hosts::Invalid,
                _ => Hosts::Several,
            };
        } else if name.eq_ignore_ascii_case("content-length") {
            // RFC 9110 §8.6 lets a recipient refuse a repeated Content-Length, even equal ones;
            // refusing is the only answer that cannot disagree with another parser.
            if self.content_length.is_some() {
                return Err(Refusal::BadRequest);
            }
            self.content_length = Some(content_length(value)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let mut coding = self.transfer_coding.unwrap_or_default();
            for element in list_elements(value) {
                coding = coding.then(element);
            }
            self.transfer_coding = Some(coding);
        } else if name.eq_ignore_ascii_case("expect") {
            let mut elements = list_elements(value).peekable();
            let only_continue = elements.peek().is_some()
                && elements.all(|element| element.eq_ignore_ascii_case(b"100-continue"));
            self.expect = match (&self.expect, only_continue) {
                (Expectation::None | Expectation::Continue, true) => Expectation::Continue,
                _ => Expectation::Other,
            };
        } else if name.eq_ignore_ascii_case("connection") {
            for option in list_elements(value) {
                self.close |= option.eq_ignore_ascii_case(b"close");
                self.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        Ok(())
    }
}

/// RFC 9110 §8.6: `Content-Length = 1*DIGIT`, and it must fit a signed 64-bit length.
fn content_length(value: &[u8]) -> Result<u64, Refusal> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(Refusal::BadRequest);
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|digits| digits.parse::<u64>().ok())
        .filter(|&length| length <= i64::MAX as u64)
        .ok_or(Refusal::BadRequest)
}

/// The elements of a comma-separated list (RFC 9110 §5.6.1), trimmed, empty ones skipped.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|element| element.trim_ascii())
        .filter(|element| !element.is_empty())
}

/// RFC 9112 §3.2 / RFC 3986 §3.2.2: `uri-host [ ":" port ]`, where the host is an IP literal in
/// brackets, or reg-name characters (which include IPv4 addresses); an empty value is allowed
/// (§3.2: sent when the target has no authority).
fn is_valid_host(value: &[u8]) -> bool {
    let (host, port) = match value.strip_prefix(b"[") {
        Some(literal) => match literal.iter().position(|&b| b == b']') {
            Some(close) => {
                let inside = &literal[..close];
                let valid_literal = !inside.is_empty()
                    && inside.iter().all(|&b| {
                        b.is_ascii_hexdigit()
                            || b":.vV".contains(&b)
                            || is_unreserved_or_sub_delim(b)
                    });
                if !valid_literal {
                    return false;
                }
                (&value[..close + 2], &literal[close + 1..])
            }
            None => return false,
        },
        None => match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &value[value.len()..]),
        },
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    let host_ok = host.starts_with(b"[")
        || host
            .iter()
            .all(|&b| is_unreserved_or_sub_delim(b) || b == b'%');
    port_ok && host_ok
}

/// RFC 3986 §2.3 unreserved and §2.2 sub-delims: the characters of a reg-name besides `%XX`.
fn is_unreserved_or_sub_delim(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&byte)
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
