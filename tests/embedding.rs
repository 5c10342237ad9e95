//! The library leaves its host process alone (issue 16): `Server::bind` installs no panic hook,
//! so a host's own hook still sees every panic, a handler's included, while the handler's
//! panic is still answered 500 and the server goes on. Its own test binary: a panic hook is
//! process-wide, and no other test may bind a server first.

mod common;

use std::panic;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use taskd::Config;

#[test]
fn the_hosts_panic_hook_stays_in_place_and_a_handler_panic_is_still_a_500() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    panic::set_hook(Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    let server = spawn_server_with(Config::ephemeral().with_fault_injection(true));
    let response = get(server.addr(), "/_test/panic");
    assert_eq!(response.status, 500);
    assert_eq!(get(server.addr(), "/healthz").status, 200);
    drop(server);
    let _ = panic::take_hook();
    // Before: bind wrapped the host's hook and kept a handler's panic from reaching it.
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "the host's hook saw the panic"
    );
}
