//! Cancelling, on the server, a statement that a connection abandoned at its deadline.

use std::time::Duration;

use tokio_postgres::CancelToken;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::options::REQUEST_DEADLINE;

/// How long a cancel request may take: it only matters while the abandoned statement could
/// still run, which the server's own `statement_timeout` ends after the same time.
const CANCEL_WAIT: Duration = REQUEST_DEADLINE;

/// Asks the server to cancel what a connection is running, as libpq's `PQcancel` does: over a
/// new connection carrying the backend's key, since the abandoned one may be silent.
///
/// Why: dropping a connection at the deadline does not stop its server process while it waits
/// (on a lock, say); it notices the closed socket only when it next writes. A create (one
/// autocommit statement) answered 503 would then still insert its task once the lock is
/// released, past its deadline (CONTRACT §14: all of a request's database work fits in 5 s).
/// The server's `statement_timeout` ends it only 5 s after the statement began, which can be
/// well after the request's deadline when the request first waited for a pooled connection.
pub(super) struct Canceller {
    token: CancelToken,
    tls: MakeRustlsConnect,
}

impl Canceller {
    /// For the connection whose backend `token` names, reached as it was (`tls`).
    pub(super) fn new(token: CancelToken, tls: MakeRustlsConnect) -> Canceller {
        Canceller { token, tls }
    }

    /// Sends the cancel from a thread of its own, so the 503 is not held up by it (on a silent
    /// network the cancel waits too, until [`CANCEL_WAIT`]). Best effort: a cancel that cannot
    /// be sent leaves the statement to `statement_timeout`.
    pub(super) fn cancel_in_background(&self) {
        let (token, tls) = (self.token.clone(), self.tls.clone());
        let _ = std::thread::Builder::new()
            .name("taskd-pg-cancel".to_owned())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                else {
                    return;
                };
                let _ = runtime.block_on(async {
                    tokio::time::timeout(CANCEL_WAIT, token.cancel_query(tls)).await
                });
            });
    }
}
