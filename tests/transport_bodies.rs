//! CONTRACT §13, bodies the route does not read: the answer goes out first, then up to 64 KiB of
//! the body is skipped so the connection stays usable; a longer one closes it. Every test sends
//! raw bytes to a real server.

use crate::common;
use common::*;

use serde_json::json;

/// A request that must never be answered: it is the body of another request. Were the body
/// not skipped, its 404 would come next.
fn smuggled() -> Vec<u8> {
    kept_head("GET", "/smuggled", &[])
}

/// `method target` with `lines` and a small body that is itself a request.
fn with_small_body(method: &str, target: &str, lines: &[&str]) -> Vec<u8> {
    let body = smuggled();
    let length = format!("Content-Length: {}", body.len());
    let mut all = lines.to_vec();
    all.push(&length);
    let mut bytes = kept_head(method, target, &all);
    bytes.extend_from_slice(&body);
    bytes
}

/// The answer to `request` on `client` has `status` and keeps the connection, and the next
/// request on it is answered as itself: the body was skipped, not read as a request.
fn assert_body_skipped(client: &mut Client, request: &[u8], status: u16, is_head: bool) {
    client.send(request);
    let answer = if is_head {
        client.head_response()
    } else {
        client.response()
    };
    assert_eq!(answer.status, status, "{}", answer.text());
    assert_eq!(answer.header("Connection"), None);
    let next = client.exchange(&healthz());
    assert_eq!(
        next.status,
        200,
        "the body was read as a request: {}",
        next.text()
    );
    assert_eq!(next.json(), json!({"status": "ok"}));
}

// ---------------------------------------------------------------------------------------------
// Unread bodies
// ---------------------------------------------------------------------------------------------

/// RFC 9112 §6.3: a GET's body is framed like any other and skipped.
#[test]
fn a_get_with_a_small_body_keeps_the_connection() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    assert_body_skipped(
        &mut client,
        &with_small_body("GET", "/healthz", &[]),
        200,
        false,
    );
}

/// RFC 9112 §6.3: a HEAD's body is skipped; its answer has no body either.
#[test]
fn a_head_with_a_small_body_keeps_the_connection() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    assert_body_skipped(
        &mut client,
        &with_small_body("HEAD", "/healthz", &[]),
        200,
        true,
    );
}

/// RFC 9112 §6.3: a DELETE's body is skipped, and the delete took effect.
#[test]
fn a_delete_with_a_small_body_keeps_the_connection() {
    let server = server_with_task();
    let mut client = Client::open(server.addr());
    assert_body_skipped(
        &mut client,
        &with_small_body("DELETE", "/tasks/1", &[]),
        204,
        false,
    );
    assert_eq!(
        client.exchange(&kept_head("GET", "/tasks/1", &[])).status,
        404
    );
}

/// RFC 9112 §6.3: an OPTIONS body is skipped.
#[test]
fn an_options_with_a_small_body_keeps_the_connection() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    assert_body_skipped(
        &mut client,
        &with_small_body("OPTIONS", "/tasks", &[]),
        204,
        false,
    );
}

/// RFC 9112 §6.3: the body of a request to no route is skipped.
#[test]
fn a_404_with_a_small_body_keeps_the_connection() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    assert_body_skipped(
        &mut client,
        &with_small_body("POST", "/nope", &[]),
        404,
        false,
    );
}

/// RFC 9112 §6.3: the body of a method not allowed is skipped.
#[test]
fn a_405_with_a_small_body_keeps_the_connection() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    assert_body_skipped(
        &mut client,
        &with_small_body("PUT", "/tasks", &[]),
        405,
        false,
    );
}

/// RFC 9112 §6.3: the body of an unauthenticated request is skipped, unread by any handler.
#[test]
fn a_401_with_a_small_body_keeps_the_connection() {
    let server = spawn_with_token("s3cret");
    let mut client = Client::open(server.addr());
    let request = with_small_body("POST", "/tasks", &["Content-Type: application/json"]);
    assert_body_skipped(&mut client, &request, 401, false);
}

/// CONTRACT §13: the answer is sent first, before the unread body has even arrived.
#[test]
fn the_answer_comes_before_an_unread_body_is_sent() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let body = smuggled();
    let length = format!("Content-Length: {}", body.len());
    let answer = client.exchange(&kept_head("GET", "/healthz", &[&length]));
    assert_eq!(answer.status, 200);
    client.send(&body);
    assert_eq!(client.exchange(&healthz()).status, 200);
}

/// CONTRACT §13: up to 64 KiB of unread body is skipped and the connection kept.
#[test]
fn an_unread_body_of_64_kib_keeps_the_connection() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let mut bytes = kept_head("GET", "/healthz", &["Content-Length: 65536"]);
    bytes.resize(bytes.len() + 65536, b'x');
    assert_body_skipped(&mut client, &bytes, 200, false);
}

/// CONTRACT §13: a longer unread body is not worth reading: the answer says `Connection: close`.
#[test]
fn an_unread_body_over_64_kib_closes_the_connection() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let mut bytes = kept_head("GET", "/healthz", &["Content-Length: 65537"]);
    bytes.resize(bytes.len() + 65537, b'x');
    bytes.extend_from_slice(&healthz());
    let writer = Trickle::start(&client.stream, bytes, usize::MAX, std::time::Duration::ZERO);
    let answer = client.response();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Connection"), Some("close"));
    writer.stop();
    finish_sending(&client.stream);
    client.assert_closed_silently();
}

/// CONTRACT §13: a 413 decided by the declared length leaves the whole body unread, always over
/// 64 KiB: the answer says `Connection: close`.
#[test]
fn a_413_by_declared_length_closes_the_connection() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let bytes = post_json_head_declaring(1024 * 1024 + 1);
    client.send(&bytes);
    client.send(br#"{"title":"x"}"#);
    finish_sending(&client.stream);
    let answer = client.response();
    assert_eq!(answer.status, 413, "{}", answer.text());
    assert_eq!(answer.header("Connection"), Some("close"));
    client.assert_closed_silently();
}

fn post_json_head_declaring(length: u64) -> Vec<u8> {
    let length = format!("Content-Length: {length}");
    kept_head(
        "POST",
        "/tasks",
        &["Content-Type: application/json", &length],
    )
}

/// CONTRACT §13: an unread chunked body is decoded and skipped.
#[test]
fn an_unread_chunked_body_is_drained() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let mut bytes = kept_head("GET", "/healthz", &["Transfer-Encoding: chunked"]);
    bytes.extend_from_slice(&chunked(&smuggled(), 5));
    assert_body_skipped(&mut client, &bytes, 200, false);
}

/// CONTRACT §13: over 64 KiB of unread chunked data closes the connection after the answer (its
/// length is not known when the answer is written, so the answer cannot say so).
#[test]
fn an_unread_chunked_body_over_64_kib_closes_the_connection() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let mut bytes = kept_head("GET", "/healthz", &["Transfer-Encoding: chunked"]);
    bytes.extend_from_slice(&chunked(&vec![b'x'; 65537], 4096));
    bytes.extend_from_slice(&healthz());
    let writer = Trickle::start(&client.stream, bytes, usize::MAX, std::time::Duration::ZERO);
    assert_eq!(client.response().status, 200);
    writer.stop();
    finish_sending(&client.stream);
    client.assert_closed_silently();
}
