//! CONTRACT §13, what a parsed head must be: a protocol version we serve (1.x; 505 otherwise),
//! one valid `Host` in HTTP/1.1, and heads within the limits: 8 KiB of request line (414), 64 KiB
//! and 100 lines of fields (431). Every test sends raw bytes to a real server; every refusal
//! must be a JSON error with `Connection: close`, the only response on its connection.

use crate::common;
use common::*;

use serde_json::json;
// ---------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------

/// RFC 9110 §2.5: a 1.x message with a higher minor version is served as the highest 1.x known.
#[test]
fn http_1_2_to_1_9_are_served_as_http_1_1() {
    let server = spawn_server();
    for minor in 2..=9 {
        let mut client = Client::open(server.addr());
        let head = format!("GET /healthz HTTP/1.{minor}\r\nHost: taskd.test\r\n\r\n");
        let first = client.exchange(head.as_bytes());
        assert_eq!(first.status, 200, "HTTP/1.{minor}: {}", first.text());
        assert!(first.raw.starts_with(b"HTTP/1.1 200 "), "HTTP/1.{minor}");
        // Served as 1.1: persistent by default.
        assert_eq!(first.header("Connection"), None, "HTTP/1.{minor}");
        assert_eq!(client.exchange(&healthz()).status, 200, "HTTP/1.{minor}");
    }
}

/// RFC 9112 §3.2: an HTTP/1.2 request is a 1.1 request, so it needs a Host.
#[test]
fn http_1_2_without_host_is_400() {
    let server = spawn_server();
    assert_bad_request(server.addr(), b"GET /healthz HTTP/1.2\r\n\r\n");
}

/// RFC 9110 §15.6.6: a major version we do not serve is 505.
#[test]
fn http_2_0_is_505() {
    let server = spawn_server();
    for version in ["HTTP/2.0", "HTTP/3.0", "HTTP/9.9"] {
        let bytes = format!("GET /healthz {version}\r\nHost: taskd.test\r\n\r\n");
        let response = only_response(server.addr(), bytes.as_bytes());
        assert_refused(&response, 505, "HTTP Version Not Supported");
    }
}

/// RFC 9113 §3.4: a prior-knowledge HTTP/2 client opens with this preface; we answer 505.
#[test]
fn the_http_2_preface_is_505() {
    let server = spawn_server();
    let response = only_response(server.addr(), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert_refused(&response, 505, "HTTP Version Not Supported");
}

/// RFC 9110 §2.5: HTTP/0.9 is not served (505), whatever else the request holds.
#[test]
fn http_0_9_is_505() {
    let server = spawn_server();
    let response = only_response(server.addr(), b"GET /healthz HTTP/0.9\r\n\r\n");
    assert_refused(&response, 505, "HTTP Version Not Supported");
}

// ---------------------------------------------------------------------------------------------
// Host
// ---------------------------------------------------------------------------------------------

/// RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host.
#[test]
fn http_1_1_without_host_is_400() {
    let server = spawn_server();
    assert_bad_request(server.addr(), b"GET /healthz HTTP/1.1\r\n\r\n");
}

/// RFC 9112 §3.2: ...and to any request with more than one Host field line.
#[test]
fn two_host_fields_are_400() {
    let server = spawn_server();
    for bytes in [
        &b"GET /healthz HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"[..],
        b"GET /healthz HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n",
        b"GET /healthz HTTP/1.0\r\nHost: a.test\r\nhost: b.test\r\n\r\n",
    ] {
        assert_bad_request(server.addr(), bytes);
    }
}

/// RFC 9112 §3.2: ...or with a Host that is not `uri-host [ ":" port ]` (RFC 3986 §3.2.2).
#[test]
fn an_invalid_host_is_400() {
    let server = spawn_server();
    for host in [
        "a b.test",
        "a/b",
        "user@a.test",
        "a.test:80x",
        "a.test:80:80",
        "[::1",
        "[]",
        "a.test, b.test",
    ] {
        let bytes = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_bad_request(server.addr(), bytes.as_bytes());
    }
}

/// RFC 3986 §3.2.2: names, IPv4 and bracketed IPv6 literals with an optional port are valid,
/// and so is an empty value (RFC 9112 §3.2).
#[test]
fn valid_hosts_are_served() {
    let server = spawn_server();
    for host in [
        "taskd.test",
        "taskd.test:8000",
        "127.0.0.1:80",
        "[::1]",
        "[::1]:8000",
        "",
    ] {
        let bytes = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let response = only_response(server.addr(), bytes.as_bytes());
        assert_eq!(response.status, 200, "Host: {host:?}: {}", response.text());
    }
}

/// RFC 9112 §3.2: Host is required of HTTP/1.1 only; an HTTP/1.0 request without it is served.
#[test]
fn http_1_0_without_host_is_served() {
    let response = assert_served(b"GET /healthz HTTP/1.0\r\n\r\n");
    assert_eq!(response.header("Connection"), Some("close"));
}

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

/// `GET /tasks/<digits> HTTP/1.1` whose request line is exactly `length` bytes long.
/// Its lines end in `line_end` (CRLF or a bare LF).
fn long_id_request(length: usize, line_end: &str) -> (String, Vec<u8>) {
    let fixed = "GET /tasks/ HTTP/1.1".len();
    let digits = format!("1{}", "0".repeat(length - fixed - 1));
    let bytes = format!(
        "GET /tasks/{digits} HTTP/1.1{line_end}Host: taskd.test{line_end}Connection: close{line_end}{line_end}"
    );
    (digits, bytes.into_bytes())
}

/// RFC 9112 §3: a request line of 8 KiB is within our limit: a long id is an ordinary 404,
/// whichever line end follows it.
#[test]
fn a_request_line_of_exactly_8_kib_is_served() {
    let server = spawn_server();
    for line_end in ["\r\n", "\n"] {
        let (digits, bytes) = long_id_request(8 * 1024, line_end);
        let response = only_response(server.addr(), &bytes);
        assert_eq!(response.status, 404, "{line_end:?}: {}", response.text());
        assert_eq!(
            response.json(),
            json!({ "detail": format!("Task {digits} not found") })
        );
    }
}

/// RFC 9112 §3: a server that receives a request target longer than it parses answers 414,
/// whichever line end follows it.
#[test]
fn a_request_line_over_8_kib_is_414() {
    let server = spawn_server();
    for line_end in ["\r\n", "\n"] {
        let (_, bytes) = long_id_request(8 * 1024 + 1, line_end);
        assert_request_refused(server.addr(), &bytes, 414, "URI Too Long");
    }
}

/// RFC 9112 §3: the 414 comes before the line ends: a line that never ends is refused too.
#[test]
fn an_endless_request_line_is_414() {
    let server = spawn_server();
    let mut bytes = b"GET /".to_vec();
    bytes.resize(200 * 1024, b'a');
    assert_request_refused(server.addr(), &bytes, 414, "URI Too Long");
}

/// A head whose field lines (each with its CRLF) take `section` bytes, in lines of at most
/// 4 KiB.
fn head_with_field_section(section: usize) -> Vec<u8> {
    let mut bytes = b"GET /healthz HTTP/1.1\r\nHost: taskd.test\r\nConnection: close\r\n".to_vec();
    let fixed = "Host: taskd.test\r\nConnection: close\r\n".len();
    let mut left = section - fixed;
    let mut index = 0;
    while left > 0 {
        let line = left.min(4096);
        let name = format!("X-Pad-{index:03}: ");
        let value_len = line - name.len() - 2;
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend(std::iter::repeat_n(b'p', value_len));
        bytes.extend_from_slice(b"\r\n");
        left -= line;
        index += 1;
    }
    bytes.extend_from_slice(b"\r\n");
    bytes
}

/// RFC 6585 §5: a field section of 64 KiB is within our limit.
#[test]
fn a_field_section_of_exactly_64_kib_is_served() {
    let server = spawn_server();
    let response = only_response(server.addr(), &head_with_field_section(64 * 1024));
    assert_eq!(response.status, 200, "{}", response.text());
}

/// RFC 6585 §5: a field section over 64 KiB is 431.
#[test]
fn a_field_section_over_64_kib_is_431() {
    let server = spawn_server();
    let bytes = head_with_field_section(64 * 1024 + 1);
    assert_request_refused(
        server.addr(),
        &bytes,
        431,
        "Request Header Fields Too Large",
    );
}

/// RFC 6585 §5: a single field line over 64 KiB is 431, even before it ends.
#[test]
fn an_endless_field_line_is_431() {
    let server = spawn_server();
    let mut bytes = b"GET /healthz HTTP/1.1\r\nHost: taskd.test\r\nX-Pad: ".to_vec();
    bytes.resize(300 * 1024, b'p');
    assert_request_refused(
        server.addr(),
        &bytes,
        431,
        "Request Header Fields Too Large",
    );
}

/// A head with `count` field lines (Host and `Connection: close` included).
fn head_with_fields(count: usize) -> Vec<u8> {
    let mut text = "GET /healthz HTTP/1.1\r\nHost: taskd.test\r\nConnection: close\r\n".to_owned();
    for index in 0..count - 2 {
        text.push_str(&format!("X-Field-{index}: {index}\r\n"));
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// RFC 6585 §5: 100 field lines are within our limit.
#[test]
fn exactly_100_field_lines_are_served() {
    let server = spawn_server();
    let response = only_response(server.addr(), &head_with_fields(100));
    assert_eq!(response.status, 200, "{}", response.text());
}

/// RFC 6585 §5: more than 100 field lines is 431.
#[test]
fn over_100_field_lines_is_431() {
    let server = spawn_server();
    let bytes = head_with_fields(101);
    assert_request_refused(
        server.addr(),
        &bytes,
        431,
        "Request Header Fields Too Large",
    );
}
