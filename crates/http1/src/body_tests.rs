//! Bodies read from a wire whose client has sent everything already: what the reader hands out,
//! where it leaves the next request, and when `100 Continue` goes out.

use super::*;
use crate::test_wire::Sent;

const NEXT: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

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
    let mut wire = Sent::new(&bytes, 7);
    let mut body = BodyReader::new(&mut wire, BodyLength::Chunked, false, window(), 0);
    assert!(body.discard(64 * 1024), "the body ends within the limit");
    assert!(body.is_complete());
    assert_eq!(body.bytes_read(), 5);
    while wire.fill(window(), 1024).expect("read") > 0 {}
    assert_eq!(wire.buffered(), NEXT, "the next request is left whole");
}

#[test]
fn an_unread_length_body_is_drained_up_to_the_limit() {
    let mut bytes = vec![b'x'; 100];
    bytes.extend_from_slice(NEXT);
    let mut wire = Sent::new(&bytes, 30);
    let mut body = BodyReader::new(&mut wire, BodyLength::Fixed(100), false, window(), 0);
    assert!(
        !body.discard(99),
        "a body over the limit is not drained whole"
    );
    assert!(body.discard(1));
    assert_eq!(body.bytes_read(), 100);
}

#[test]
fn a_broken_chunked_body_is_not_drained() {
    let mut wire = Sent::new(b"5\r\nhelloX\r\n0\r\n\r\n", 1);
    let mut body = BodyReader::new(&mut wire, BodyLength::Chunked, false, window(), 0);
    assert!(!body.discard(64 * 1024));
    assert_eq!(body.failure(), Some(BodyFailure::Malformed));
}

/// RFC 9110 §10.1.1: `100 Continue` goes out on the first read, and only if the body's first
/// bytes are not there already.
#[test]
fn continue_is_sent_on_the_first_read_when_nothing_is_buffered() {
    let mut wire = Sent::new(b"hello", 5);
    let mut body = BodyReader::new(&mut wire, BodyLength::Fixed(5), true, window(), 3);
    assert!(body.is_continue_owed());
    let mut text = String::new();
    body.read_to_string(&mut text).expect("read");
    assert_eq!(text, "hello");
    assert!(body.is_continue_sent());
    assert_eq!(body.sample(), b"hel");
    assert_eq!(wire.written, CONTINUE);

    let mut wire = Sent::new(b"hello", 5);
    wire.fill(window(), 16).expect("fill");
    let mut body = BodyReader::new(&mut wire, BodyLength::Fixed(5), true, window(), 0);
    body.read_to_string(&mut String::new()).expect("read");
    assert!(!body.is_continue_sent(), "the body came without waiting");
    assert!(wire.written.is_empty());
}
