//! A panicking handler (through the test-only fault-injection route): 500 with the contract's
//! body, and the connection and the store both keep working.

use std::io::Write;

use crate::common;
use common::*;

fn server_with_faults() -> TestServer {
    spawn_server_with(taskd::Config::ephemeral().with_fault_injection(true))
}

#[test]
fn panic_in_a_handler_is_500_with_a_bare_body() {
    let server = server_with_faults();
    let response = get(server.addr(), "/_test/panic");
    assert_eq!(response.status, 500);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.text(), r#"{"detail":"Internal Server Error"}"#);
}

/// Five panics and five answers on one keep-alive connection: its thread survived each panic.
#[test]
fn the_connection_survives_repeated_panics() {
    let server = server_with_faults();
    let addr = server.addr();
    let mut stream = connect(addr);
    let mut buffer = Vec::new();
    for _ in 0..5 {
        for (target, status) in [("/_test/panic", 500), ("/healthz", 200)] {
            let head = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
            stream.write_all(head.as_bytes()).unwrap();
            let response = read_one_response(&mut stream, &mut buffer, false);
            assert_eq!(response.status, status, "{target}");
        }
    }
}

#[test]
fn store_stays_usable_after_a_panic_under_its_lock() {
    let server = server_with_faults();
    let id = create_task(server.addr(), "before the panic");
    assert_eq!(get(server.addr(), "/_test/panic").status, 500);
    assert_eq!(get(server.addr(), &format!("/tasks/{id}")).status, 200);
    let after = create_task(server.addr(), "after the panic");
    assert_eq!(after, id + 1);
    let list = get(server.addr(), "/tasks").json();
    assert_eq!(list.as_array().map(Vec::len), Some(2));
}

#[test]
fn panic_route_does_not_exist_unless_configured() {
    let server = spawn_server();
    assert_eq!(get(server.addr(), "/_test/panic").status, 404);
}
