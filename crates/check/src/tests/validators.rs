//! ETags, 304, 412 and ranges: canned answers that break each rule make its FAIL fire with the
//! RFC section; a server without validators or ranges gets NOTEs.

use super::{assert_fail, assert_note, detail, json};
use crate::message::Response;
use crate::report::Outcome;
use crate::validators::*;

const TAG: &str = "\"3f9a\"";

fn task(tag: Option<&str>) -> Response {
    let response = json(200, r#"{"id":1,"title":"x","done":true}"#);
    match tag {
        Some(tag) => response.with_header("ETag", tag),
        None => response,
    }
}

fn text(status: u16, body: &[u8]) -> Response {
    Response::new(status)
        .with_header("Content-Type", "text/plain")
        .with_body(body)
}

fn partial(range: &str, body: &[u8]) -> Response {
    text(206, body).with_header("Content-Range", range)
}

/// A multipart/byteranges 206 with these parts, boundary `B`.
fn multipart(parts: &[(&str, &[u8])]) -> Response {
    let mut body = Vec::new();
    for (index, (range, bytes)) in parts.iter().enumerate() {
        let separator = if index == 0 { "" } else { "\r\n" };
        let head =
            format!("{separator}--B\r\nContent-Type: text/plain\r\nContent-Range: {range}\r\n\r\n");
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(bytes);
    }
    body.extend_from_slice(b"\r\n--B--\r\n");
    Response::new(206)
        .with_header("Content-Type", "multipart/byteranges; boundary=B")
        .with_body(&body)
}

#[test]
fn entity_tags_follow_the_grammar() {
    for tag in ["\"\"", TAG, "W/\"x\"", "\"a-b.c\""] {
        assert!(is_entity_tag(tag), "{tag}");
    }
    for tag in ["3f9a", "\"a", "w/\"x\"", "\"a\"b\"", "\"a b\""] {
        assert!(!is_entity_tag(tag), "{tag}");
    }
}

#[test]
fn no_etag_is_a_note_and_a_malformed_one_fails() {
    assert_eq!(has_tag(&task(Some(TAG))), Outcome::Pass);
    assert_note(&has_tag(&task(None)));
    assert_fail(&has_tag(&task(Some("3f9a"))), "RFC 9110 §8.8.3");
}

#[test]
fn a_strong_tag_that_survives_a_change_fails() {
    assert_eq!(tag_changed(TAG, &task(Some("\"other\""))), Outcome::Pass);
    assert_fail(&tag_changed(TAG, &task(Some(TAG))), "RFC 9110 §8.8.1");
    assert_note(&tag_changed("W/\"x\"", &task(Some("W/\"x\""))));
    assert_note(&tag_changed(TAG, &task(None)));
}

#[test]
fn a_304_with_a_body_or_another_tag_fails() {
    let good = Response::new(304).with_header("ETag", TAG);
    assert_eq!(not_modified(&good, TAG), Outcome::Pass);
    let with_body = good.clone().with_body(b"{}");
    assert_fail(&not_modified(&with_body, TAG), "RFC 9112 §6.3");
    let other = Response::new(304).with_header("ETag", "\"other\"");
    assert_fail(&not_modified(&other, TAG), "RFC 9110 §15.4.5");
    assert_note(&not_modified(&task(Some(TAG)), TAG));
    assert_fail(&not_modified(&detail(412), TAG), "RFC 9110 §13.1.2");
}

#[test]
fn a_change_made_despite_a_stale_if_match_fails() {
    assert_eq!(stale_if_match(&detail(412)), Outcome::Pass);
    assert_fail(&stale_if_match(&task(Some(TAG))), "RFC 9110 §13.1.1");
    assert_fail(&stale_if_match(&detail(400)), "RFC 9110 §13.1.1");
}

#[test]
fn a_single_range_needs_the_right_content_range_and_bytes() {
    let ok = partial("bytes 0-3/26", b"abcd");
    assert_eq!(single_range(&ok, ALPHABET, 0, 3), Outcome::Pass);
    let wrong_range = partial("bytes 0-4/26", b"abcd");
    assert_fail(
        &single_range(&wrong_range, ALPHABET, 0, 3),
        "RFC 9110 §14.4",
    );
    let wrong_size = partial("bytes 0-3/27", b"abcd");
    assert_fail(&single_range(&wrong_size, ALPHABET, 0, 3), "§15.3.7.1");
    let wrong_bytes = partial("bytes 0-3/26", b"bcde");
    assert_fail(
        &single_range(&wrong_bytes, ALPHABET, 0, 3),
        "RFC 9110 §14.4",
    );
    let missing = text(206, b"abcd");
    assert_fail(&single_range(&missing, ALPHABET, 0, 3), "RFC 9110 §14.4");
    let as_multipart = multipart(&[("bytes 0-3/26", b"abcd")]);
    assert_fail(&single_range(&as_multipart, ALPHABET, 0, 3), "§15.3.7.2");
    assert_note(&single_range(&text(200, ALPHABET), ALPHABET, 0, 3));
    assert_fail(
        &single_range(&text(200, b"abc"), ALPHABET, 0, 3),
        "RFC 9110 §14.2",
    );
    assert_fail(
        &single_range(&detail(416), ALPHABET, 0, 3),
        "RFC 9110 §14.1.2",
    );
}

#[test]
fn multiple_ranges_need_true_parts_covering_each_range() {
    let ranges = [(0, 1), (4, 5)];
    let ok = multipart(&[("bytes 0-1/26", b"ab"), ("bytes 4-5/26", b"ef")]);
    assert_eq!(multiple_ranges(&ok, ALPHABET, &ranges), Outcome::Pass);
    // §15.3.7.2: coalescing the two into one covering range is allowed.
    let coalesced = partial("bytes 0-5/26", b"abcdef");
    assert_eq!(
        multiple_ranges(&coalesced, ALPHABET, &ranges),
        Outcome::Pass
    );
    let wrong = multipart(&[("bytes 0-1/26", b"ab"), ("bytes 4-5/26", b"xx")]);
    assert_fail(
        &multiple_ranges(&wrong, ALPHABET, &ranges),
        "RFC 9110 §14.6",
    );
    let short = multipart(&[("bytes 0-1/26", b"ab")]);
    assert_fail(&multiple_ranges(&short, ALPHABET, &ranges), "§15.3.7.2");
    let garbled = Response::new(206)
        .with_header("Content-Type", "multipart/byteranges; boundary=B")
        .with_body(b"no parts here");
    assert_fail(
        &multiple_ranges(&garbled, ALPHABET, &ranges),
        "RFC 9110 §14.6",
    );
    assert_note(&multiple_ranges(&text(200, ALPHABET), ALPHABET, &ranges));
}

#[test]
fn an_unknown_range_unit_must_be_ignored() {
    assert_eq!(unknown_unit(&text(200, ALPHABET), ALPHABET), Outcome::Pass);
    let starlette = json(400, r#"{"detail":"Only support bytes range"}"#);
    assert_fail(&unknown_unit(&starlette, ALPHABET), "RFC 9110 §14.2");
    assert_fail(&unknown_unit(&detail(416), ALPHABET), "RFC 9110 §14.2");
    assert_fail(
        &unknown_unit(&partial("bytes 0-1/26", b"ab"), ALPHABET),
        "§14.2",
    );
}

#[test]
fn starlettes_own_range_errors_are_a_note_not_the_learners_fail() {
    let plain = text(400, b"Only support bytes range").with_header("server", "uvicorn");
    assert_note(&unknown_unit(&plain, ALPHABET));
    let unserved = text(400, b"Only support bytes range");
    assert_note(&unknown_unit(&unserved, ALPHABET));
    let unsatisfiable = detail(416).with_header("Server", "uvicorn");
    assert_note(&unknown_unit(&unsatisfiable, ALPHABET));
    let Outcome::Note(text) = unknown_unit(&plain, ALPHABET) else {
        unreachable!()
    };
    assert!(
        text.contains("comes from the framework, not from your code"),
        "{text}"
    );
}

#[test]
fn multipart_parts_are_read_with_their_boundary() {
    let response = multipart(&[("bytes 0-1/26", b"a\r\nb"), ("bytes 4-5/26", b"")]);
    let parts = multipart_parts(&response).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        parts[0],
        (Some("bytes 0-1/26".to_owned()), b"a\r\nb".to_vec())
    );
    let mut quoted = response;
    quoted.headers.retain(|(name, _)| name != "Content-Type");
    let quoted = quoted.with_header("Content-Type", "multipart/byteranges; boundary=\"B\"");
    assert_eq!(multipart_parts(&quoted).unwrap().len(), 2);
}
