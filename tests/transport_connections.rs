//! CONTRACT §13, connections: persistence (`Connection: close`, HTTP/1.0 keep-alive), the
//! `HTTP/1.1` status line, pipelining, lingering close, and the framing of answers without
//! content (1xx, 204, HEAD). Timeouts, the connection cap and shutdown are in
//! `transport_limits.rs`. Every test sends raw bytes to a real server.

use crate::common;
use common::*;

use std::time::Duration;

use serde_json::json;

/// RFC 9112 §9.6: a client's `Connection: close` is honoured: the answer says so, then the
/// server closes.
#[test]
fn connection_close_is_answered_with_connection_close_then_closed() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let answer = client.exchange(&kept_head("GET", "/healthz", &["Connection: close"]));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Connection"), Some("close"));
    client.assert_closed_silently();
}

/// RFC 9112 §9.3: `close` among other connection options still closes.
#[test]
fn connection_close_in_a_list_closes() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let answer = client.exchange(&kept_head(
        "GET",
        "/healthz",
        &["Connection: keep-alive, Close"],
    ));
    assert_eq!(answer.header("Connection"), Some("close"));
    client.assert_closed_silently();
}

/// RFC 9112 §9.3: HTTP/1.1 connections persist by default.
#[test]
fn http_1_1_connections_persist_by_default() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    for _ in 0..3 {
        let answer = client.exchange(&healthz());
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("Connection"), None);
    }
}

/// RFC 9112 §9.3: an HTTP/1.0 connection closes after the answer unless the client asked for
/// keep-alive.
#[test]
fn http_1_0_without_keep_alive_is_closed_after_the_answer() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let answer = client.exchange(b"GET /healthz HTTP/1.0\r\n\r\n");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("Connection"), Some("close"));
    client.assert_closed_silently();
}

/// RFC 9112 §C.2.2 (RFC 2068 keep-alive): an HTTP/1.0 client that asks for keep-alive is told it
/// is kept, and is.
#[test]
fn http_1_0_with_keep_alive_is_kept_alive_and_told_so() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    for _ in 0..2 {
        let answer = client.exchange(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("Connection"), Some("keep-alive"));
    }
    let last = client.exchange(b"GET /healthz HTTP/1.0\r\n\r\n");
    assert_eq!(last.header("Connection"), Some("close"));
    client.assert_closed_silently();
}

/// RFC 9110 §2.5: a server sends its own highest conformant version, whatever the client spoke,
/// refusals included.
#[test]
fn the_status_line_is_always_http_1_1() {
    let server = spawn_server();
    for request in [
        &b"GET /healthz HTTP/1.0\r\n\r\n"[..],
        b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.7\r\nHost: a\r\nConnection: close\r\n\r\n",
        b"GET /nope HTTP/1.0\r\n\r\n",
        b"GET /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET /healthz HTTP/2.0\r\n\r\n",
    ] {
        let response = only_response(server.addr(), request);
        assert!(
            response.raw.starts_with(b"HTTP/1.1 "),
            "{:?}",
            String::from_utf8_lossy(&response.raw)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Pipelining
// ---------------------------------------------------------------------------------------------

/// RFC 9112 §9.3.2: pipelined requests are answered in order, and each takes effect after the
/// one before it.
#[test]
fn pipelined_requests_are_answered_and_take_effect_in_order() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let mut pipeline = create_request("First");
    pipeline.extend_from_slice(&kept_head("DELETE", "/tasks/1", &[]));
    pipeline.extend_from_slice(&kept_head("GET", "/tasks/1", &[]));
    pipeline.extend_from_slice(&create_request("Second"));
    pipeline.extend_from_slice(&kept_head("GET", "/tasks", &[]));
    client.send(&pipeline);
    assert_eq!(client.response().status, 201);
    assert_eq!(client.response().status, 204);
    assert_eq!(
        client.response().json(),
        json!({"detail": "Task 1 not found"})
    );
    assert_eq!(client.response().json()["id"], json!(2));
    let list = client.response();
    assert_eq!(
        list.json().as_array().map(Vec::len),
        Some(1),
        "{}",
        list.text()
    );
    assert!(client.unread().is_empty());
}

/// RFC 9112 §9.6: a pipelined request that says `close` is the last one answered.
#[test]
fn a_pipelined_connection_close_ends_the_pipeline() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let mut pipeline = healthz();
    pipeline.extend_from_slice(&kept_head("GET", "/healthz", &["Connection: close"]));
    pipeline.extend_from_slice(&create_request("Never"));
    client.send(&pipeline);
    assert_eq!(client.response().header("Connection"), None);
    assert_eq!(client.response().header("Connection"), Some("close"));
    client.assert_closed_silently();
    assert_eq!(get(server.addr(), "/tasks").json(), json!([]));
}

/// RFC 9112 §9.3.2: pipelined requests with bodies, chunked or not, in one write.
#[test]
fn pipelined_requests_with_bodies_are_each_framed() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let mut pipeline = create_request("One");
    pipeline.extend_from_slice(&kept_head(
        "POST",
        "/tasks",
        &[
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
    ));
    pipeline.extend_from_slice(&chunked(br#"{"title":"Two"}"#, 3));
    pipeline.extend_from_slice(&create_request("Three"));
    client.send(&pipeline);
    for (id, title) in [(1, "One"), (2, "Two"), (3, "Three")] {
        let created = client.response();
        assert_eq!(created.status, 201, "{}", created.text());
        assert_eq!(created.json()["id"], json!(id));
        assert_eq!(created.json()["title"], json!(title));
    }
}

// ---------------------------------------------------------------------------------------------
// Lingering close
// ---------------------------------------------------------------------------------------------

/// Sends `head`, then keeps sending 512 KiB the server will never use, and only then reads the
/// answer: all of it must be there, and the connection must end in an orderly close: a server
/// that closed with unread bytes would reset it, and a reset may destroy the answer in flight
/// (at once on some stacks; on Linux when the answer is still in the server's send queue).
fn assert_whole_answer_while_still_sending(head: &[u8], status: u16) {
    const FLOOD: usize = 512 * 1024;
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    client.send(head);
    let flood = Trickle::start(&client.stream, vec![b'x'; FLOOD], 16 * 1024, Duration::ZERO);
    // The sender stops once all is written (the server lingers, reading and discarding) or
    // when the server resets the connection.
    assert_eq!(flood.finish(), FLOOD, "the server stopped reading: a reset");
    let answer = client.response();
    assert_eq!(answer.status, status, "{}", answer.text());
    assert_eq!(answer.header("Connection"), Some("close"));
    assert!(answer.json()["detail"].is_string());
    assert_eq!(
        client.ending(),
        Ending::Closed(Vec::new()),
        "not an orderly close"
    );
}

/// RFC 9112 §9.6: a refused head is followed by a lingering close, so a client still sending
/// gets the 400 rather than a reset.
#[test]
fn a_refused_head_whose_client_keeps_sending_gets_its_whole_answer() {
    let mut head = b"POST /tasks HTTP/1.1\r\nHost: a\r\n".to_vec();
    head.extend_from_slice(b"Content-Length: 600000\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_whole_answer_while_still_sending(&head, 400);
}

/// RFC 9112 §9.6: ...and so is an answer that leaves a long body unread (here a 413 decided by
/// the declared length).
#[test]
fn an_unread_body_whose_client_keeps_sending_gets_its_whole_answer() {
    let head = kept_head(
        "POST",
        "/tasks",
        &["Content-Type: application/json", "Content-Length: 2000000"],
    );
    assert_whole_answer_while_still_sending(&head, 413);
}

/// A connection whose head was refused (CL with TE): its 400 has been read, the server is
/// lingering.
fn lingering_connection(server: &TestServer) -> Client {
    let mut client = Client::open(server.addr());
    let answer = client.exchange(&post_tasks(
        &["Content-Length: 5", "Transfer-Encoding: chunked"],
        b"",
    ));
    assert_refused(&answer, 400, "Bad Request");
    client
}

/// RFC 9112 §9.6: the lingering close is bounded: after 1 MiB discarded the server closes, so a
/// client that sends forever cannot hold a thread.
#[test]
fn a_lingering_close_stops_reading_after_1_mib() {
    const ENOUGH: usize = 64 * 1024 * 1024;
    let server = spawn_server();
    let mut client = lingering_connection(&server);
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < ENOUGH && std::io::Write::write_all(&mut client.stream, &chunk).is_ok() {
        sent += chunk.len();
    }
    assert!(
        sent < ENOUGH,
        "the server read {sent} bytes and kept reading"
    );
}

/// RFC 9112 §9.6: ...and after 2 s, however slowly the client sends.
#[test]
fn a_lingering_close_stops_reading_after_2_s() {
    let server = spawn_server();
    let client = lingering_connection(&server);
    let trickle = Trickle::start(
        &client.stream,
        vec![b'x'; 64 * 200],
        64,
        Duration::from_millis(50),
    );
    let (sent, took) = timed(|| trickle.finish());
    assert!(sent < 64 * 200, "the server kept reading for {took:?}");
    assert!(took >= Duration::from_millis(1500), "closed after {took:?}");
}

// ---------------------------------------------------------------------------------------------
// Answers without content
// ---------------------------------------------------------------------------------------------

/// RFC 9110 §8.6, §15.3.5: a 204 has no Content-Length (nor Content-Type) and no body; the next
/// answer follows its head at once.
#[test]
fn a_204_has_no_content_length_and_no_body() {
    let server = server_with_task();
    let mut client = Client::open(server.addr());
    for request in [
        kept_head("OPTIONS", "/tasks", &[]),
        kept_head("DELETE", "/tasks/1", &[]),
    ] {
        let answer = client.exchange(&request);
        assert_eq!(answer.status, 204);
        assert!(!answer.has_header("Content-Length"), "{:?}", answer.headers);
        assert!(!answer.has_header("Content-Type"), "{:?}", answer.headers);
        assert_eq!(client.exchange(&healthz()).status, 200);
    }
}

/// RFC 9110 §9.3.2: HEAD gets GET's status and fields, its Content-Length included, and no body.
#[test]
fn head_gets_the_content_length_of_get_and_no_body() {
    let server = server_with_task();
    let mut client = Client::open(server.addr());
    let got = client.exchange(&kept_head("GET", "/tasks/1", &[]));
    client.send(&kept_head("HEAD", "/tasks/1", &[]));
    let head = client.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), got.header("Content-Length"));
    assert_eq!(head.header("Content-Type"), got.header("Content-Type"));
    assert!(client.unread().is_empty(), "HEAD sent a body");
    assert_eq!(client.exchange(&healthz()).status, 200);
}

/// RFC 9110 §9.3.2: the server MUST NOT send content in answer to HEAD, refusals included.
#[test]
fn a_refused_head_request_has_no_body() {
    let server = spawn_server();
    for request in [
        &b"HEAD /healthz HTTP/1.1\r\n\r\n"[..],
        b"HEAD /healthz HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n",
        b"HEAD /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
    ] {
        let mut client = Client::open(server.addr());
        client.send(request);
        let answer = client.head_response();
        assert!(answer.status >= 400, "{}", answer.status);
        assert_eq!(answer.header("Connection"), Some("close"));
        assert!(answer.has_header("Content-Length"));
        client.assert_closed_silently();
    }
}
