//! CONTRACT §13, the syntax of request heads: request lines and field lines that do not parse
//! (400), and line ends (bare LF accepted, a lone CR refused). Versions, `Host` and the size
//! limits are in `transport_head_rules.rs`. Every test sends raw bytes to a real server; every
//! refusal must be a JSON error with `Connection: close`, the only response on its connection.

use crate::common;
use common::*;

/// Each request line, sent with a valid `Host`, must earn a 400.
fn assert_lines_refused(lines: &[&[u8]]) {
    let server = spawn_server();
    for line in lines {
        let mut bytes = line.to_vec();
        bytes.extend_from_slice(b"\r\nHost: taskd.test\r\n\r\n");
        assert_bad_request(server.addr(), &bytes);
    }
}

/// Each field line, sent after a valid request line and `Host`, must earn a 400.
fn assert_fields_refused(fields: &[&[u8]]) {
    let server = spawn_server();
    for field in fields {
        let mut bytes = b"GET /healthz HTTP/1.1\r\nHost: taskd.test\r\n".to_vec();
        bytes.extend_from_slice(field);
        bytes.extend_from_slice(b"\r\n\r\n");
        assert_bad_request(server.addr(), &bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Request lines and field lines that do not parse: 400
// ---------------------------------------------------------------------------------------------

/// RFC 9110 §9.1: a method is a token; anything else is not a request line.
#[test]
fn a_method_that_is_not_a_token_is_400() {
    assert_lines_refused(&[
        b"G@T /healthz HTTP/1.1",
        b"GE(T /healthz HTTP/1.1",
        b"GET\x7f /healthz HTTP/1.1",
        b" /healthz HTTP/1.1",
    ]);
}

/// RFC 9112 §3: the request line is three parts separated by single spaces.
#[test]
fn a_target_with_spaces_is_400() {
    assert_lines_refused(&[
        b"GET /tasks /1 HTTP/1.1",
        b"GET  /healthz HTTP/1.1",
        b"GET /healthz  HTTP/1.1",
        b"GET /healthz HTTP/1.1 ",
    ]);
}

/// RFC 9112 §3.2: a target is visible ASCII; controls (HTAB included) are not.
#[test]
fn a_target_with_control_bytes_is_400() {
    assert_lines_refused(&[
        b"GET /health\x00z HTTP/1.1",
        b"GET /health\x01z HTTP/1.1",
        b"GET /health\tz HTTP/1.1",
        b"GET /healthz\x7f HTTP/1.1",
    ]);
}

/// RFC 3986 §2.1: non-ASCII bytes in a target must be percent-encoded.
#[test]
fn a_target_with_bytes_over_0x7e_is_400() {
    assert_lines_refused(&[b"GET /caf\xc3\xa9 HTTP/1.1", b"GET /\xff HTTP/1.1"]);
}

/// RFC 9112 §2.3: `HTTP-version = "HTTP/" DIGIT "." DIGIT`, case-sensitive.
#[test]
fn a_version_not_of_the_form_http_digit_dot_digit_is_400() {
    assert_lines_refused(&[
        b"GET /healthz http/1.1",
        b"GET /healthz HTTP/1",
        b"GET /healthz HTTP/1.10",
        b"GET /healthz HTTP/11",
        b"GET /healthz HTTP/1.x",
        b"GET /healthz HTTPS/1.1",
        b"GET /healthz HTTP/1.1.",
        b"GET /healthz",
    ]);
}

/// RFC 9112 §5.1: no whitespace is allowed between a field name and its colon.
#[test]
fn whitespace_before_a_fields_colon_is_400() {
    assert_fields_refused(&[b"X-Note : 1", b"X-Note\t: 1"]);
    // On Host itself, the classic smuggling shape.
    let server = spawn_server();
    assert_bad_request(
        server.addr(),
        b"GET /healthz HTTP/1.1\r\nHost : taskd.test\r\n\r\n",
    );
}

/// RFC 9112 §5: a field line is `field-name ":" OWS field-value OWS`.
#[test]
fn a_field_line_without_a_colon_is_400() {
    assert_fields_refused(&[b"X-Note", b"X-Note 1", b": no name", b"X(Note): 1"]);
}

/// RFC 9112 §5.2: a server that does not unfold obs-fold must reject the message with 400.
#[test]
fn an_obs_fold_line_is_400() {
    assert_fields_refused(&[b"X-Note: one\r\n two", b"X-Note: one\r\n\ttwo"]);
}

/// RFC 9112 §2.2: a CR not followed by LF is invalid anywhere in a head.
#[test]
fn a_cr_not_followed_by_lf_is_400() {
    assert_fields_refused(&[b"X-Note: a\rb", b"X-Note: a\r", b"X-\rNote: a"]);
    let server = spawn_server();
    for bytes in [
        &b"GET /healthz HTTP/1.1\rHost: taskd.test\r\n\r\n"[..],
        b"GET /healthz HTTP/1.1\r\r\nHost: taskd.test\r\n\r\n",
        b"\rGET /healthz HTTP/1.1\r\nHost: taskd.test\r\n\r\n",
    ] {
        assert_bad_request(server.addr(), bytes);
    }
}

/// RFC 9110 §5.5: a field value containing NUL must be rejected.
#[test]
fn a_nul_in_a_field_value_is_400() {
    assert_fields_refused(&[b"X-Note: a\x00b", b"X-Note: \x00"]);
}

/// RFC 9110 §5.5: field values are visible characters, SP and HTAB; other controls are refused.
#[test]
fn a_control_byte_other_than_htab_in_a_field_value_is_400() {
    assert_fields_refused(&[b"X-Note: a\x01b", b"X-Note: a\x1bb", b"X-Note: a\x7fb"]);
}

/// RFC 9110 §5.5: HTAB is allowed inside a field value.
#[test]
fn an_htab_in_a_field_value_is_accepted() {
    assert_served(
        b"GET /healthz HTTP/1.1\r\nHost: taskd.test\r\nX-Note: a\tb\r\nConnection: close\r\n\r\n",
    );
}

// ---------------------------------------------------------------------------------------------
// Line ends
// ---------------------------------------------------------------------------------------------

/// RFC 9112 §2.2: a recipient MAY recognise a single LF as a line terminator.
#[test]
fn bare_lf_line_ends_are_accepted() {
    assert_served(b"GET /healthz HTTP/1.1\nHost: taskd.test\nConnection: close\n\n");
}

/// RFC 9112 §2.2: CRLF and bare LF may be mixed within one head.
#[test]
fn mixed_crlf_and_lf_line_ends_are_accepted() {
    assert_served(b"GET /healthz HTTP/1.1\r\nHost: taskd.test\nConnection: close\r\n\n");
    assert_served(b"GET /healthz HTTP/1.1\nHost: taskd.test\r\nConnection: close\n\r\n");
}

/// RFC 9112 §2.2: a bare-LF head on a kept-alive connection ends where the next request starts.
#[test]
fn a_bare_lf_head_keeps_the_connection_usable() {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let first = client.exchange(b"GET /healthz HTTP/1.1\nHost: taskd.test\n\n");
    assert_eq!(first.status, 200, "{}", first.text());
    let second = client.exchange(&healthz());
    assert_eq!(second.status, 200, "{}", second.text());
}

/// RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
#[test]
fn empty_lines_before_the_request_line_are_ignored() {
    assert_served(
        b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: taskd.test\r\nConnection: close\r\n\r\n",
    );
}
