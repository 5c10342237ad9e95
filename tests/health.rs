//! `GET /healthz` (CONTRACT §10).

use crate::common;
use common::*;

#[test]
fn healthz_is_ok() {
    let server = spawn_server();
    let response = get(server.addr(), "/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.text(), r#"{"status":"ok"}"#);
}

/// CONTRACT §10: a health answer must never come from a cache (RFC 9111 §5.2.2.5), on GET and
/// HEAD alike; and it has no validator to revalidate.
#[test]
fn healthz_is_never_stored() {
    let server = spawn_server();
    for method in ["GET", "HEAD"] {
        let response = request(server.addr(), method, "/healthz", &[], b"");
        assert_eq!(response.status, 200, "{method}");
        assert_eq!(
            response.header("Cache-Control"),
            Some("no-store"),
            "{method}"
        );
        assert!(!response.has_header("ETag"), "{method}");
    }
}
