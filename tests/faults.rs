//! A panicking handler (through the test-only fault-injection route): 500 with the contract's
//! body, and the worker and the store both keep working.

mod common;
use common::*;

fn server_with_faults(workers: usize) -> TestServer {
    spawn_server_with(taskd::Config {
        workers,
        fault_injection: true,
        ..taskd::Config::ephemeral()
    })
}

#[test]
fn panic_in_a_handler_is_500_with_a_bare_body() {
    let server = server_with_faults(1);
    let response = get(server.addr(), "/_test/panic");
    assert_eq!(response.status, 500);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.text(), r#"{"detail":"Internal Server Error"}"#);
}

/// With one worker, every later answer proves that the worker survived the panic.
#[test]
fn the_only_worker_survives_repeated_panics() {
    let server = server_with_faults(1);
    for _ in 0..5 {
        assert_eq!(get(server.addr(), "/_test/panic").status, 500);
        assert_eq!(get(server.addr(), "/healthz").status, 200);
    }
}

/// The panic poisons the store's lock while it is held; the store recovers and loses nothing.
#[test]
fn store_stays_usable_after_a_panic_under_its_lock() {
    let server = server_with_faults(2);
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
