//! The memory backend, taskd's default: the shared state and nothing else. Changes are kept
//! for as long as the process runs; an upload is received into one buffer and its bytes are
//! shared (`Bytes`) with every download, never copied.

use std::fs::File;

use super::spool::MemorySpool;
use super::tasks::state::{Change, State};
use super::tasks::{Attached, Backing, Content, StoreError, Tasks};
use super::{Spool, Spooled, Storage};

/// The backing of the memory backend: nothing to write, nothing to open.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    spool: MemorySpool,
}

impl Backing for Memory {
    type Ticket = ();

    fn before_change(&self, _state: &mut State) -> Result<(), StoreError> {
        Ok(())
    }

    fn append(&self, _change: &Change) -> Result<(), StoreError> {
        Ok(())
    }

    fn settle(
        &self,
        _tasks: &Tasks<Memory>,
        _ticket: (),
        freed: Option<Attached>,
    ) -> Result<(), StoreError> {
        // Free the replaced attachment (possibly many MiB) here, not under the lock.
        drop(freed);
        Ok(())
    }

    fn open(&self, _content: &Content) -> Result<Option<File>, StoreError> {
        Ok(None)
    }

    fn spool(&self) -> &dyn Spool {
        &self.spool
    }

    fn keep(&self, upload: Spooled) -> Result<Content, StoreError> {
        match upload {
            Spooled::Memory(bytes) => Ok(Content::Memory(bytes)),
            Spooled::File { temp, .. } => Err(StoreError::Storage(format!(
                "the memory backend got an upload spooled to {}",
                temp.path.display()
            ))),
        }
    }

    fn discard(&self, _content: &Content) {}
}

/// An empty memory backend whose first id is 1.
pub fn open() -> Box<dyn Storage> {
    Box::new(new())
}

/// An empty memory backend, as its concrete type (for the crate's own tests).
pub(crate) fn new() -> Tasks<Memory> {
    Tasks::new(Memory::default())
}
