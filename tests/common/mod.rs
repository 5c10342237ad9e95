//! Test support: a real taskd on an ephemeral port per test, and a small raw-HTTP client over
//! `std::net::TcpStream`, so tests can send exactly the bytes a hostile or sloppy client would.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};
use taskd::{Config, Handle, Server};

mod backend;
/// The throwaway PostgreSQL cluster and the fault proxy (issue 17).
#[path = "../pg_support/mod.rs"]
#[allow(unused_imports)] // each test binary uses a different subset
pub mod pg_support;
mod wire;
#[allow(unused_imports)] // only the behaviour suites use these
pub use backend::*;
#[allow(unused_imports)] // only the transport tests use these
pub use wire::*;

/// A running server; dropping it shuts it down and joins its workers, then removes its data
/// directory if the backend made one.
pub struct TestServer {
    handle: Handle,
    _data_dir: Option<DataDir>,
}

impl TestServer {
    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }
}

/// A fresh server with an empty store on `127.0.0.1:0`.
pub fn spawn_server() -> TestServer {
    spawn_server_with(Config::ephemeral())
}

/// A fresh server with this config (its `addr` should be `127.0.0.1:0`), on this test's
/// storage backend (see `backend`).
pub fn spawn_server_with(config: Config) -> TestServer {
    let (config, data_dir) = configure(config);
    let server = Server::bind(config).expect("bind 127.0.0.1:0");
    TestServer {
        handle: server.spawn(),
        _data_dir: data_dir,
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Everything the server sent, head included.
    pub raw: Vec<u8>,
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `detail` of an error body.
    pub fn detail(&self) -> Value {
        self.json()["detail"].clone()
    }

    /// `(type, loc)` of each 422 item.
    pub fn items(&self) -> Vec<(String, Value)> {
        let detail = self.detail();
        let items = detail.as_array().expect("422 detail is an array");
        items
            .iter()
            .map(|item| {
                (
                    item["type"].as_str().unwrap().to_owned(),
                    item["loc"].clone(),
                )
            })
            .collect()
    }
}

/// A new connection to `addr` with a 5 s read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set read timeout");
    stream
}

/// Sends raw bytes on a new connection, reads until the server closes, parses one response.
/// The request should carry `Connection: close` (the helpers below add it).
///
/// The bytes are written from a second thread while the response is read, so a server that
/// answers before it has read the whole body cannot deadlock the test; write errors (a broken
/// pipe once the server has answered and closed) are ignored, and a reset after the answer
/// keeps what arrived.
pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Response {
    let mut stream = connect(addr);
    let mut writer = stream.try_clone().expect("clone stream");
    let bytes = bytes.to_vec();
    let sender = thread::spawn(move || {
        let _ = writer.write_all(&bytes);
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let timed_out = loop {
        match stream.read(&mut buf) {
            Ok(0) => break false,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // signal(7): a socket read with a timeout fails with EINTR after the process was
            // stopped and continued, even with no signal handler; it is no answer.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break true
            }
            // A reset after the server answered and closed: keep what arrived.
            Err(_) => break false,
        }
    };
    // Also wakes the sender if it is still blocked on a server that stopped reading.
    let _ = stream.shutdown(Shutdown::Both);
    let _ = sender.join();
    assert!(
        !timed_out,
        "timed out reading the response; got {:?}",
        String::from_utf8_lossy(&raw)
    );
    parse_response(&raw)
        .unwrap_or_else(|| panic!("unparseable response: {:?}", String::from_utf8_lossy(&raw)))
}

/// Reads exactly one response off `stream`, framed by its `Content-Length` (no body for 1xx,
/// 204, 304, or the answer to a HEAD when `head_request`: RFC 9112 §6.3), leaving any further
/// bytes in `buffer`. A 206 is framed like a 200, multipart/byteranges too.
pub fn read_one_response(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    head_request: bool,
) -> Response {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = parse_response(&buffer[..end + 4]).expect("a parseable head");
            let no_body =
                head_request || head.status < 200 || head.status == 204 || head.status == 304;
            let length: usize = match head.header("Content-Length") {
                Some(value) if !no_body => value.parse().expect("numeric Content-Length"),
                _ => 0,
            };
            if buffer.len() >= end + 4 + length {
                let raw: Vec<u8> = buffer.drain(..end + 4 + length).collect();
                return parse_response(&raw).expect("a parseable response");
            }
        }
        let mut chunk = [0u8; 8192];
        let n = match stream.read(&mut chunk) {
            // As in `send_raw`: EINTR after a stop and continue is no answer; read again.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            read => read.expect("read (timed out?)"),
        };
        assert!(
            n > 0,
            "connection closed mid-response: {:?}",
            String::from_utf8_lossy(buffer)
        );
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// A request head with `Host`, `Connection: close` and these extra header lines, ending in
/// the blank line.
pub fn request_head(addr: SocketAddr, method: &str, target: &str, lines: &[&str]) -> Vec<u8> {
    let mut text = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for line in lines {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// `body` in the chunked transfer coding, in pieces of `piece` bytes.
pub fn chunked(body: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in body.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Sends `head`, asserts the `100 Continue` interim response (and nothing after it), then sends
/// `body` and returns the final response.
pub fn send_expecting_continue(addr: SocketAddr, head: &[u8], body: &[u8]) -> Response {
    let mut stream = connect(addr);
    stream.write_all(head).expect("write head");
    let mut buffer = Vec::new();
    let interim = read_one_response(&mut stream, &mut buffer, false);
    let status_line = String::from_utf8_lossy(&interim.raw);
    assert!(
        status_line.starts_with("HTTP/1.1 100 Continue\r\n"),
        "expected 100 Continue, got {status_line:?}"
    );
    assert!(buffer.is_empty(), "bytes after 100 Continue: {buffer:?}");
    stream.write_all(body).expect("write body");
    stream
        .read_to_end(&mut buffer)
        .expect("read final response");
    parse_response(&buffer).unwrap_or_else(|| {
        panic!(
            "unparseable response: {:?}",
            String::from_utf8_lossy(&buffer)
        )
    })
}

/// Parses the first response in `raw`; `None` if it is incomplete or malformed.
pub fn parse_response(raw: &[u8]) -> Option<Response> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next()?;
    let status = parts.next()?.parse().ok()?;
    let reason = parts.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &raw[head_end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if find("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(Response {
        status,
        reason,
        headers,
        body,
        raw: raw.to_vec(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// The bytes that follow the head in `response.raw`.
pub fn after_head(response: &Response) -> &[u8] {
    let end = response
        .raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    &response.raw[end + 4..]
}

/// The headers without `Date`, which may tick between two requests.
pub fn without_date(response: &Response) -> Vec<(String, String)> {
    let headers = response.headers.iter();
    headers
        .filter(|(name, _)| !name.eq_ignore_ascii_case("Date"))
        .cloned()
        .collect()
}

/// A request with `Host`, `Connection: close`, and `Content-Length` when there is a body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut lines: Vec<String> = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    if !body.is_empty() || method == "POST" || method == "PATCH" {
        lines.push(format!("Content-Length: {}", body.len()));
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut bytes = request_head(addr, method, target, &lines);
    bytes.extend_from_slice(body);
    send_raw(addr, &bytes)
}

pub fn get(addr: SocketAddr, target: &str) -> Response {
    request(addr, "GET", target, &[], b"")
}

pub fn delete(addr: SocketAddr, target: &str) -> Response {
    request(addr, "DELETE", target, &[], b"")
}

/// POST with `Content-Type: application/json`.
pub fn post_json(addr: SocketAddr, target: &str, json: &str) -> Response {
    let headers = [("Content-Type", "application/json")];
    request(addr, "POST", target, &headers, json.as_bytes())
}

/// PATCH with `Content-Type: application/json`.
pub fn patch_json(addr: SocketAddr, target: &str, json: &str) -> Response {
    let headers = [("Content-Type", "application/json")];
    request(addr, "PATCH", target, &headers, json.as_bytes())
}

/// Creates a task and returns its id, asserting the 201.
pub fn create_task(addr: SocketAddr, title: &str) -> u64 {
    let body = serde_json::json!({ "title": title }).to_string();
    let response = post_json(addr, "/tasks", &body);
    assert_eq!(response.status, 201, "create {title}: {}", response.text());
    response.json()["id"].as_u64().expect("id")
}

/// A server with one task, `{"id":1,"title":"Report",...}`.
pub fn server_with_task() -> TestServer {
    let server = spawn_server();
    assert_eq!(create_task(server.addr(), "Report"), 1);
    server
}

/// This status and exactly `{"detail": detail}` as JSON.
pub fn assert_error(response: &Response, status: u16, detail: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.json(), json!({ "detail": detail }));
}

/// The `msg` of an `int_parsing` 422 item.
pub const INT_PARSING: &str =
    "Input should be a valid integer, unable to parse string as an integer";
/// The `msg` of a `value_error` 422 item for a bad `priority`.
pub const PRIORITY_MSG: &str = "Value error, priority must be one of ['high', 'low', 'medium']";

/// The 422 item for a `{task_id}` that is not an integer.
pub fn bad_id(input: &str) -> Value {
    json!({"type": "int_parsing", "loc": ["path", "task_id"], "msg": INT_PARSING, "input": input})
}

/// One part of a multipart body.
pub struct Part<'a> {
    /// The whole Content-Disposition value, e.g. `form-data; name="file"; filename="a.txt"`.
    pub disposition: &'a str,
    pub content_type: Option<&'a str>,
    pub content: &'a [u8],
}

impl<'a> Part<'a> {
    /// A `file` part with this filename, type and content.
    pub fn file(filename: &'a str, content_type: Option<&'a str>, content: &'a [u8]) -> Part<'a> {
        let disposition: &'a str = Box::leak(
            format!("form-data; name=\"file\"; filename=\"{filename}\"").into_boxed_str(),
        );
        Part {
            disposition,
            content_type,
            content,
        }
    }

    /// A text field.
    pub fn text(name: &'a str, value: &'a [u8]) -> Part<'a> {
        let disposition: &'a str =
            Box::leak(format!("form-data; name=\"{name}\"").into_boxed_str());
        Part {
            disposition,
            content_type: None,
            content: value,
        }
    }
}

pub const BOUNDARY: &str = "----taskdTestBoundary7MA4YWxkTrZu0gW";

/// `multipart/form-data; boundary=BOUNDARY`.
pub fn form_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// A complete `multipart/form-data` body with `BOUNDARY`.
pub fn multipart_body(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        body.extend_from_slice(format!("Content-Disposition: {}\r\n", part.disposition).as_bytes());
        if let Some(content_type) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// POSTs a multipart body built from `parts` to `target`.
pub fn post_multipart(addr: SocketAddr, target: &str, parts: &[Part]) -> Response {
    let content_type = form_type();
    let headers = [("Content-Type", content_type.as_str())];
    request(addr, "POST", target, &headers, &multipart_body(parts))
}

/// Uploads one `file` part to task `id`.
pub fn upload(
    addr: SocketAddr,
    id: u64,
    filename: &str,
    content_type: Option<&str>,
    content: &[u8],
) -> Response {
    let parts = [Part::file(filename, content_type, content)];
    post_multipart(addr, &format!("/tasks/{id}/attachment"), &parts)
}
