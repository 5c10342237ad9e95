//! The loop on a [`Sent`] wire, with a service that reads a chosen part of each body: what the
//! client gets back, byte for byte but for `Date`.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::response::Body;
use crate::service::Exchange;
use crate::test_wire::Sent;

/// Reads at most `limit` bytes of each body, answers 200 `ok`, and remembers the targets.
struct Reads {
    limit: u64,
    targets: Mutex<Vec<String>>,
}

impl Service for Reads {
    fn respond(&self, request: &mut Request<'_>) -> Response {
        let mut body = Vec::new();
        let _ = request.body().take(self.limit).read_to_end(&mut body);
        self.targets
            .lock()
            .unwrap()
            .push(format!("{} {}", request.target(), body.len()));
        Response::new(200).with_body("text/plain", Body::bytes("ok"))
    }

    fn refuse(&self, refusal: Refusal, _: Option<&Request<'_>>) -> Response {
        Response::new(refusal.status())
    }

    fn log(&self, _: &Exchange<'_>) {}
}

/// Serves `incoming` (handed out 3 bytes per read) to its end: the targets served, and what was
/// written with each `Date` value blanked.
fn serve(incoming: &[u8], limit: u64) -> (Vec<String>, String) {
    let service = Reads {
        limit,
        targets: Mutex::new(Vec::new()),
    };
    let settings = Settings {
        request_timeout: Duration::from_secs(60),
        io_timeout: Duration::from_secs(60),
        keep_alive_timeout: Duration::from_secs(60),
        max_connections: 1,
        body_sample_bytes: 0,
    };
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 1));
    let wire = Connection::new(Sent::new(incoming, 3), &service, settings, peer, 1).serve();
    let written = String::from_utf8(wire.written).unwrap();
    let blanked: Vec<String> = written
        .split("\r\n")
        .map(|line| match line.strip_prefix("Date: ") {
            Some(_) => "Date: -".to_owned(),
            None => line.to_owned(),
        })
        .collect();
    (service.targets.into_inner().unwrap(), blanked.join("\r\n"))
}

const OK: &str = "HTTP/1.1 200 OK\r\nDate: -\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n";

/// CONTRACT §13: a body the service leaves unread is drained so the next request is served.
#[test]
fn an_unread_chunked_body_is_drained_and_the_next_request_answered() {
    let requests = b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
        5\r\nhello\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    let (targets, written) = serve(requests, 0);
    assert_eq!(targets, ["/a 0", "/b 0"]);
    assert_eq!(written, format!("{OK}\r\nok{OK}\r\nok"));
}

/// RFC 9110 §10.1.1: `100 Continue` once the body is wanted, then the answer.
#[test]
fn continue_goes_out_before_the_answer_when_the_body_is_read() {
    let head = b"PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0";
    let (_, written) = serve(&[&head[..], b"\r\n\r\n"].concat(), 10);
    assert_eq!(
        written,
        format!("{OK}\r\nok"),
        "no body, nothing to wait for"
    );
    let head = b"PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    // 69 bytes of head, read 3 at a time: nothing of the body is buffered when it is wanted.
    assert_eq!(head.len() % 3, 0);
    let (targets, written) = serve(&[&head[..], b"abc"].concat(), 10);
    assert_eq!(targets, ["/a 3"]);
    assert_eq!(written, format!("HTTP/1.1 100 Continue\r\n\r\n{OK}\r\nok"));
    let (targets, written) = serve(&[&head[..], b"abc"].concat(), 0);
    assert_eq!(targets, ["/a 0"]);
    assert_eq!(
        written,
        format!("{OK}Connection: close\r\n\r\nok"),
        "a body held back for 100 Continue that never came ends the connection"
    );
}

/// A refused head is answered with its status and `Connection: close`, and nothing after it is
/// read.
#[test]
fn a_refused_head_ends_the_connection() {
    let (targets, written) = serve(
        b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
        0,
    );
    assert!(targets.is_empty());
    assert_eq!(
        written,
        "HTTP/1.1 400 Bad Request\r\nDate: -\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}
