//! The optional bearer token (RFC 6750): 401 + `WWW-Authenticate: Bearer` before routing and
//! before any body is read, and the public health and documentation routes.

use crate::common;
use common::*;

const TOKEN: &str = "correct-horse-battery-staple";

fn server_with_token() -> TestServer {
    spawn_server_with(taskd::Config::ephemeral().with_token(TOKEN))
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// RFC 9110 §15.5.2 and §11.6.1: a 401 carries a challenge.
fn assert_unauthorized(response: &Response) {
    assert_eq!(response.status, 401, "{}", response.text());
    assert_eq!(response.header("WWW-Authenticate"), Some("Bearer"));
    assert_eq!(response.text(), r#"{"detail":"Not authenticated"}"#);
}

#[test]
fn request_without_token_is_401() {
    let server = server_with_token();
    assert_unauthorized(&get(server.addr(), "/tasks"));
}

#[test]
fn wrong_token_is_401() {
    let server = server_with_token();
    let headers = [("Authorization", "Bearer correct-horse-battery-stapl")];
    assert_unauthorized(&request(server.addr(), "GET", "/tasks", &headers, b""));
}

#[test]
fn basic_credentials_are_401() {
    let server = server_with_token();
    let basic = format!("Basic {TOKEN}");
    let headers = [("Authorization", basic.as_str())];
    assert_unauthorized(&request(server.addr(), "GET", "/tasks", &headers, b""));
}

#[test]
fn right_token_is_let_through() {
    let server = server_with_token();
    let auth = bearer();
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let response = request(
        server.addr(),
        "POST",
        "/tasks",
        &headers,
        br#"{"title":"a"}"#,
    );
    assert_eq!(response.status, 201);
    let lower = format!("bearer {TOKEN}");
    let read = request(
        server.addr(),
        "GET",
        "/tasks/1",
        &[("Authorization", &lower)],
        b"",
    );
    assert_eq!(read.status, 200, "the scheme is case-insensitive");
}

#[test]
fn token_is_checked_before_routing() {
    let server = server_with_token();
    assert_unauthorized(&get(server.addr(), "/nope"));
    assert_unauthorized(&request(server.addr(), "PUT", "/tasks", &[], b""));
    assert_unauthorized(&get(server.addr(), "/tasks/abc"));
}

/// The body is not read: a refused upload answers at once even though its body never comes.
/// (100 kB: the tiny_http server read bodies of up to 1 KiB before handing a request over.)
#[test]
fn token_is_checked_before_the_body_is_read() {
    let server = server_with_token();
    let head = request_head(
        server.addr(),
        "POST",
        "/tasks",
        &["Content-Type: application/json", "Content-Length: 100000"],
    );
    let mut stream = connect(server.addr());
    std::io::Write::write_all(&mut stream, &head).unwrap();
    let mut buffer = Vec::new();
    let response = read_one_response(&mut stream, &mut buffer, false);
    assert_unauthorized(&response);
}

#[test]
fn health_and_docs_need_no_token() {
    let server = server_with_token();
    for target in ["/healthz", "/openapi.json", "/docs"] {
        assert_eq!(get(server.addr(), target).status, 200, "{target}");
    }
}

#[test]
fn without_a_configured_token_nothing_is_required() {
    let server = spawn_server();
    assert_eq!(get(server.addr(), "/tasks").status, 200);
}

/// A small body announced with `Expect: 100-continue` is never sent before an answer comes, so
/// the 401 must go out without waiting for it (the tiny_http server drained such a body before
/// writing anything, and client and server waited for each other).
#[test]
fn token_is_checked_before_a_small_expected_body_is_sent() {
    let server = server_with_token();
    let head = request_head(
        server.addr(),
        "POST",
        "/tasks",
        &[
            "Content-Type: application/json",
            "Content-Length: 500",
            "Expect: 100-continue",
        ],
    );
    let mut stream = connect(server.addr());
    std::io::Write::write_all(&mut stream, &head).unwrap();
    let mut buffer = Vec::new();
    let response = read_one_response(&mut stream, &mut buffer, false);
    assert_unauthorized(&response);
}
