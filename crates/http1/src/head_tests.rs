//! Request heads byte by byte: where they end, what parses, and the status of what does not.

use super::*;
use crate::rules::{BodyLength, Version};

fn parsed(text: &str) -> Result<Head, Refusal> {
    parse(text.as_bytes())
}

fn scan_all(bytes: &[u8]) -> Scan {
    Scanner::default().scan(bytes)
}

#[test]
fn a_head_ends_at_its_empty_line_with_crlf_or_bare_lf() {
    assert_eq!(
        scan_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody"),
        Scan::Complete(27)
    );
    assert_eq!(
        scan_all(b"GET / HTTP/1.1\nHost: a\n\nbody"),
        Scan::Complete(24)
    );
    assert_eq!(scan_all(b"GET / HTTP/1.0\r\n\r\n"), Scan::Complete(18));
    assert_eq!(scan_all(b"GET / HTTP/1.1\r\nHost: a\r\n"), Scan::Partial);
    assert_eq!(scan_all(b"GET / HTT"), Scan::Partial);
}

/// The same bytes fed one at a time end the head at the same place.
#[test]
fn a_trickled_head_is_found_where_a_whole_one_is() {
    for text in [
        &b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nrest"[..],
        b"\r\n\r\nGET / HTTP/1.1\nHost: a\n\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        let whole = scan_all(text);
        let mut scanner = Scanner::default();
        let trickled = (1..=text.len())
            .map(|end| scanner.scan(&text[..end]))
            .find(|scan| *scan != Scan::Partial);
        assert_eq!(trickled, Some(whole), "{}", String::from_utf8_lossy(text));
    }
}

#[test]
fn a_long_request_line_is_414_before_it_ends() {
    let line = format!("GET /{} HTTP/1.1", "a".repeat(MAX_REQUEST_LINE));
    assert_eq!(
        scan_all(line.as_bytes()),
        Scan::Refused(Refusal::UriTooLong)
    );
    // "GET /" and " HTTP/1.1" take 14 bytes of the line.
    let fits = format!(
        "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
        "a".repeat(MAX_REQUEST_LINE - 14)
    );
    assert!(matches!(scan_all(fits.as_bytes()), Scan::Complete(_)));
    assert!(parsed(&fits).is_ok());
    let over = format!(
        "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
        "a".repeat(MAX_REQUEST_LINE - 13)
    );
    assert_eq!(
        scan_all(over.as_bytes()),
        Scan::Refused(Refusal::UriTooLong)
    );
}

#[test]
fn a_long_field_section_is_431_before_it_ends() {
    let field = format!("X: {}\r\n", "b".repeat(1000));
    let head = format!("GET / HTTP/1.1\r\nHost: a\r\n{}", field.repeat(70));
    assert_eq!(
        scan_all(head.as_bytes()),
        Scan::Refused(Refusal::FieldsTooLarge)
    );
    let many = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X: y\r\n".repeat(MAX_FIELDS)
    );
    assert_eq!(parsed(&many), Err(Refusal::FieldsTooLarge));
    let enough = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X: y\r\n".repeat(MAX_FIELDS - 1)
    );
    assert!(parsed(&enough).is_ok());
}

/// A head is refused for its size before its syntax is looked at: the scanner refuses a field
/// section over the limit before it has seen the end of it, so a head read whole must get
/// that same 431 whatever its request line holds, or the answer would depend on how the
/// bytes were split into reads. Found by the `http1` fuzz target
/// (fuzz/regressions/http1/431-before-request-line-syntax).
#[test]
fn the_size_limits_come_before_the_request_line_syntax() {
    let field = format!("X: {}\r\n", "b".repeat(1000));
    let head = format!("G@T / HTTP/2.0\r\nHost: a\r\n{}\r\n", field.repeat(70));
    let mut scanner = Scanner::default();
    let trickled = (1..=head.len())
        .map(|end| scanner.scan(&head.as_bytes()[..end]))
        .find(|scan| *scan != Scan::Partial);
    assert_eq!(trickled, Some(Scan::Refused(Refusal::FieldsTooLarge)));
    assert_eq!(scan_all(head.as_bytes()), Scan::Complete(head.len()));
    assert_eq!(parsed(&head), Err(Refusal::FieldsTooLarge));
}

#[test]
fn method_target_version_and_fields_are_read() {
    let text = "\r\nPATCH /things/3?x=1 HTTP/1.1\r\nHost: example.test:8000\r\nX-Empty:\r\nContent-Type:  application/json \r\n\r\n";
    let head = parsed(text).unwrap();
    let bytes = text.as_bytes();
    assert_eq!(head.method(bytes), "PATCH");
    assert_eq!(head.target(bytes), "/things/3?x=1");
    assert_eq!(head.version, Version::Http11);
    assert_eq!(
        head.field(bytes, "content-type"),
        Some(&b"application/json"[..])
    );
    assert_eq!(head.field(bytes, "x-empty"), Some(&b""[..]));
    assert_eq!(head.fields(bytes).count(), 3);
    assert!(head.keep_alive);
    assert_eq!(head.body_length, BodyLength::None);
}

#[test]
fn request_lines_that_do_not_parse_are_400() {
    for line in [
        "GET  / HTTP/1.1",
        "GET / HTTP/1.1 ",
        " GET / HTTP/1.1",
        "GET /a b HTTP/1.1",
        "GET /\x01 HTTP/1.1",
        "GET /caf\u{e9} HTTP/1.1",
        "G@T / HTTP/1.1",
        "GET / HTTP/1",
        "GET / HTTP/11",
        "GET / HTTP/1.1x",
        "GET / http/1.1",
        "GET / HTTP/a.1",
        "GET /",
        "GET / HTTP/1.1\r",
        "\rGET / HTTP/1.1",
        "\r\r\nGET / HTTP/1.1",
    ] {
        let text = format!("{line}\r\nHost: a\r\n\r\n");
        assert_eq!(parsed(&text), Err(Refusal::BadRequest), "{line:?}");
    }
}

/// RFC 9110 §2.5: 1.x is served as 1.1; other majors are 505.
#[test]
fn versions() {
    for (version, expected) in [
        ("HTTP/1.0", Ok(Version::Http10)),
        ("HTTP/1.1", Ok(Version::Http11)),
        ("HTTP/1.2", Ok(Version::Http11)),
        ("HTTP/1.9", Ok(Version::Http11)),
        ("HTTP/2.0", Err(Refusal::VersionNotSupported)),
        ("HTTP/3.0", Err(Refusal::VersionNotSupported)),
        ("HTTP/0.9", Err(Refusal::VersionNotSupported)),
    ] {
        let text = format!("GET / {version}\r\nHost: a\r\n\r\n");
        assert_eq!(
            parsed(&text).map(|head| head.version),
            expected,
            "{version}"
        );
    }
    let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    assert_eq!(scan_all(preface.as_bytes()), Scan::Complete(18));
    assert_eq!(parsed(&preface[..18]), Err(Refusal::VersionNotSupported));
}

#[test]
fn field_lines_that_do_not_parse_are_400() {
    for fields in [
        "Host : a\r\n",
        "Host: a\r\n folded\r\n",
        "Host: a\r\n\tfolded\r\n",
        "Host: a\r\nNo colon\r\n",
        "Host: a\r\nX: a\rb\r\n",
        "Host: a\r\nX: a\0b\r\n",
        "Host: a\r\nX: a\x07b\r\n",
        "Host: a\r\nX: a\x7fb\r\n",
        "Host: a\r\n: empty name\r\n",
        "Host: a\r\nX\x01: y\r\n",
    ] {
        let text = format!("GET / HTTP/1.1\r\n{fields}\r\n");
        assert_eq!(parsed(&text), Err(Refusal::BadRequest), "{fields:?}");
    }
    let tab = parsed("GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n");
    assert!(tab.is_ok(), "HTAB is allowed in a value");
    let obs_text = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xe9\r\n\r\n");
    assert!(obs_text.is_ok(), "obs-text is allowed in a value");
}

/// RFC 9110 §9.3.2: a refusal of a HEAD request has no content, so the method is recognised
/// however the rest of the head fares.
#[test]
fn a_head_method_is_recognised_before_the_head_parses() {
    assert!(is_head_method(b"HEAD / HTTP/2.0\r\n"));
    assert!(is_head_method(b"\r\nHEAD /"));
    assert!(!is_head_method(b"HEADER / HTTP/1.1\r\n"));
    assert!(!is_head_method(b"head / HTTP/1.1\r\n"));
    assert!(!is_head_method(b"GET / HTTP/1.1\r\n"));
    assert!(!is_head_method(b""));
}
