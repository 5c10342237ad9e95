//! Where uploads wait on PostgreSQL (CONTRACT §14): in memory when the part is known to be
//! small, else in a temporary file, so that no database connection is taken until the whole
//! body has arrived (a slow client never holds one) and a large upload never sits in memory.
//! The file is unlinked as soon as it is created, so an instance killed mid-upload leaves
//! nothing behind in the temporary directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::storage::{Spool, SpoolWriter, StorageError};

/// The most an upload may be to wait in memory.
const MEMORY_BOUND: u64 = 1024 * 1024;

/// Memory up to [`MEMORY_BOUND`], then a file in the system's temporary directory.
#[derive(Debug, Default)]
pub(super) struct DatabaseSpool {
    /// Numbers the temporary files of this process.
    next: AtomicU64,
}

impl Spool for DatabaseSpool {
    fn create(&self, bound: Option<u64>) -> Result<SpoolWriter, StorageError> {
        if bound.is_some_and(|bound| bound <= MEMORY_BOUND) {
            return Ok(SpoolWriter::memory(bound));
        }
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("taskd-upload-{}-{number}", std::process::id());
        let path: PathBuf = std::env::temp_dir().join(name);
        SpoolWriter::unlinked_file(path)
    }
}
