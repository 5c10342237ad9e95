//! A handler's panic becomes a 500 and one log line (the server's job, in `answer_caught`);
//! this file catches it and, for the binary only, offers the hook that makes it one line.
//!
//! Why a hook at all: the default panic hook prints its own several lines ("thread '…'
//! panicked at …", the backtrace note) for a panic the server already reports as a 500 and a
//! log line of its own. Why not in [`Server::bind`](crate::Server::bind): a panic hook is
//! process-wide, and a library must not change its host process (the embedder may have its
//! own hook, or want the default one). So the `taskd` binary installs it; an embedder gets
//! the 500 and the log line, plus whatever its own hook prints.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// Set while this thread runs a handler, whose panics the server reports itself.
    static ANSWERING: Cell<bool> = const { Cell::new(false) };
    /// Where the last handler panic on this thread happened (known only with the hook).
    static PANIC_SITE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs a handler; a panic comes back as `handler panicked[ at SITE]: MESSAGE`.
pub(super) fn catch_handler_panic<T>(handler: impl FnOnce() -> T) -> Result<T, String> {
    ANSWERING.set(true);
    let outcome = panic::catch_unwind(AssertUnwindSafe(handler));
    ANSWERING.set(false);
    outcome.map_err(|panic| {
        let message = panic_message(panic.as_ref());
        let site = PANIC_SITE
            .take()
            .map_or_else(String::new, |site| format!(" at {site}"));
        format!("handler panicked{site}: {message}")
    })
}

/// Makes a handler's panic one log line (the server's, with the panic's place) instead of
/// the default hook's several; panics anywhere else still go to the hook installed before.
/// Process-wide, so only the binary calls it; calling it twice installs it once.
pub fn install_handler_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if ANSWERING.get() {
                let site = info.location().map(ToString::to_string);
                PANIC_SITE.with_borrow_mut(|slot| *slot = site);
            } else {
                previous(info);
            }
        }));
    });
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}
