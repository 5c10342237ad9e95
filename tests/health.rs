//! `GET /healthz` (CONTRACT §10).

mod common;
use common::*;

#[test]
fn healthz_is_ok() {
    let server = spawn_server();
    let response = get(server.addr(), "/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.text(), r#"{"status":"ok"}"#);
}
