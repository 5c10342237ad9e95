//! Test hooks for durable mode, compiled only with the `test-hooks` feature (the tests enable
//! it; the release binary never has it): a switch that makes every write fail like a full disk,
//! and a lower compaction floor. The switch itself, [`Faults`], lives in `storage::faults`, since
//! the upload spool checks it too.

#[cfg(feature = "test-hooks")]
use std::sync::atomic::AtomicBool;
#[cfg(feature = "test-hooks")]
use std::sync::Arc;

pub(crate) use crate::storage::faults::Faults;

/// The journal may grow to this many bytes before compaction is considered at all, so a small
/// store is not rewritten over and over.
pub const DEFAULT_COMPACT_FLOOR_BYTES: u64 = 4 * 1024 * 1024;

/// Test hooks for durable mode. Never set them in production.
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct StorageHooks {
    /// While `true`, every write of data (journal, upload, snapshot) fails as if the disk were
    /// full; cutting a file back and fsync still work, as they do on a full disk.
    pub fail_writes: Option<Arc<AtomicBool>>,
    /// Overrides [`DEFAULT_COMPACT_FLOOR_BYTES`].
    pub compact_floor_bytes: Option<u64>,
}

#[cfg(feature = "test-hooks")]
impl PartialEq for StorageHooks {
    fn eq(&self, other: &StorageHooks) -> bool {
        let same_switch = match (&self.fail_writes, &other.fail_writes) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same_switch && self.compact_floor_bytes == other.compact_floor_bytes
    }
}

#[cfg(feature = "test-hooks")]
impl Eq for StorageHooks {}

/// How a data directory is run: the defaults, or what the test hooks set.
#[derive(Debug, Clone)]
pub(crate) struct Tuning {
    pub(crate) faults: Faults,
    pub(crate) compact_floor: u64,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            faults: Faults::default(),
            compact_floor: DEFAULT_COMPACT_FLOOR_BYTES,
        }
    }
}

#[cfg(feature = "test-hooks")]
impl From<StorageHooks> for Tuning {
    fn from(hooks: StorageHooks) -> Tuning {
        Tuning {
            faults: Faults(hooks.fail_writes),
            compact_floor: hooks
                .compact_floor_bytes
                .unwrap_or(DEFAULT_COMPACT_FLOOR_BYTES),
        }
    }
}
