//! A small blocking HTTP/1.1 client for `taskd check`: one connection per request with
//! `Connection: close`, connect / read / write timeouts, and responses framed the way RFC 9112
//! §6.3 says (no body for HEAD, 204 and 304; chunked; `Content-Length`; else read to close).
//!
//! It only ever connects to the one host and port of the [`Target`] it was built with, and it
//! never follows redirects: a `Location` is something to check, not somewhere to go.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use url::{Host, Position, Url};

use super::message::{Request, Response};

/// How long to wait for a connection, for each read and for each write.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for stray bytes after a response that cannot have content (HEAD, 204):
/// a server that honours `Connection: close` closes at once, so this only delays a server that
/// keeps the connection open against RFC 9112 §9.6.
const STRAY_WAIT: Duration = Duration::from_millis(300);

/// Largest response head and body the client keeps; anything bigger is an error, not a crash.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The server under test: where to connect and what to put in `Host`.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given, normalised by the `url` crate; relative `Location`s resolve against it.
    pub url: Url,
    /// `host[:port]` exactly as in the URL, for the `Host` header (RFC 9110 §7.2).
    pub authority: String,
    /// The URL's path without its trailing `/`, so `http://h/api` checks `/api/tasks`.
    pub base_path: String,
}

impl Target {
    /// Parses the URL given on the command line. Only `http://` is spoken, and only to that
    /// host and port.
    ///
    /// # Errors
    /// A kind sentence for anything that is not a plain `http://host[:port][/path]` URL.
    pub fn parse(text: &str) -> Result<Target, String> {
        // `localhost:8000` would parse as the scheme `localhost:`; what a learner means by a
        // URL without a scheme is http (uvicorn prints `http://127.0.0.1:8000` too).
        let with_scheme;
        let text = if text.contains("://") {
            text
        } else {
            with_scheme = format!("http://{text}");
            &with_scheme
        };
        let url = Url::parse(text).map_err(|error| {
            format!("{text:?} is not a URL ({error}); try http://127.0.0.1:8000")
        })?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(format!(
                    "{text} uses https, and taskd check speaks plain http only (it has no TLS \
                     library). Run your server without TLS on your machine, e.g. \
                     `uvicorn main:app` on http://127.0.0.1:8000, and check that."
                ))
            }
            other => {
                return Err(format!(
                    "{text}: the scheme must be http://, not {other}://"
                ))
            }
        }
        if url.host().is_none() {
            return Err(format!("{text}: the URL needs a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{text}: credentials in the URL are not supported"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{text}: give the server's root URL, without ?query or #fragment"
            ));
        }
        let authority = url[Position::BeforeHost..Position::AfterPort].to_owned();
        let base_path = url.path().trim_end_matches('/').to_owned();
        Ok(Target {
            url,
            authority,
            base_path,
        })
    }

    /// The addresses of the URL's host and port (a name may resolve to several).
    fn socket_addrs(&self) -> std::io::Result<Vec<SocketAddr>> {
        let port = self.url.port_or_known_default().unwrap_or(80);
        match self.url.host() {
            Some(Host::Ipv4(ip)) => Ok(vec![SocketAddr::from((ip, port))]),
            Some(Host::Ipv6(ip)) => Ok(vec![SocketAddr::from((ip, port))]),
            Some(Host::Domain(name)) => Ok((name, port).to_socket_addrs()?.collect()),
            None => Ok(Vec::new()),
        }
    }
}

/// Why a request got no usable response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No TCP connection could be made: the server is not there (exit code 2 if it is the
    /// first request).
    Unreachable(String),
    /// Connected, but no complete response came back (timeout, reset, garbage, too big).
    Broken(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Unreachable(text) | TransportError::Broken(text) => f.write_str(text),
        }
    }
}

/// Sends one request and returns the response: the seam the checks are tested through, so
/// unit tests can answer with canned responses instead of a network.
pub trait Transport {
    /// Sends `request` and reads its response.
    ///
    /// # Errors
    /// [`TransportError`] when there is no complete response.
    fn send(&mut self, request: &Request) -> Result<Response, TransportError>;

    /// Whether requests carry a bearer token: a 401 then means the token was refused, not
    /// that one is missing.
    fn has_token(&self) -> bool {
        false
    }
}

/// The real transport: a new TCP connection to the target for every request.
pub struct TcpTransport {
    target: Target,
    /// Sent as `Authorization: Bearer <token>` on every request (RFC 6750 §2.1).
    token: Option<String>,
}

impl TcpTransport {
    /// A transport that talks only to `target`.
    pub fn new(target: Target) -> TcpTransport {
        TcpTransport {
            target,
            token: None,
        }
    }

    /// The same transport, sending `token` on every request; `args` made sure it is visible
    /// ASCII, so it cannot break the header line.
    pub fn with_token(mut self, token: Option<String>) -> TcpTransport {
        self.token = token;
        self
    }

    fn connect(&self) -> Result<TcpStream, TransportError> {
        let addrs = self.target.socket_addrs().map_err(|error| {
            TransportError::Unreachable(format!(
                "cannot resolve {}: {error}",
                self.target.authority
            ))
        })?;
        let mut last = format!("{} resolves to no address", self.target.authority);
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, TIMEOUT) {
                Ok(stream) => return Ok(stream),
                Err(error) => last = format!("cannot connect to {addr}: {error}"),
            }
        }
        Err(TransportError::Unreachable(last))
    }

    fn head_bytes(&self, request: &Request) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            request.method, request.target, self.target.authority
        );
        for (name, value) in &request.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(token) = &self.token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let has_body_method = matches!(request.method.as_str(), "POST" | "PUT" | "PATCH");
        if !request.body.is_empty() || has_body_method {
            head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

impl Transport for TcpTransport {
    fn has_token(&self) -> bool {
        self.token.is_some()
    }

    fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
        let mut stream = self.connect()?;
        let broken = |error: std::io::Error| TransportError::Broken(describe_io(&error));
        stream.set_read_timeout(Some(TIMEOUT)).map_err(broken)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(broken)?;
        let mut bytes = self.head_bytes(request);
        bytes.extend_from_slice(&request.body);
        // A server may answer (413, 400) and close before reading the whole body; the answer
        // is still there to read, so a failed write is not yet a failure.
        let written = stream.write_all(&bytes).and_then(|()| stream.flush());
        let mut conn = Conn {
            stream,
            buf: Vec::new(),
        };
        match read_response(&mut conn, request.method == "HEAD") {
            Ok(response) => Ok(response),
            Err(error) => match written {
                Err(write_error) => Err(TransportError::Broken(format!(
                    "{error} (sending the request failed too: {})",
                    describe_io(&write_error)
                ))),
                Ok(()) => Err(TransportError::Broken(error)),
            },
        }
    }
}

fn describe_io(error: &std::io::Error) -> String {
    match error.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            format!("no answer within {} s", TIMEOUT.as_secs())
        }
        _ => error.to_string(),
    }
}

/// A connection with the bytes read from it but not yet used.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Reads more bytes; `Ok(0)` at end of stream.
    fn fill(&mut self) -> Result<usize, String> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self
            .stream
            .read(&mut chunk)
            .map_err(|error| describe_io(&error))?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Everything up to and including `pattern`.
    fn take_through(&mut self, pattern: &[u8], cap: usize, what: &str) -> Result<Vec<u8>, String> {
        loop {
            if let Some(at) = self.buf.windows(pattern.len()).position(|w| w == pattern) {
                return Ok(self.buf.drain(..at + pattern.len()).collect());
            }
            if self.buf.len() > cap {
                return Err(format!("{what} longer than {cap} bytes"));
            }
            if self.fill()? == 0 {
                return Err(incomplete(what, &self.buf));
            }
        }
    }

    fn take_exact(&mut self, n: usize, what: &str) -> Result<Vec<u8>, String> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(format!(
                    "the connection closed after {} of the {n} bytes of {what} (RFC 9112 §6.3)",
                    self.buf.len()
                ));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn take_to_end(&mut self, cap: usize) -> Result<Vec<u8>, String> {
        while self.fill()? > 0 {
            if self.buf.len() > cap {
                return Err(format!("a body longer than {cap} bytes"));
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    /// Bytes that arrive shortly after a response that must not have content.
    fn take_strays(&mut self) -> Vec<u8> {
        let _ = self.stream.set_read_timeout(Some(STRAY_WAIT));
        while self.buf.len() <= MAX_BODY_BYTES && matches!(self.fill(), Ok(n) if n > 0) {}
        std::mem::take(&mut self.buf)
    }
}

fn incomplete(what: &str, got: &[u8]) -> String {
    if got.is_empty() {
        "the connection closed without a response".to_owned()
    } else {
        let text = String::from_utf8_lossy(&got[..got.len().min(80)]).into_owned();
        format!("the connection closed in the middle of {what}: {text:?}")
    }
}

/// Reads one final response (interim 1xx responses are skipped).
fn read_response(conn: &mut Conn, head_request: bool) -> Result<Response, String> {
    loop {
        let head = conn.take_through(b"\r\n\r\n", MAX_HEAD_BYTES, "the response head")?;
        let mut response = parse_head(&head)?;
        if (100..200).contains(&response.status) && response.status != 101 {
            continue;
        }
        response.body = read_body(conn, &response, head_request)?;
        return Ok(response);
    }
}

/// Status line and header fields. Field values are read as Latin-1, byte for byte, so a
/// non-ASCII byte stays visible to the checks (RFC 9110 §5.5 calls it obs-text).
pub fn parse_head(head: &[u8]) -> Result<Response, String> {
    let text: String = head.iter().map(|&b| char::from(b)).collect();
    let mut lines = text.trim_end_matches("\r\n").split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts.next().and_then(|code| code.parse::<u16>().ok());
    let status = match status {
        Some(code) if version.starts_with("HTTP/1.") && (100..600).contains(&code) => code,
        _ => return Err(format!("not an HTTP/1.1 status line: {status_line:?}")),
    };
    let reason = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("a header line without a colon: {line:?}"))?;
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(Response {
        status,
        reason,
        headers,
        body: Vec::new(),
    })
}

/// The body, framed as RFC 9112 §6.3 says. For HEAD, 204 and 304 the "body" is whatever stray
/// bytes follow the head: those must be empty, and the checks say so if they are not.
fn read_body(conn: &mut Conn, response: &Response, head_request: bool) -> Result<Vec<u8>, String> {
    if head_request || response.status == 204 || response.status == 304 {
        return Ok(conn.take_strays());
    }
    let chunked = response
        .header("Transfer-Encoding")
        .and_then(|codings| codings.rsplit(',').next())
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
    if chunked {
        return read_chunked(conn);
    }
    if response.header("Transfer-Encoding").is_some() {
        return conn.take_to_end(MAX_BODY_BYTES);
    }
    match response.header("Content-Length") {
        Some(value) => {
            let length: usize = value
                .parse()
                .map_err(|_| format!("an invalid Content-Length: {value:?} (RFC 9110 §8.6)"))?;
            if length > MAX_BODY_BYTES {
                return Err(format!(
                    "a body of {length} bytes, more than the checker reads"
                ));
            }
            conn.take_exact(length, "the body")
        }
        None => conn.take_to_end(MAX_BODY_BYTES),
    }
}

/// The chunked transfer coding (RFC 9112 §7.1); extensions and trailers are skipped.
fn read_chunked(conn: &mut Conn) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line = conn.take_through(b"\r\n", 1024, "a chunk size line")?;
        let line = String::from_utf8_lossy(&line);
        let size_text = line.trim_end().split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("a bad chunk size {size_text:?} (RFC 9112 §7.1)"))?;
        if size == 0 {
            // Trailer fields, if any, then the final CRLF.
            while conn.take_through(b"\r\n", MAX_HEAD_BYTES, "the trailer")? != b"\r\n" {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err("a chunked body larger than the checker reads".to_owned());
        }
        body.extend(conn.take_exact(size, "a chunk")?);
        if conn.take_exact(2, "a chunk's CRLF")? != b"\r\n" {
            return Err("a chunk not followed by CRLF (RFC 9112 §7.1)".to_owned());
        }
    }
}
