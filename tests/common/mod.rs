//! Test support: a real taskd on an ephemeral port per test, and a small raw-HTTP client over
//! `std::net::TcpStream`, so tests can send exactly the bytes a hostile or sloppy client would.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;
use taskd::{Config, Handle, Server};

/// A running server; dropping it shuts it down and joins its workers.
pub struct TestServer {
    handle: Handle,
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

/// A fresh server with this config (its `addr` should be `127.0.0.1:0`).
pub fn spawn_server_with(config: Config) -> TestServer {
    let server = Server::bind(config).expect("bind 127.0.0.1:0");
    TestServer {
        handle: server.spawn(),
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

/// Sends raw bytes on a new connection, reads until the server closes, parses one response.
/// The request should carry `Connection: close` (the helpers below add it).
pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(bytes).expect("write request");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .expect("read response (timed out?)");
    parse_response(&raw)
        .unwrap_or_else(|| panic!("unparseable response: {:?}", String::from_utf8_lossy(&raw)))
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

/// A request with `Host`, `Connection: close`, and `Content-Length` when there is a body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PATCH" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
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
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
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
