//! The durable backend, `--data-dir DIR`: the shared in-memory state (`storage::tasks`) made
//! to survive a restart or a `kill -9`. Every change is appended to a journal under the state's
//! lock and made durable after it (group commit) before the caller answers; attachments are
//! blob files. The state decides *what* changed; this module makes it survive.
//! - `recovery`: the directory's lock, `tmp/`'s clean-up, and the replay at start;
//! - `disk`: the open directory: blobs, the upload spool, snapshots (it builds on `recovery`,
//!   never the reverse);
//! - `journal`, `frame`, `record`, `crc32`: the journal, its framing and its records;
//! - `changes`: the shared state's changes and snapshots as records, and back (the state
//!   knows nothing of records: the arrows point from here to `storage::tasks` only);
//! - `reader`: the directory read without the lock or recovery, for `taskd import`;
//! - `hooks`: the test hooks (the `test-hooks` feature);
//! - this file: the backing of the shared state (append, commit, undo after a failed write,
//!   compaction) and [`open`].
//!
//! ```text
//! DIR/lock            held with File::try_lock while a taskd uses DIR
//! DIR/snapshot.<g>    the whole state when journal.<g> was started (absent for g = 0)
//! DIR/journal.<g>     one record per acknowledged change since then (see `frame`, `record`)
//! DIR/blobs/<hex>     attachment bytes, one file per upload, never changed once in place
//! DIR/tmp/            uploads being received and snapshots being written; emptied at start
//! ```
//!
//! The state is the newest snapshot plus every journal from its generation on, in order. A
//! compaction creates `journal.<g+1>` first, then writes `snapshot.<g+1>` beside it, and only
//! then deletes older files; a crash at any point leaves a readable chain.
//!
//! If a journal write or fsync fails, every change not yet durable is answered 500 and the
//! state reloads itself from disk (cutting the journal back to its durable end), so what a
//! client can read is again exactly what the disk holds. Reads may see a change while its
//! writer still waits for the fsync, as with any write-ahead log that commits outside its lock.

mod backup;
mod changes;
mod crc32;
mod disk;
mod frame;
mod hooks;
mod journal;
#[cfg(feature = "postgres")]
mod reader;
mod record;
mod recovery;

pub use self::backup::backup;

use std::fs::File;
use std::io;
use std::path::Path;

pub(crate) use self::disk::Disk;
pub(crate) use self::hooks::Faults;
#[cfg(feature = "test-hooks")]
pub use self::hooks::StorageHooks;
pub(crate) use self::hooks::Tuning;
pub(crate) use self::journal::Ticket;
#[cfg(feature = "postgres")]
pub(crate) use self::reader::{read_data_dir, DataDirImage, ImageAttachment};

use self::changes::{replay, snapshot_records, to_record};
use super::tasks::state::{Change, State};
use super::tasks::{Attached, Backing, Content, StoreError, Tasks};
use super::{Spool, Spooled, Storage};

/// fsyncs a directory, so that files created, renamed or removed in it stay so after a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The durable backend kept in `dir` (created if missing): replays what is there, and keeps
/// every later change there.
///
/// # Errors
/// When `dir` is in use by another taskd, cannot be created, or holds a corrupt record before
/// the end of a journal (the message names the file and the byte offset).
pub fn open(dir: &Path) -> io::Result<Box<dyn Storage>> {
    Ok(Box::new(open_tasks(dir, Tuning::default())?))
}

/// [`open`] with test hooks (failing writes, a lower compaction floor).
///
/// # Errors
/// As [`open`].
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub fn open_with_hooks(dir: &Path, hooks: StorageHooks) -> io::Result<Box<dyn Storage>> {
    Ok(Box::new(open_tasks(dir, hooks.into())?))
}

/// The shared state read back from `dir`, kept there from now on.
pub(crate) fn open_tasks(dir: &Path, tuning: Tuning) -> io::Result<Tasks<Disk>> {
    let opening = recovery::prepare(dir, tuning)?;
    let mut state = State::default();
    let tail = opening.replay(&mut |record| replay(&mut state, record))?;
    let disk = Disk::open(opening, tail, &state.blobs())?;
    Ok(Tasks::with_state(state, disk))
}

impl Backing for Disk {
    type Ticket = Ticket;

    /// After a storage failure, first cuts the journal back to its durable end and reloads the
    /// state from disk, so changes that were answered 500 vanish.
    fn before_change(&self, state: &mut State) -> Result<(), StoreError> {
        if !self.journal.is_broken() {
            return Ok(());
        }
        self.journal.repair().map_err(StoreError::Storage)?;
        // Revisions go on from where they were, so none handed out before is reused.
        let mut fresh = state.continuing();
        if let Err(error) = self.reload(&mut |record| replay(&mut fresh, record)) {
            let reason = format!("cannot reload after a storage failure: {error}");
            self.journal.fail(&reason);
            return Err(StoreError::Storage(reason));
        }
        *state = fresh;
        Ok(())
    }

    fn append(&self, change: &Change) -> Result<Ticket, StoreError> {
        self.journal
            .append(&to_record(change))
            .map_err(StoreError::Storage)
    }

    fn settle(
        &self,
        tasks: &Tasks<Disk>,
        ticket: Ticket,
        freed: Option<Attached>,
    ) -> Result<(), StoreError> {
        if let Err(reason) = self.journal.commit(ticket) {
            // Undo before answering 500, so no client reads the lost change afterwards; if the
            // reload fails too, the next change retries it. The replaced blob stays: the
            // reloaded state may refer to it again.
            drop(tasks.lock_for_change());
            return Err(StoreError::Storage(reason));
        }
        if let Some(Content::Blob(blob)) = freed.map(|attached| attached.file.content) {
            self.remove_blob(&blob);
        }
        compact_if_due(tasks, self);
        Ok(())
    }

    fn open(&self, content: &Content) -> Result<Option<File>, StoreError> {
        let Content::Blob(blob) = content else {
            return Ok(None);
        };
        let file = self.open_blob(blob).map_err(|error| {
            StoreError::Storage(format!("cannot open blob {}: {error}", blob.name))
        })?;
        Ok(Some(file))
    }

    fn spool(&self) -> &dyn Spool {
        &self.spool
    }

    /// Only now, after every check passed, does the upload move into `blobs/`.
    fn keep(&self, upload: Spooled) -> Result<Content, StoreError> {
        match upload {
            Spooled::File { temp, size } => self.persist(temp, size).map(Content::Blob),
            Spooled::Memory(_) => Err(StoreError::Storage(
                "the durable backend got an upload spooled to memory".to_owned(),
            )),
        }
    }

    fn discard(&self, content: &Content) {
        if let Content::Blob(blob) = content {
            self.remove_blob(blob);
        }
    }
}

/// Compaction: when the journal has grown past twice the live data, the state goes into a
/// snapshot and a fresh journal starts. The writer that notices does it, after its own change
/// is durable.
fn compact_if_due(tasks: &Tasks<Disk>, disk: &Disk) {
    let live_bytes = tasks.lock().live_bytes;
    if !disk.start_compaction(live_bytes) {
        return;
    }
    // Under the lock only: make the journal durable, switch files, copy the state.
    let switched = {
        let state = tasks.lock();
        disk.journal
            .rotate()
            .map(|generation| (generation, state.next_id, state.tasks.clone()))
    };
    let written = switched.and_then(|(generation, next_id, tasks)| {
        let mut records = snapshot_records(next_id, &tasks);
        disk.write_snapshot(generation, &mut records)
            .map_err(|error| error.to_string())
    });
    if let Err(reason) = written {
        crate::log::line(format_args!(
            "taskd: compaction failed, the journals are kept: {reason}"
        ));
    }
    disk.compacted();
}
