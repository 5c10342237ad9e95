//! CONTRACT §13, what bounds a connection: the idle (`keep_alive_timeout`), head
//! (`request_timeout`) and transfer (`io_timeout`) deadlines, the connection cap
//! (`max_connections`) and shutdown. Deadlines are set to fractions of a second so the suite
//! stays fast; every wait is for an event (an answer, a close), bounded by `PATIENCE`.

use crate::common;
use common::*;

use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use serde_json::json;

const SHORT: Duration = Duration::from_millis(300);

/// A JSON `POST /tasks` head declaring `length` bytes of body.
fn post_head(length: usize, lines: &[&str]) -> Vec<u8> {
    let length = format!("Content-Length: {length}");
    let mut all = vec!["Content-Type: application/json", length.as_str()];
    all.extend_from_slice(lines);
    kept_head("POST", "/tasks", &all)
}

// ---------------------------------------------------------------------------------------------
// Idle connections
// ---------------------------------------------------------------------------------------------

/// RFC 9112 §9.5: a server may close an idle connection; ours does after `keep_alive_timeout`,
/// without a word.
#[test]
fn an_idle_connection_is_closed_unanswered_after_the_keep_alive_timeout() {
    let server = spawn_configured(|config| config.with_keep_alive_timeout(SHORT));
    let mut client = Client::open(server.addr());
    assert_eq!(client.exchange(&healthz()).status, 200);
    let ((), waited) = timed(|| client.assert_closed_silently());
    assert!(waited >= SHORT / 2, "closed after {waited:?}");
}

/// RFC 9112 §9.5: a fresh connection that sends nothing is idle too.
#[test]
fn a_fresh_connection_that_sends_nothing_is_closed_after_the_keep_alive_timeout() {
    let server = spawn_configured(|config| config.with_keep_alive_timeout(SHORT));
    let mut client = Client::open(server.addr());
    let ((), waited) = timed(|| client.assert_closed_silently());
    assert!(waited >= SHORT / 2, "closed after {waited:?}");
}

/// The idle deadline counts from the last answer: a connection used more often stays open.
#[test]
fn a_connection_used_within_the_keep_alive_timeout_stays_open() {
    let server =
        spawn_configured(|config| config.with_keep_alive_timeout(Duration::from_millis(600)));
    let mut client = Client::open(server.addr());
    for _ in 0..5 {
        assert_eq!(client.exchange(&healthz()).status, 200);
        thread::sleep(Duration::from_millis(150));
    }
}

// ---------------------------------------------------------------------------------------------
// Slow heads and bodies
// ---------------------------------------------------------------------------------------------

/// CONTRACT §13: a head not complete `request_timeout` after its first byte is 408, however
/// steadily it trickles (the slowloris attack).
#[test]
fn a_head_trickled_slower_than_the_request_timeout_is_408() {
    let server = spawn_configured(|config| config.with_request_timeout(SHORT));
    let mut client = Client::open(server.addr());
    let head = kept_head("GET", "/healthz", &[&format!("X-Pad: {}", "p".repeat(200))]);
    let trickle = Trickle::start(&client.stream, head, 1, Duration::from_millis(10));
    let (answer, waited) = timed(|| client.response());
    trickle.stop();
    assert_refused(&answer, 408, "Request Timeout");
    assert!(
        waited >= SHORT - Duration::from_millis(50),
        "408 after {waited:?}"
    );
}

/// CONTRACT §13: a head that arrives slowly but within `request_timeout` is served.
#[test]
fn a_slow_head_within_the_request_timeout_is_served() {
    let server = spawn_configured(|config| config.with_request_timeout(Duration::from_secs(3)));
    let mut client = Client::open(server.addr());
    let trickle = Trickle::start(&client.stream, healthz(), 8, Duration::from_millis(20));
    assert_eq!(client.response().status, 200);
    trickle.finish();
}

/// CONTRACT §13: a body that stops moving for `io_timeout` is 408, and nothing is created.
#[test]
fn a_stalled_body_is_408() {
    let server = spawn_configured(|config| config.with_io_timeout(SHORT));
    let mut client = Client::open(server.addr());
    client.send(&post_head(100, &[]));
    client.send(br#"{"title":"#);
    let answer = client.response();
    assert_refused(&answer, 408, "Request Timeout");
    client.assert_closed_silently();
    assert_eq!(get(server.addr(), "/tasks").json(), json!([]));
}

/// CONTRACT §13: a body that moves, but less than 1 KiB per `io_timeout` window, is 408 too.
#[test]
fn a_body_trickled_under_1_kib_per_window_is_408() {
    let server = spawn_configured(|config| config.with_io_timeout(Duration::from_millis(400)));
    let mut client = Client::open(server.addr());
    client.send(&post_head(100_000, &[]));
    // 64 bytes every 50 ms: at most about 500 bytes per window.
    let trickle = Trickle::start(
        &client.stream,
        vec![b' '; 100_000],
        64,
        Duration::from_millis(50),
    );
    let answer = client.response();
    trickle.stop();
    assert_refused(&answer, 408, "Request Timeout");
}

/// CONTRACT §13: an unread body that stalls after the answer was sent closes the connection:
/// there is nothing left to answer.
#[test]
fn an_unread_body_stalled_after_the_answer_closes_the_connection() {
    let server = spawn_configured(|config| config.with_io_timeout(SHORT));
    let mut client = Client::open(server.addr());
    client.send(&kept_head("GET", "/healthz", &["Content-Length: 100"]));
    client.send(b"0123456789");
    let answer = client.response();
    assert_eq!(answer.status, 200);
    client.assert_closed_silently();
}

/// CONTRACT §13: a client that stops reading a download is abandoned after `io_timeout`, its
/// thread freed; everyone else is served meanwhile.
#[test]
fn a_client_that_never_reads_a_download_is_abandoned_and_others_are_served() {
    const SIZE: usize = 12 * 1024 * 1024;
    let server = spawn_configured(|config| config.with_io_timeout(SHORT));
    let addr = server.addr();
    assert_eq!(create_task(addr, "Big"), 1);
    let content = vec![b'd'; SIZE];
    let uploaded = upload(addr, 1, "big.txt", Some("text/plain"), &content);
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());
    let mut silent = Client::open(addr);
    silent.send(&kept_head("GET", "/tasks/1/attachment", &[]));
    for _ in 0..5 {
        let (answer, took) = timed(|| get(addr, "/healthz"));
        assert_eq!(answer.status, 200);
        assert!(took < Duration::from_secs(2), "healthz took {took:?}");
    }
    // Shutdown waits for busy connections (up to 10 s): it returns once the write is abandoned.
    let ((), took) = timed(|| server.shutdown());
    assert!(
        took < Duration::from_secs(4),
        "the download was not abandoned: {took:?}"
    );
    let received = match silent.ending() {
        Ending::Closed(bytes) | Ending::Reset(bytes) => bytes.len(),
    };
    assert!(
        received < SIZE,
        "the whole download arrived: {received} bytes"
    );
}

// ---------------------------------------------------------------------------------------------
// The connection cap
// ---------------------------------------------------------------------------------------------

/// RFC 9112 §9.5: at `max_connections`, the connection idle the longest is closed to make room;
/// a fresh connection that has sent nothing is idle since it was accepted.
///
/// (The oldest connection sends nothing: when a connection turns idle after an answer cannot be
/// seen from outside, so a test that relied on it would race the server's threads.)
#[test]
fn the_longest_idle_connection_is_closed_to_make_room() {
    let server = spawn_configured(|config| config.with_max_connections(2));
    let mut oldest = Client::open(server.addr());
    let mut newer = Client::open(server.addr());
    assert_eq!(newer.exchange(&healthz()).status, 200);
    let mut newcomer = Client::open(server.addr());
    assert_eq!(newcomer.exchange(&healthz()).status, 200);
    oldest.assert_closed_silently();
    assert_eq!(newer.exchange(&healthz()).status, 200);
}

/// Sends a head with `Expect: 100-continue` and waits for the `100 Continue`: from then on the
/// connection is busy (its handler is reading the body).
fn busy_connection(server: &TestServer, body: &[u8]) -> Client {
    let mut client = Client::open(server.addr());
    let interim = client.exchange(&post_head(body.len(), &["Expect: 100-continue"]));
    assert_eq!(interim.status, 100);
    client
}

/// RFC 9110 §15.6.4: at the cap with no idle connection, a newcomer gets 503 with `Retry-After`,
/// then is closed; the busy connections are unaffected.
#[test]
fn with_no_idle_connection_a_newcomer_gets_503_and_the_others_are_unaffected() {
    let server = spawn_configured(|config| config.with_max_connections(2));
    let bodies = [br#"{"title":"A"}"#, br#"{"title":"B"}"#];
    let mut busy: Vec<Client> = bodies
        .iter()
        .map(|body| busy_connection(&server, *body))
        .collect();
    let refused = only_response(server.addr(), &healthz());
    assert_refused(&refused, 503, "Service Unavailable");
    assert_eq!(refused.header("Retry-After"), Some("1"));
    for (client, body) in busy.iter_mut().zip(bodies) {
        let created = client.exchange(body);
        assert_eq!(created.status, 201, "{}", created.text());
    }
    // Once one of them is idle again, a newcomer gets in in its place.
    let served = (0..PATIENCE.as_millis() / 20).any(|_| {
        let status = only_response(
            server.addr(),
            &kept_head("GET", "/healthz", &["Connection: close"]),
        )
        .status;
        status == 200 || {
            thread::sleep(Duration::from_millis(20));
            false
        }
    });
    assert!(served, "no newcomer was served once the others were idle");
}

// ---------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------

/// CONTRACT §13: on shutdown, idle keep-alive connections are closed at once, not after their
/// keep-alive timeout.
#[test]
fn shutdown_closes_idle_keep_alive_connections_at_once() {
    let server = spawn_server();
    let mut idle = Client::open(server.addr());
    assert_eq!(idle.exchange(&healthz()).status, 200);
    let ((), took) = timed(|| server.shutdown());
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    idle.assert_closed_silently();
}

/// CONTRACT §13: dropping the handle shuts down alike.
#[test]
fn dropping_the_server_closes_idle_connections_at_once() {
    let server = spawn_server();
    let mut idle = Client::open(server.addr());
    assert_eq!(idle.exchange(&healthz()).status, 200);
    let ((), took) = timed(|| drop(server));
    assert!(took < Duration::from_secs(2), "drop took {took:?}");
    idle.assert_closed_silently();
}

/// CONTRACT §13: on shutdown, a request in progress finishes (its answer says `close`) while no
/// new connection is accepted.
#[test]
fn shutdown_lets_a_request_in_progress_finish() {
    let server = spawn_server();
    let addr = server.addr();
    let body = br#"{"title":"Last"}"#;
    let mut in_progress = busy_connection(&server, body);
    server.stop_now();
    assert!(TcpStream::connect(addr).is_err(), "still accepting");
    let created = in_progress.exchange(body);
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("Connection"), Some("close"));
    in_progress.assert_closed_silently();
    // The client closes too, ending the server's lingering close.
    drop(in_progress);
    let ((), took) = timed(|| drop(server));
    assert!(took < Duration::from_secs(2), "drop took {took:?}");
}
