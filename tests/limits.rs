//! Body limits decided from the declared length (CONTRACT §4 step 1, §10): an over-limit body is
//! refused before a byte of it is read, so a client that asked `Expect: 100-continue` never gets
//! a `100 Continue` and never sends it.

use crate::common;
use common::*;

use std::io::Write;

const LIMIT: u64 = 1000;
/// The framing allowance taskd grants beside the file when judging a declared length.
const FRAMING: u64 = 64 * 1024;

fn server_with_upload_limit() -> TestServer {
    spawn_server_with(taskd::Config::ephemeral().with_max_upload_bytes(LIMIT))
}

/// Sends only the head (with `Expect: 100-continue`) and returns the first response.
fn first_answer_to_head(addr: std::net::SocketAddr, target: &str, lines: &[&str]) -> Response {
    let mut stream = connect(addr);
    stream
        .write_all(&request_head(addr, "POST", target, lines))
        .unwrap();
    let mut buffer = Vec::new();
    read_one_response(&mut stream, &mut buffer, false)
}

/// RFC 9110 §10.1.1: a server that will refuse the body should answer without `100 Continue`.
#[test]
fn upload_declared_over_limit_is_413_without_100_continue() {
    let server = server_with_upload_limit();
    let id = create_task(server.addr(), "t");
    let length = format!("Content-Length: {}", LIMIT + FRAMING + 1);
    let content_type = format!("Content-Type: {}", form_type());
    let response = first_answer_to_head(
        server.addr(),
        &format!("/tasks/{id}/attachment"),
        &[&content_type, &length, "Expect: 100-continue"],
    );
    assert_eq!(response.status, 413);
    assert_eq!(
        response.text(),
        format!(r#"{{"detail":"File too large (limit {LIMIT} bytes)"}}"#)
    );
}

/// Up to the limit plus the framing allowance the body is read, and the file itself decides.
#[test]
fn upload_declared_within_the_allowance_is_read() {
    let server = server_with_upload_limit();
    let id = create_task(server.addr(), "t");
    let content = vec![b'a'; LIMIT as usize];
    let response = upload(server.addr(), id, "a.txt", Some("text/plain"), &content);
    assert_eq!(response.status, 200, "{}", response.text());
    let one_more = vec![b'a'; LIMIT as usize + 1];
    let response = upload(server.addr(), id, "a.txt", Some("text/plain"), &one_more);
    assert_eq!(response.status, 413);
}

#[test]
fn json_declared_over_limit_is_413_without_100_continue() {
    let server = spawn_server();
    let response = first_answer_to_head(
        server.addr(),
        "/tasks",
        &[
            "Content-Type: application/json",
            "Content-Length: 1048577",
            "Expect: 100-continue",
        ],
    );
    assert_eq!(response.status, 413);
    assert_eq!(
        response.text(),
        r#"{"detail":"Request body too large (limit 1048576 bytes)"}"#
    );
}

/// The server keeps serving after refusing bodies that were never sent.
#[test]
fn server_answers_after_refusing_unsent_bodies() {
    let server = server_with_upload_limit();
    for _ in 0..8 {
        upload_declared_over_limit_probe(&server);
    }
    assert_eq!(get(server.addr(), "/healthz").status, 200);
}

fn upload_declared_over_limit_probe(server: &TestServer) {
    let length = format!("Content-Length: {}", LIMIT + FRAMING + 1);
    let content_type = format!("Content-Type: {}", form_type());
    let response = first_answer_to_head(
        server.addr(),
        "/tasks/1/attachment",
        &[&content_type, &length, "Expect: 100-continue"],
    );
    assert_eq!(response.status, 413);
}

/// Bodies a handler leaves unread and the client never finishes sending cost their own
/// connection only: everyone else is answered at once. (tiny_http drained them in the thread
/// that answered, until the client had sent everything it declared.) Covers a refused upload
/// (413), a method that is not allowed (405) and a GET with a body.
#[test]
fn unread_bodies_left_unsent_do_not_delay_anyone_else() {
    let server = spawn_server_with(taskd::Config::ephemeral().with_max_upload_bytes(LIMIT));
    let addr = server.addr();
    let id = create_task(addr, "t");
    let content_type = format!("Content-Type: {}", form_type());
    let over_limit = format!("Content-Length: {}", LIMIT + FRAMING + 1);
    let large = "Content-Length: 10000000";
    let upload_target = format!("/tasks/{id}/attachment");
    let cases: [(&str, &str, &str, u16); 3] = [
        ("POST", upload_target.as_str(), over_limit.as_str(), 413),
        ("PUT", upload_target.as_str(), large, 405),
        ("GET", "/tasks", large, 200),
    ];
    let mut held_open = Vec::new();
    for (method, target, length, status) in cases {
        let mut stream = connect(addr);
        let head = request_head(addr, method, target, &[&content_type, length]);
        stream.write_all(&head).unwrap();
        stream.write_all(b"--").unwrap();
        let mut buffer = Vec::new();
        let response = read_one_response(&mut stream, &mut buffer, false);
        assert_eq!(response.status, status, "{method} {target}");
        held_open.push(stream);
    }
    let started = std::time::Instant::now();
    assert_eq!(get(addr, "/healthz").status, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

/// A slow but legitimate upload trickles in on its own connection; everyone else is answered
/// promptly meanwhile, and the upload still completes intact.
#[test]
fn a_slow_upload_does_not_delay_anyone_else() {
    use std::time::{Duration, Instant};
    let server = spawn_server();
    let addr = server.addr();
    let id = create_task(addr, "slow");
    let content: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    let body = multipart_body(&[Part::file("slow.bin", Some("text/plain"), &content)]);
    let content_type = format!("Content-Type: {}", form_type());
    let length = format!("Content-Length: {}", body.len());
    let mut stream = connect(addr);
    let target = format!("/tasks/{id}/attachment");
    stream
        .write_all(&request_head(
            addr,
            "POST",
            &target,
            &[&content_type, &length],
        ))
        .unwrap();
    let (started_part, rest) = body.split_at(200);
    stream.write_all(started_part).unwrap();
    for _ in 0..20 {
        let asked = Instant::now();
        assert_eq!(get(addr, "/healthz").status, 200);
        assert!(asked.elapsed() < Duration::from_secs(1));
    }
    for piece in rest.chunks(1024) {
        stream.write_all(piece).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut buffer = Vec::new();
    let response = read_one_response(&mut stream, &mut buffer, false);
    assert_eq!(response.status, 200, "{}", response.text());
    let download = get(addr, &target);
    assert_eq!(download.body, content);
}
