//! CONTRACT §11's ranges over HTTP (RFC 9110 §14): `Range` on the download → 206 with one
//! range or `multipart/byteranges`, 416, every case where `Range` is ignored, and `If-Range`;
//! from memory and from a durable blob file alike.

use crate::common;
use common::*;

use std::net::SocketAddr;

use taskd::Config;

const CONTENT: &[u8] = b"0123456789abcdefghij";
const TARGET: &str = "/tasks/1/attachment";

fn server_with(content: &[u8]) -> TestServer {
    let server = server_with_task();
    let uploaded = upload(server.addr(), 1, "digits.txt", Some("text/plain"), content);
    assert_eq!(uploaded.status, 200);
    server
}

fn ranged(addr: SocketAddr, range: &str) -> Response {
    request(addr, "GET", TARGET, &[("Range", range)], b"")
}

/// A 206 of one range: those bytes and the 200's fields, plus `Content-Range`.
fn assert_single(response: &Response, whole: &Response, first: usize, last: usize) {
    assert_eq!(response.status, 206, "{}", response.text());
    let size = CONTENT.len();
    let expected = format!("bytes {first}-{last}/{size}");
    assert_eq!(response.header("Content-Range"), Some(expected.as_str()));
    assert_eq!(response.body, &CONTENT[first..=last]);
    let length = (last - first + 1).to_string();
    assert_eq!(response.header("Content-Length"), Some(length.as_str()));
    for name in [
        "Content-Type",
        "Content-Disposition",
        "ETag",
        "Last-Modified",
        "Accept-Ranges",
        "Cache-Control",
    ] {
        assert_eq!(response.header(name), whole.header(name), "{name}");
    }
}

fn assert_whole(response: &Response) {
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.body, CONTENT);
    assert!(!response.has_header("Content-Range"));
}

/// The exact `multipart/byteranges` body for these ranges (RFC 9110 §14.6).
fn expected_multipart(boundary: &str, ranges: &[(usize, usize)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (index, (first, last)) in ranges.iter().enumerate() {
        let separator = if index == 0 { "" } else { "\r\n" };
        let head = format!(
            "{separator}--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes {first}-{last}/{}\r\n\r\n",
            CONTENT.len()
        );
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(&CONTENT[*first..=*last]);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

fn assert_multipart(response: &Response, ranges: &[(usize, usize)]) {
    assert_eq!(response.status, 206, "{}", response.text());
    let content_type = response.header("Content-Type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    assert_eq!(response.body, expected_multipart(boundary, ranges));
    let length = response.body.len().to_string();
    assert_eq!(response.header("Content-Length"), Some(length.as_str()));
    // §15.3.7.2: no Content-Range in the header section of a multipart 206.
    assert!(!response.has_header("Content-Range"));
    assert!(response.has_header("ETag"));
}

fn check_ranges(addr: SocketAddr) {
    let whole = get(addr, TARGET);
    assert_whole(&whole);
    assert_single(&ranged(addr, "bytes=0-3"), &whole, 0, 3);
    assert_single(&ranged(addr, "bytes=15-"), &whole, 15, 19);
    assert_single(&ranged(addr, "bytes=-3"), &whole, 17, 19);
    assert_single(&ranged(addr, "bytes=18-1000"), &whole, 18, 19);
    assert_single(&ranged(addr, "bytes=-100"), &whole, 0, 19);
    // Touching ranges are coalesced into one.
    assert_single(&ranged(addr, "bytes=0-1,2-3"), &whole, 0, 3);
    assert_multipart(&ranged(addr, "bytes=0-1, 4-5"), &[(0, 1), (4, 5)]);
    // Request order is kept; overlapping ranges merge into the place of the first of them.
    assert_multipart(&ranged(addr, "bytes=10-12,0-1,1-2"), &[(10, 12), (0, 2)]);
    assert_multipart(&ranged(addr, "bytes=-2,0-0"), &[(18, 19), (0, 0)]);
}

fn ranges_of_an_attachment_in_memory() {
    let server = server_with(CONTENT);
    check_ranges(server.addr());
}

/// Picks its own data directory, so it runs once, not once per backend.
#[test]
fn ranges_of_an_attachment_in_a_durable_blob() {
    let dir = DataDir::fresh("ranges");
    let server = spawn_server_with(Config::ephemeral().with_data_dir(dir.path()));
    let addr = server.addr();
    assert_eq!(create_task(addr, "Report"), 1);
    upload(addr, 1, "digits.txt", Some("text/plain"), CONTENT);
    check_ranges(addr);
    drop(server);
    drop(dir);
}

/// 416 with `Content-Range: bytes */size` when no spec is satisfiable; unsatisfiable specs
/// beside a satisfiable one are dropped (differs from FastAPI's FileResponse: 416).
fn unsatisfiable_ranges() {
    let server = server_with(CONTENT);
    let addr = server.addr();
    for range in ["bytes=20-", "bytes=-0", "bytes=100-200, 30-"] {
        let response = ranged(addr, range);
        assert_error(&response, 416, "Range Not Satisfiable");
        assert_eq!(
            response.header("Content-Range"),
            Some("bytes */20"),
            "{range}"
        );
    }
    let whole = get(addr, TARGET);
    assert_single(&ranged(addr, "bytes=100-,2-4"), &whole, 2, 4);
    let empty = server_with(b"");
    let response = request(empty.addr(), "GET", TARGET, &[("Range", "bytes=0-")], b"");
    assert_eq!(response.status, 416);
    assert_eq!(response.header("Content-Range"), Some("bytes */0"));
}

/// CONTRACT §11: these `Range`s are ignored, the whole attachment is sent with 200.
fn ranges_that_are_ignored() {
    let server = server_with(CONTENT);
    let addr = server.addr();
    let too_many = format!("bytes={}", vec!["0-0"; 101].join(","));
    for range in [
        "lines=1-2",
        "bytes=5-2",
        "bytes=a-",
        "bytes=-",
        "bytes 0-1",
        "bytes=",
        too_many.as_str(),
    ] {
        assert_whole(&ranged(addr, range));
    }
    let hundred = format!("bytes={}", vec!["0-0"; 100].join(","));
    assert_eq!(ranged(addr, &hundred).status, 206, "100 specs are fine");
    // HEAD is GET's head except for Range.
    let head = request(addr, "HEAD", TARGET, &[("Range", "bytes=0-1")], b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some("20"));
    assert!(!head.has_header("Content-Range"));
    // Other routes ignore it.
    for target in ["/tasks/1", "/tasks", "/healthz"] {
        let response = request(addr, "GET", target, &[("Range", "bytes=0-1")], b"");
        assert_eq!(response.status, 200, "{target}");
        assert!(!response.has_header("Content-Range"), "{target}");
    }
}

/// §13.1.5: If-Range with the current strong tag lets the Range apply; any other tag, a weak
/// one included, or a date that is not the Last-Modified, gives the whole attachment.
fn if_range() {
    let server = server_with(CONTENT);
    let addr = server.addr();
    let whole = get(addr, TARGET);
    let tag = whole.header("ETag").unwrap().to_owned();
    let with_if_range = |value: &str| {
        let headers = [("Range", "bytes=0-3"), ("If-Range", value)];
        request(addr, "GET", TARGET, &headers, b"")
    };
    assert_single(&with_if_range(&tag), &whole, 0, 3);
    assert_whole(&with_if_range("\"other\""));
    assert_whole(&with_if_range(&format!("W/{tag}")));
    assert_whole(&with_if_range("Sun, 06 Nov 1994 08:49:37 GMT"));
    assert_whole(&with_if_range("not a validator"));
    // Without Range, If-Range does nothing.
    let alone = request(addr, "GET", TARGET, &[("If-Range", "\"other\"")], b"");
    assert_whole(&alone);
}

/// An `If-Range` date equal to `Last-Modified` counts only when that time is at least one
/// second before the response's `Date` (a strong date, §8.8.2.2); the attachment was stored
/// just now, so which applies depends on whether the clock ticked in between.
fn if_range_date_of_a_fresh_upload_is_weak_within_its_second() {
    let server = server_with(CONTENT);
    let addr = server.addr();
    let stored = get(addr, TARGET)
        .header("Last-Modified")
        .unwrap()
        .to_owned();
    let headers = [("Range", "bytes=0-3"), ("If-Range", stored.as_str())];
    let response = request(addr, "GET", TARGET, &headers, b"");
    let date = taskd::test_hooks::parse_http_date(response.header("Date").unwrap()).unwrap();
    let stored_at = taskd::test_hooks::parse_http_date(&stored).unwrap();
    if date > stored_at {
        assert_eq!(response.status, 206);
    } else {
        assert_whole(&response);
    }
}

// Every test above, once per storage backend (tests/common/backend.rs).
backend_tests! {
    ranges_of_an_attachment_in_memory,
    unsatisfiable_ranges,
    ranges_that_are_ignored,
    if_range,
    if_range_date_of_a_fresh_upload_is_weak_within_its_second,
}
