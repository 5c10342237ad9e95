//! The URL rules and the client's framing, against a one-shot server on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use crate::client::{parse_head, Target, TcpTransport, Transport, TransportError};
use crate::message::{Request, Response};

#[test]
fn only_plain_http_urls_are_accepted() {
    let https = Target::parse("https://127.0.0.1:8000").unwrap_err();
    assert!(https.contains("plain http only"), "{https}");
    assert!(Target::parse("ftp://127.0.0.1/").is_err());
    assert!(Target::parse("http://").is_err());
    assert!(Target::parse("http://127.0.0.1:8000/?x=1").is_err());
    assert!(Target::parse("http://user:pw@127.0.0.1:8000").is_err());
}

#[test]
fn a_url_without_a_scheme_is_read_as_http() {
    for typed in ["localhost:18608", "127.0.0.1:8000", "[::1]:9000"] {
        let target = Target::parse(typed).unwrap();
        assert_eq!(target.url.scheme(), "http", "{typed}");
        assert_eq!(target.authority, typed);
    }
}

#[test]
fn the_host_header_and_base_path_come_from_the_url() {
    let root = Target::parse("http://127.0.0.1:8000").unwrap();
    assert_eq!(
        (root.authority.as_str(), root.base_path.as_str()),
        ("127.0.0.1:8000", "")
    );
    let prefixed = Target::parse("http://[::1]:9000/api/").unwrap();
    assert_eq!(prefixed.authority, "[::1]:9000");
    assert_eq!(prefixed.base_path, "/api");
}

#[test]
fn header_values_keep_non_ascii_bytes_as_latin_1() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"\xe9\"\r\n\r\n";
    let response = parse_head(head).unwrap();
    assert_eq!(
        response.header("content-disposition"),
        Some("attachment; filename=\"\u{e9}\"")
    );
    assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
}

/// Serves `answer` to one connection and returns what the client sent.
fn serve_once(answer: &'static [u8]) -> (Target, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = Target::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = vec![0u8; 4096];
        let n = stream.read(&mut request).unwrap();
        stream.write_all(answer).unwrap();
        request.truncate(n);
        request
    });
    (target, server)
}

fn send(answer: &'static [u8], request: &Request) -> (Response, String) {
    let (target, server) = serve_once(answer);
    let response = TcpTransport::new(target).send(request).unwrap();
    let sent = String::from_utf8(server.join().unwrap()).unwrap();
    (response, sent)
}

#[test]
fn requests_carry_host_and_close() {
    let (_, sent) = send(
        b"HTTP/1.1 204 No Content\r\n\r\n",
        &Request::new("DELETE", "/tasks/1"),
    );
    assert!(
        sent.starts_with("DELETE /tasks/1 HTTP/1.1\r\nHost: 127.0.0.1:"),
        "{sent}"
    );
    assert!(sent.contains("\r\nConnection: close\r\n"), "{sent}");
}

#[test]
fn chunked_bodies_are_decoded_and_interim_responses_skipped() {
    let answer =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                   4;ext=1\r\nhell\r\n1\r\no\r\n0\r\nX-Trailer: y\r\n\r\n";
    let (response, _) = send(answer, &Request::new("GET", "/"));
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"hello"[..])
    );
}

#[test]
fn content_after_a_head_response_or_a_204_is_kept_for_the_checks() {
    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
    let (response, _) = send(answer, &Request::new("HEAD", "/"));
    assert_eq!(response.body, b"{}");
    let (response, _) = send(
        b"HTTP/1.1 204 No Content\r\n\r\nnull",
        &Request::new("DELETE", "/"),
    );
    assert_eq!(response.body, b"null");
}

#[test]
fn a_body_cut_short_is_an_error_not_a_response() {
    let (target, server) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}");
    let error = TcpTransport::new(target)
        .send(&Request::new("GET", "/"))
        .unwrap_err();
    server.join().unwrap();
    assert!(
        matches!(&error, TransportError::Broken(why) if why.contains("RFC 9112 §6.3")),
        "{error}"
    );
}

#[test]
fn a_closed_port_is_unreachable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = Target::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let error = TcpTransport::new(target)
        .send(&Request::new("GET", "/tasks"))
        .unwrap_err();
    assert!(matches!(error, TransportError::Unreachable(_)), "{error}");
}
