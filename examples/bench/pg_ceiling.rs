//! The thread-per-connection ceiling next to taskd in the `postgres` scenario's GET race:
//! `examples/pg_ceiling.rs` (one thread and one database connection per HTTP connection, no
//! pool, no HTTP rules, one statement on one table), built here and started on the same
//! database. What it reaches against the database alone is what the design itself allows on
//! this machine; taskd's distance to it is what taskd's own work costs.

use std::io;
use std::path::Path;

use crate::process::{Ready, ServerProcess};
use crate::servers::cargo;

/// Builds `examples/pg_ceiling.rs` next to this example and starts it on `url`.
///
/// # Errors
/// When it cannot be built or does not listen.
pub fn start(url: &str) -> io::Result<ServerProcess> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    cargo(&["build", "--release", "--example", "pg_ceiling"], repo)?;
    let exe = std::env::current_exe()?;
    let program = exe
        .parent()
        .map(|examples| examples.join("pg_ceiling"))
        .ok_or_else(|| io::Error::other("no examples directory"))?;
    ServerProcess::launch(&[], &program, &[url.to_owned()], Ready::Port)
}
