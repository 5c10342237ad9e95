//! CONTRACT §13, `Expect` (RFC 9110 §10.1.1): `100 Continue`, bare, only once the body is read
//! and never for an answer decided without it; 417 for any other expectation; nothing of it in
//! HTTP/1.0. Every test sends raw bytes to a real server.

use crate::common;
use common::*;

use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Expect
// ---------------------------------------------------------------------------------------------

/// RFC 9110 §10.1.1 / §15.2: the interim response is a status line and an empty line, no fields.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Sends `head`, asserts the exact interim response and nothing after it, then sends `body`
/// and returns the final answer.
fn continue_then_answer(client: &mut Client, head: &[u8], body: &[u8]) -> Response {
    client.send(head);
    let interim = client.response();
    assert_eq!(
        String::from_utf8_lossy(&interim.raw),
        String::from_utf8_lossy(CONTINUE)
    );
    assert!(client.unread().is_empty(), "{:?}", client.unread());
    client.exchange(body)
}

/// A JSON create on a kept-alive connection that asks with `expect` (one spelling of
/// `Expect: 100-continue`): the bare `100 Continue`, then the 201.
fn continued_create(expect: &str) -> (TestServer, Client, Response) {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let body = br#"{"title":"Continued"}"#;
    let length = format!("Content-Length: {}", body.len());
    let fields = ["Content-Type: application/json", &length, expect];
    let head = kept_head("POST", "/tasks", &fields);
    let created = continue_then_answer(&mut client, &head, body);
    (server, client, created)
}

/// RFC 9110 §10.1.1: a server that reads the body sends `100 Continue` first.
#[test]
fn expect_100_continue_gets_a_bare_100_continue_when_the_body_is_read() {
    let (_server, mut client, created) = continued_create("Expect: 100-continue");
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("Connection"), None);
    assert_eq!(client.exchange(&healthz()).status, 200);
}

/// RFC 9110 §10.1.1: the expectation is case-insensitive.
#[test]
fn expect_100_continue_is_case_insensitive() {
    let (_server, _client, created) = continued_create("expect: 100-Continue");
    assert_eq!(created.status, 201, "{}", created.text());
}

/// RFC 9110 §10.1.1: a chunked body is continued alike.
#[test]
fn expect_100_continue_works_with_a_chunked_body() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let head = kept_head(
        "POST",
        "/tasks",
        &[
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
            "Expect: 100-continue",
        ],
    );
    let body = chunked(br#"{"title":"Continued"}"#, 4);
    assert_eq!(continue_then_answer(&mut client, &head, &body).status, 201);
}

/// Sends a head with `Expect: 100-continue` and a declared body that is never sent; asserts the
/// first thing back is the final answer `status`, with `Connection: close` (the client may never
/// send the body), and that the connection then closes.
fn assert_answered_without_continue(server: &TestServer, head: &[u8], status: u16) {
    let mut client = Client::open(server.addr());
    client.send(head);
    let answer = client.response();
    assert_eq!(
        answer.status,
        status,
        "{:?}",
        String::from_utf8_lossy(&answer.raw)
    );
    assert_eq!(answer.header("Connection"), Some("close"));
    finish_sending(&client.stream);
    client.assert_closed_silently();
}

/// `method target` expecting `100-continue` for a small JSON body.
fn expecting(method: &str, target: &str, extra: &[&str]) -> Vec<u8> {
    let mut lines = vec![
        "Content-Type: application/json",
        "Content-Length: 20",
        "Expect: 100-continue",
    ];
    lines.extend_from_slice(extra);
    kept_head(method, target, &lines)
}

/// RFC 9110 §10.1.1: a 404 is decided without the body: no `100 Continue`.
#[test]
fn no_100_continue_for_a_404() {
    let server = spawn_server();
    assert_answered_without_continue(&server, &expecting("POST", "/nope", &[]), 404);
}

/// RFC 9110 §10.1.1: a 405 is decided without the body: no `100 Continue`.
#[test]
fn no_100_continue_for_a_405() {
    let server = spawn_server();
    assert_answered_without_continue(&server, &expecting("PUT", "/tasks", &[]), 405);
}

/// RFC 9110 §10.1.1: a 401 is decided without the body: no `100 Continue`.
#[test]
fn no_100_continue_for_a_401() {
    let server = spawn_with_token("s3cret");
    assert_answered_without_continue(&server, &expecting("POST", "/tasks", &[]), 401);
}

/// RFC 9110 §10.1.1: a 413 by declared length is decided without the body: no `100 Continue`.
#[test]
fn no_100_continue_for_a_413_by_declared_length() {
    let server = spawn_server();
    let head = kept_head(
        "POST",
        "/tasks",
        &[
            "Content-Type: application/json",
            "Content-Length: 1048577",
            "Expect: 100-continue",
        ],
    );
    assert_answered_without_continue(&server, &head, 413);
}

/// RFC 9110 §10.1.1: a server that receives an expectation other than `100-continue` MAY
/// answer 417; we do.
#[test]
fn another_expectation_is_417() {
    let server = spawn_server();
    for expectation in ["200-ok", "100-continue, 200-ok", "", "100-continue=1"] {
        let line = format!("Expect: {expectation}");
        let mut bytes = kept_head(
            "POST",
            "/tasks",
            &["Content-Type: application/json", "Content-Length: 2", &line],
        );
        bytes.extend_from_slice(b"{}");
        let response = only_response(server.addr(), &bytes);
        assert_refused(&response, 417, "Expectation Failed");
    }
    assert_eq!(get(server.addr(), "/tasks").json(), json!([]));
}

/// RFC 9110 §10.1.1: a server MUST ignore an expectation in an HTTP/1.0 request.
#[test]
fn expect_is_ignored_in_http_1_0() {
    let server = spawn_server();
    let body = br#"{"title":"Old"}"#;
    let head = format!(
        "POST /tasks HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 200-ok\r\n\r\n",
        body.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    let created = only_response(server.addr(), &bytes);
    assert_eq!(created.status, 201, "{}", created.text());
}

/// RFC 9110 §10.1.1: ...so an HTTP/1.0 client waiting on `100-continue` gets no interim
/// response: here its body never comes and the first thing it hears is the 408.
#[test]
fn expect_100_continue_in_http_1_0_gets_no_interim_response() {
    let server =
        spawn_configured(|config| config.with_io_timeout(std::time::Duration::from_millis(300)));
    let mut client = Client::open(server.addr());
    client.send(
        b"POST /tasks HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n",
    );
    let answer = client.response();
    assert_refused(&answer, 408, "Request Timeout");
}
