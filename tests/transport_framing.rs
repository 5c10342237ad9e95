//! CONTRACT §13, how a body is delimited: `Content-Length`, `Transfer-Encoding`, and the
//! request-smuggling shapes where they disagree. The chunked coding itself and bodies cut short
//! are in `transport_chunked.rs`, unread bodies in `transport_bodies.rs`, `Expect` in
//! `transport_expect.rs`. Every test sends raw bytes to a real server; every refusal must be a
//! JSON error with `Connection: close`, the only response on its connection, and change nothing.

use crate::common;
use common::*;

use serde_json::json;

/// Each `Content-Length` value earns a 400 and creates nothing.
fn assert_lengths_refused(values: &[&str]) {
    let server = spawn_server();
    for value in values {
        let line = format!("Content-Length: {value}");
        assert_bad_request(server.addr(), &post_tasks(&[&line], TITLE_JSON));
    }
    assert_no_tasks(&server);
}

/// A chunked `POST /tasks` of `{"title":"Framed"}` whose `Transfer-Encoding` is `coding`.
fn post_with_coding(coding: &str) -> Vec<u8> {
    post_titled_with_coding("Framed", coding)
}

/// A chunked `POST /tasks` of `{"title": title}` whose `Transfer-Encoding` is `coding`.
fn post_titled_with_coding(title: &str, coding: &str) -> Vec<u8> {
    let line = format!("Transfer-Encoding: {coding}");
    let body = json!({ "title": title }).to_string();
    post_tasks(&[&line], &chunked(body.as_bytes(), 7))
}

// ---------------------------------------------------------------------------------------------
// Content-Length
// ---------------------------------------------------------------------------------------------

/// RFC 9110 §8.6: `Content-Length = 1*DIGIT`: no sign.
#[test]
fn a_signed_content_length_is_400() {
    assert_lengths_refused(&["+18", "-1"]);
}

/// RFC 9110 §8.6: decimal digits only.
#[test]
fn a_hex_content_length_is_400() {
    assert_lengths_refused(&["0x12", "12h"]);
}

/// RFC 9110 §8.6: one run of digits: no space inside.
#[test]
fn a_content_length_with_a_space_inside_is_400() {
    assert_lengths_refused(&["1 8", "18 18"]);
}

/// RFC 9110 §8.6: at least one digit.
#[test]
fn an_empty_content_length_is_400() {
    assert_lengths_refused(&[""]);
}

/// RFC 9110 §8.6: a list, even of equal values, may be refused; we always refuse it.
#[test]
fn a_content_length_list_is_400() {
    assert_lengths_refused(&["18, 18", "18,18", "18, 19"]);
}

/// RFC 9110 §8.6: two Content-Length fields, even equal, are refused.
#[test]
fn two_content_length_fields_are_400() {
    let server = spawn_server();
    for second in ["18", "19"] {
        let line = format!("Content-Length: {second}");
        let bytes = post_tasks(&["Content-Length: 18", &line], TITLE_JSON);
        assert_bad_request(server.addr(), &bytes);
    }
    assert_no_tasks(&server);
}

/// RFC 9112 §6.3: a length we cannot represent (over 2^63 − 1) is invalid framing.
#[test]
fn a_content_length_over_2_63_minus_1_is_400() {
    assert_lengths_refused(&["9223372036854775808", "99999999999999999999999"]);
}

/// 2^63 − 1 is a valid length: the route judges it (413 for a JSON body, decided by the
/// declared length, and the connection closes since the body is not read).
#[test]
fn a_content_length_of_2_63_minus_1_is_a_valid_length() {
    let server = spawn_server();
    let bytes = post_tasks(&["Content-Length: 9223372036854775807"], TITLE_JSON);
    let response = only_response(server.addr(), &bytes);
    assert_eq!(response.status, 413, "{}", response.text());
    assert_eq!(response.header("Connection"), Some("close"));
}

/// tiny_http #290: a huge declared length with a few bytes of body aborted the process. Now it
/// is an ordinary 413, and the server lives on.
#[test]
fn a_huge_declared_length_with_a_short_body_is_413_and_the_server_lives() {
    let server = spawn_server();
    let bytes = post_tasks(&["Content-Length: 100000000000000"], TITLE_JSON);
    let response = only_response(server.addr(), &bytes);
    assert_eq!(response.status, 413, "{}", response.text());
    assert_eq!(response.header("Connection"), Some("close"));
    assert_eq!(get(server.addr(), "/healthz").status, 200);
    assert_no_tasks(&server);
}

// ---------------------------------------------------------------------------------------------
// Transfer-Encoding
// ---------------------------------------------------------------------------------------------

/// RFC 9112 §6.1: a server MAY reject a message with both Transfer-Encoding and Content-Length,
/// and MUST then close the connection: the pipelined request behind it is never read.
#[test]
fn content_length_with_transfer_encoding_is_400_and_closes() {
    let server = spawn_server();
    for lines in [
        ["Content-Length: 5", "Transfer-Encoding: chunked"],
        ["Transfer-Encoding: chunked", "Content-Length: 5"],
    ] {
        let mut bytes = post_tasks(&lines, b"0\r\n\r\n");
        bytes.extend_from_slice(&create_request("Smuggled"));
        assert_bad_request(server.addr(), &bytes);
    }
    assert_no_tasks(&server);
}

/// RFC 9112 §6.1: ...even when the coding is one we would refuse anyway.
#[test]
fn content_length_with_an_unknown_transfer_encoding_is_400() {
    let server = spawn_server();
    let bytes = post_tasks(
        &["Content-Length: 18", "Transfer-Encoding: gzip"],
        TITLE_JSON,
    );
    assert_bad_request(server.addr(), &bytes);
}

/// RFC 9112 §7: coding names are case-insensitive, surrounded by optional whitespace.
#[test]
fn transfer_encoding_chunked_in_any_case_frames_the_body() {
    let server = spawn_server();
    for (index, coding) in ["chunked", "Chunked", "CHUNKED", "  chunked  ", "\tchunked"]
        .into_iter()
        .enumerate()
    {
        let mut client = Client::open(server.addr());
        let created = client.exchange(&post_titled_with_coding(&format!("T{index}"), coding));
        assert_eq!(created.status, 201, "{coding:?}: {}", created.text());
        assert_eq!(created.json()["id"], json!(index + 1), "{coding:?}");
        assert_eq!(client.exchange(&healthz()).status, 200, "{coding:?}");
    }
}

/// RFC 9112 §6.3 item 4: when chunked is not the final coding the length cannot be known: 400.
#[test]
fn chunked_followed_by_another_coding_is_400() {
    let server = spawn_server();
    assert_bad_request(server.addr(), &post_with_coding("chunked, gzip"));
    assert_no_tasks(&server);
}

/// RFC 9112 §6.3 item 4: `identity` alone frames nothing we can read.
#[test]
fn transfer_encoding_identity_is_400() {
    let server = spawn_server();
    assert_bad_request(server.addr(), &post_with_coding("identity"));
    assert_no_tasks(&server);
}

/// RFC 9112 §6.3 item 4: a coding whose name merely contains `chunked` is not chunked.
#[test]
fn transfer_encoding_xchunked_is_400() {
    let server = spawn_server();
    assert_bad_request(server.addr(), &post_with_coding("xchunked"));
    assert_bad_request(server.addr(), &post_with_coding("chunked-x"));
    assert_no_tasks(&server);
}

/// RFC 9112 §6.1: a sender MUST NOT apply chunked more than once, in one field or across two.
#[test]
fn chunked_applied_twice_is_400() {
    let server = spawn_server();
    assert_bad_request(server.addr(), &post_with_coding("chunked, chunked"));
    let two_fields = post_tasks(
        &["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
        &chunked(TITLE_JSON, 7),
    );
    assert_bad_request(server.addr(), &two_fields);
    assert_no_tasks(&server);
}

/// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is a framing fault: 400 and close.
#[test]
fn transfer_encoding_in_http_1_0_is_400() {
    let server = spawn_server();
    let mut bytes = b"POST /tasks HTTP/1.0\r\nContent-Type: application/json\r\n".to_vec();
    bytes.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    bytes.extend_from_slice(&chunked(TITLE_JSON, 7));
    assert_bad_request(server.addr(), &bytes);
    assert_no_tasks(&server);
}

/// RFC 9112 §6.1 / RFC 9110 §15.6.2: a coding we do not implement before `chunked` is 501.
#[test]
fn an_unknown_coding_before_chunked_is_501() {
    let server = spawn_server();
    let one_field = post_with_coding("gzip, chunked");
    assert_request_refused(server.addr(), &one_field, 501, "Not Implemented");
    let two_fields = post_tasks(
        &["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"],
        &chunked(TITLE_JSON, 7),
    );
    assert_request_refused(server.addr(), &two_fields, 501, "Not Implemented");
    assert_no_tasks(&server);
}
