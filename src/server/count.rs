//! How many tasks a bound server's storage holds, for the binary's start line. Asked through
//! the list every handler uses (no filter, an empty page: only the total), so no backend needs
//! a method of its own for it.

use super::Server;
use crate::storage::{ListQuery, StorageError};

/// The number of tasks in `server`'s storage.
///
/// # Errors
/// The storage's, e.g. a database that does not answer.
pub fn task_count(server: &Server) -> Result<u64, StorageError> {
    let everything = ListQuery {
        done: None,
        priority: None,
        skip: 0,
        limit: 0,
    };
    Ok(server.service.app.storage.list(&everything)?.total)
}
