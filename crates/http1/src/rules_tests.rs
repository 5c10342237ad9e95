//! The framing and persistence rules, one field combination at a time.

use super::*;

fn decide_for(version: Version, fields: &[(&str, &str)]) -> Result<Decision, Refusal> {
    decide(
        version,
        fields.iter().map(|(name, value)| (*name, value.as_bytes())),
    )
}

fn http11(fields: &[(&str, &str)]) -> Result<Decision, Refusal> {
    let mut all = vec![("Host", "a")];
    all.extend_from_slice(fields);
    decide_for(Version::Http11, &all)
}

fn framing(fields: &[(&str, &str)]) -> Result<BodyLength, Refusal> {
    http11(fields).map(|decision| decision.body_length)
}

/// RFC 9112 §3.2.
#[test]
fn host_is_required_once_in_http11_and_must_be_valid() {
    assert_eq!(decide_for(Version::Http11, &[]), Err(Refusal::BadRequest));
    assert!(decide_for(Version::Http10, &[]).is_ok());
    let twice = [("Host", "a"), ("host", "a")];
    assert_eq!(
        decide_for(Version::Http11, &twice),
        Err(Refusal::BadRequest)
    );
    assert_eq!(
        decide_for(Version::Http10, &twice),
        Err(Refusal::BadRequest)
    );
    for valid in [
        "example.test",
        "example.test:8000",
        "127.0.0.1:1",
        "[::1]:80",
        "[::1]",
        "",
        "a-b.c_d~",
    ] {
        assert!(
            decide_for(Version::Http11, &[("Host", valid)]).is_ok(),
            "{valid}"
        );
    }
    for invalid in [
        "a b", "a/b", "a:b:c", "a:8x", "[::1", "a@b", "[]", "a?b", "a#b",
    ] {
        let result = decide_for(Version::Http11, &[("Host", invalid)]);
        assert_eq!(result, Err(Refusal::BadRequest), "{invalid}");
        let result = decide_for(Version::Http10, &[("Host", invalid)]);
        assert_eq!(result, Err(Refusal::BadRequest), "{invalid} in 1.0");
    }
}

#[test]
fn content_length_is_one_run_of_digits() {
    assert_eq!(
        framing(&[("Content-Length", "20")]),
        Ok(BodyLength::Fixed(20))
    );
    assert_eq!(
        framing(&[("Content-Length", "007")]),
        Ok(BodyLength::Fixed(7))
    );
    assert_eq!(
        framing(&[("Content-Length", "0")]),
        Ok(BodyLength::Fixed(0))
    );
    let max = i64::MAX.to_string();
    assert_eq!(
        framing(&[("Content-Length", &max)]),
        Ok(BodyLength::Fixed(i64::MAX as u64))
    );
    for bad in [
        "+20",
        "-1",
        "0x14",
        "2 0",
        "",
        "20, 20",
        "1e3",
        "9223372036854775808",
        "99999999999999999999999",
    ] {
        assert_eq!(
            framing(&[("Content-Length", bad)]),
            Err(Refusal::BadRequest),
            "{bad:?}"
        );
    }
    let twice = [("Content-Length", "5"), ("Content-Length", "5")];
    assert_eq!(framing(&twice), Err(Refusal::BadRequest));
}

/// RFC 9112 §6.1, §6.3.
#[test]
fn transfer_encoding() {
    for chunked in ["chunked", "Chunked", " CHUNKED ", "chunked,", ", chunked"] {
        assert_eq!(
            framing(&[("Transfer-Encoding", chunked)]),
            Ok(BodyLength::Chunked),
            "{chunked:?}"
        );
    }
    let split = [
        ("Transfer-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
    ];
    assert_eq!(framing(&split), Err(Refusal::NotImplemented));
    assert_eq!(
        framing(&[("Transfer-Encoding", "gzip, chunked")]),
        Err(Refusal::NotImplemented)
    );
    for bad in [
        "chunked, gzip",
        "identity",
        "xchunked",
        "chunked, chunked",
        "",
        "gzip",
        "chunked;q=1",
    ] {
        assert_eq!(
            framing(&[("Transfer-Encoding", bad)]),
            Err(Refusal::BadRequest),
            "{bad:?}"
        );
    }
    let twice = [
        ("Transfer-Encoding", "chunked"),
        ("Transfer-Encoding", "chunked"),
    ];
    assert_eq!(framing(&twice), Err(Refusal::BadRequest));
    let smuggling = [("Content-Length", "5"), ("Transfer-Encoding", "chunked")];
    assert_eq!(framing(&smuggling), Err(Refusal::BadRequest));
    let in_http10 = [("Transfer-Encoding", "chunked")];
    assert_eq!(
        decide_for(Version::Http10, &in_http10),
        Err(Refusal::BadRequest)
    );
}

/// RFC 9110 §10.1.1.
#[test]
fn expect() {
    let expects = |value: &str| http11(&[("Expect", value)]).map(|d| d.expect_continue);
    assert_eq!(expects("100-continue"), Ok(true));
    assert_eq!(expects("100-Continue"), Ok(true));
    for other in ["200-ok", "", "100-continue, x", "100-continuex"] {
        assert_eq!(expects(other), Err(Refusal::ExpectationFailed), "{other:?}");
    }
    let in_http10 = decide_for(Version::Http10, &[("Expect", "whatever")]);
    assert_eq!(in_http10.map(|d| d.expect_continue), Ok(false));
    assert_eq!(http11(&[]).map(|d| d.expect_continue), Ok(false));
}

/// RFC 9112 §9.3.
#[test]
fn persistence() {
    let keeps = |version, fields: &[(&str, &str)]| decide_for(version, fields).unwrap().keep_alive;
    assert!(keeps(Version::Http11, &[("Host", "a")]));
    assert!(!keeps(
        Version::Http11,
        &[("Host", "a"), ("Connection", "Close")]
    ));
    assert!(!keeps(
        Version::Http11,
        &[("Host", "a"), ("Connection", "keep-alive, close")]
    ));
    assert!(!keeps(Version::Http10, &[]));
    assert!(keeps(Version::Http10, &[("Connection", "Keep-Alive")]));
    assert!(!keeps(
        Version::Http10,
        &[("Connection", "keep-alive"), ("Connection", "close")]
    ));
}
