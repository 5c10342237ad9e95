//! The write-failure switch of the test hooks (`durable::StorageHooks::fail_writes`): while
//! on, every write of data (journal, upload spool, snapshot) fails like a full disk. Without
//! the `test-hooks` feature (and outside unit tests) it is a check that always passes. It sits
//! beside the spool and the durable backend rather than in either, so that the spool need not
//! import the backend that uses it.

use std::io;
#[cfg(any(test, feature = "test-hooks"))]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(any(test, feature = "test-hooks"))]
use std::sync::Arc;

/// The write-failure switch of `StorageHooks::fail_writes`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults(
    #[cfg(any(test, feature = "test-hooks"))] pub(super) Option<Arc<AtomicBool>>,
);

impl Faults {
    /// Fails like a full disk while the switch is on.
    pub(crate) fn check(&self) -> io::Result<()> {
        #[cfg(any(test, feature = "test-hooks"))]
        if let Some(switch) = &self.0 {
            if switch.load(Ordering::SeqCst) {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "injected fault: no space left on device",
                ));
            }
        }
        Ok(())
    }
}
