//! Bodies read from a real loopback socket whose client has sent everything already: what the
//! reader hands out, and where it leaves the next request.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use super::*;

const NEXT: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

/// An `Inbound` whose client sent `bytes` and closed its side.
fn inbound_after(bytes: &[u8]) -> Inbound {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    client.write_all(bytes).expect("send");
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    Inbound::new(Arc::new(server))
}

fn window() -> Duration {
    Duration::from_secs(5)
}

/// CONTRACT §13: a body the route does not read is drained (up to 64 KiB) "so the connection
/// stays usable". Found by the `http1` fuzz target (fuzz/regressions/http1/drained-chunked-body-
/// closes): `discard` took the decoder's `Ok(0)` at the last chunk for a failure, so every
/// unread chunked body closed its connection.
#[test]
fn an_unread_chunked_body_is_drained_and_the_connection_goes_on() {
    let mut bytes = b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n".to_vec();
    bytes.extend_from_slice(NEXT);
    let mut inbound = inbound_after(&bytes);
    let mut body = BodyReader::new(&mut inbound, Framing::Chunked, false, window(), 0);
    assert!(body.discard(64 * 1024), "the body ends within the limit");
    assert!(body.is_complete());
    assert_eq!(body.bytes_read(), 5);
    let mut next = Vec::new();
    while inbound.fill(window(), 1024).expect("read") > 0 {}
    next.extend_from_slice(inbound.buffered());
    assert_eq!(next, NEXT, "the next request is left whole");
}

#[test]
fn an_unread_length_body_is_drained_up_to_the_limit() {
    let mut bytes = vec![b'x'; 100];
    bytes.extend_from_slice(NEXT);
    let mut inbound = inbound_after(&bytes);
    let mut body = BodyReader::new(&mut inbound, Framing::Length(100), false, window(), 0);
    assert!(
        !body.discard(99),
        "a body over the limit is not drained whole"
    );
    assert!(body.discard(1));
    assert_eq!(body.bytes_read(), 100);
}

#[test]
fn a_broken_chunked_body_is_not_drained() {
    let mut inbound = inbound_after(b"5\r\nhelloX\r\n0\r\n\r\n");
    let mut body = BodyReader::new(&mut inbound, Framing::Chunked, false, window(), 0);
    assert!(!body.discard(64 * 1024));
    assert_eq!(body.failure(), Some(BodyFailure::Malformed));
}
