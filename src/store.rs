//! The task store: one `Mutex` around tasks ordered by id, a title index for the duplicate
//! check, and the id counter; in durable mode also the journal that makes each change survive.
//! No HTTP types.
//!
//! Every mutation is a `Change` value: checked, then (in durable mode) appended to the
//! journal, then applied, all under the lock, so the journal's order is the order of the
//! changes, and replaying a journal at start runs the very same `apply`. The fsync happens after
//! unlocking (group commit, see `durable::journal`); only then does the caller answer. The lock
//! guards no file I/O but that append (into a memory buffer) and, for a download, opening the
//! blob (so a concurrent replace cannot remove it first); compaction's brief stop is the
//! documented exception.
//!
//! `apply` checks everything before it writes anything, so a panic can never leave the state
//! half-changed, which is why recovering a poisoned lock with `PoisonError::into_inner` is sound:
//! the poison flag only says that *some* thread panicked while holding the guard, and no method
//! here can panic between two related writes.
//!
//! If a journal write or fsync fails, every change not yet durable is answered 500 and the
//! store reloads itself from disk (cutting the journal back to its durable end), so what a
//! client can read is again exactly what the disk holds. Reads may see a change while its
//! writer still waits for the fsync, as with any write-ahead log that commits outside its lock.
//!
//! For CONTRACT §11 the state also keeps tasks per `done` × `priority` (`counts`, for an O(1)
//! `X-Total-Count`), each attachment's stored time and digest (`attachment`), and a revision per
//! task that conditional changes check (`conditional`). Nothing is hashed under the lock: a
//! digest comes with the upload, or the first download that needs it computes it.

use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;

use crate::durable::{self, Blob, Disk, Spool, StorageHooks, Ticket};
use crate::model::{AttachmentInfo, NewTask, Priority, Task, TaskPatch};
use crate::validators::{whole_seconds, EntityTag, Navigation};

mod attachment;
mod conditional;
mod counts;
mod positions;
mod records;
mod state;
use attachment::{Attached, DigestCell};
pub use attachment::{ByteSource, Download};
use records::snapshot_records;
use state::{Change, State};

/// An attachment as stored: where its bytes are and what is needed to send them back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    /// The filename after path stripping.
    pub filename: String,
    /// The part's `Content-Type` exactly as sent, `None` when the part had none.
    pub content_type: Option<String>,
    /// The bytes.
    pub content: Content,
}

/// Where an attachment's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// In memory; `Bytes` so a download shares them instead of copying them.
    Memory(Bytes),
    /// In a file under `DIR/blobs/` (durable mode).
    Blob(Blob),
}

impl StoredFile {
    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        match &self.content {
            Content::Memory(bytes) => bytes.len() as u64,
            Content::Blob(blob) => blob.size,
        }
    }

    fn info(&self) -> AttachmentInfo {
        AttachmentInfo {
            filename: self.filename.clone(),
            size: self.size(),
        }
    }

    /// A rough size of this attachment's snapshot record, for the compaction trigger.
    fn cost(&self) -> u64 {
        let content_type = self.content_type.as_ref().map_or(0, String::len);
        (96 + self.filename.len() + content_type) as u64
    }
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No task has that id.
    NoSuchTask,
    /// Another task already has that title.
    TitleTaken,
    /// The task has no attachment.
    NoAttachment,
    /// Durable mode: the change could not be made durable (500); the reason is for the log.
    Storage(String),
    /// The task or its attachment changed since the [`Revision`] the caller checked its
    /// preconditions against: check them again on the new state (nothing was changed).
    Changed,
}

/// Which version of a task and its attachment a caller looked at. A conditional request checks
/// its preconditions outside the lock (computing a tag may read a whole blob), then makes its
/// change only if the task is still at this revision, so two clients holding the same `ETag`
/// cannot both pass `If-Match` and overwrite each other (the lost update of RFC 9110 §13.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision(u64);

/// A list page and the number of matches before `skip` and `limit`, read under one lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The page.
    pub tasks: Vec<Task>,
    /// Matches before `skip` and `limit`: `X-Total-Count`.
    pub total: u64,
}

/// What an upload made: the task (the 200's body) and the attachment's new tag (its `ETag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedTask {
    /// The task with its new attachment.
    pub task: Task,
    /// The attachment's strong tag ([`EntityTag::for_attachment`]).
    pub etag: EntityTag,
}

/// Filters and paging for the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    /// Only tasks with this `done`.
    pub done: Option<bool>,
    /// Only tasks with this priority.
    pub priority: Option<Priority>,
    /// Matches to drop first.
    pub skip: u64,
    /// Most matches to return.
    pub limit: usize,
}

impl ListQuery {
    /// The page's navigation (`X-Total-Count`, `Link`) for `total` matches.
    pub fn navigation(&self, total: u64) -> Navigation {
        Navigation {
            done: self.done,
            priority: self.priority,
            skip: self.skip,
            limit: self.limit as u64,
            total,
        }
    }
}

/// The shared store. Cheap to lock; every method holds the lock briefly.
#[derive(Debug, Default)]
pub struct Store {
    state: Mutex<State>,
    /// The data directory in durable mode; `None` keeps everything in memory.
    disk: Option<Disk>,
}

impl Store {
    /// An empty store whose first id is 1, in memory.
    pub fn new() -> Store {
        Store::default()
    }

    /// A store kept in `dir` (created if missing): replays what is there, and keeps every
    /// later change there.
    ///
    /// # Errors
    /// When `dir` is in use by another taskd, cannot be created, or holds a corrupt record
    /// before the end of a journal (the message names the file and the byte offset).
    pub fn open(dir: &Path, hooks: StorageHooks) -> io::Result<Store> {
        let opening = durable::prepare(dir, hooks)?;
        let mut state = State::default();
        let tail = opening.replay(&mut |record| state.replay(record))?;
        let disk = opening.finish(tail, &state.blobs())?;
        Ok(Store {
            state: Mutex::new(state),
            disk: Some(disk),
        })
    }

    /// Where uploads are received in durable mode; `None` in memory mode.
    pub(crate) fn spool(&self) -> Option<&Spool> {
        self.disk.as_ref().map(Disk::spool)
    }

    /// Moves a received upload into the data directory (durable mode).
    ///
    /// # Errors
    /// `Storage` when that fails.
    pub(crate) fn persist(&self, file: durable::SpooledFile) -> Result<Blob, StoreError> {
        let disk = self
            .disk
            .as_ref()
            .expect("a spooled file implies durable mode");
        disk.persist(file).map_err(StoreError::Storage)
    }

    /// Removes a blob that no change refers to (its task vanished before the attach).
    pub(crate) fn discard(&self, blob: &Blob) {
        if let Some(disk) = &self.disk {
            disk.remove_blob(blob);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Sound: see the module doc.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock, for a change. After a storage failure it first cuts the journal back to its
    /// durable end and reloads the state from disk, so changes that were answered 500 vanish.
    fn lock_for_change(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let mut state = self.lock();
        let Some(disk) = &self.disk else {
            return Ok(state);
        };
        if disk.journal.is_broken() {
            disk.journal.repair().map_err(StoreError::Storage)?;
            // Revisions go on from where they were, so none handed out before is reused.
            let mut fresh = State {
                next_revision: state.next_revision,
                ..State::default()
            };
            if let Err(error) = disk.reload(&mut |record| fresh.replay(record)) {
                let reason = format!("cannot reload after a storage failure: {error}");
                disk.journal.fail(&reason);
                return Err(StoreError::Storage(reason));
            }
            *state = fresh;
        }
        Ok(state)
    }

    /// Checks `change`, appends it to the journal (durable mode) and applies it, under the lock.
    fn record(
        &self,
        state: &mut State,
        change: Change,
    ) -> Result<(Option<Ticket>, Option<Attached>), StoreError> {
        state.check(&change)?;
        let ticket = match &self.disk {
            None => None,
            Some(disk) => Some(
                disk.journal
                    .append(&change.to_record())
                    .map_err(StoreError::Storage)?,
            ),
        };
        let freed = state
            .apply(change)
            .expect("checked above, under the same lock");
        Ok((ticket, freed))
    }

    /// After unlocking: waits until the change is durable, then frees what it replaced.
    fn settle(&self, ticket: Option<Ticket>, freed: Option<Attached>) -> Result<(), StoreError> {
        let (Some(disk), Some(ticket)) = (&self.disk, ticket) else {
            // Memory mode: free the attachment (possibly many MiB) here, not under the lock.
            drop(freed);
            return Ok(());
        };
        if let Err(reason) = disk.journal.commit(ticket) {
            // Undo before answering 500, so no client reads the lost change afterwards; if the
            // reload fails too, the next change retries it. The replaced blob stays: the
            // reloaded state may refer to it again.
            drop(self.lock_for_change());
            return Err(StoreError::Storage(reason));
        }
        if let Some(Content::Blob(blob)) = freed.map(|attached| attached.file.content) {
            disk.remove_blob(&blob);
        }
        self.compact_if_due(disk);
        Ok(())
    }

    /// Compaction: when the journal has grown past twice the live data, the state goes into a
    /// snapshot and a fresh journal starts. The writer that notices does it, after its own
    /// change is durable.
    fn compact_if_due(&self, disk: &Disk) {
        let live_bytes = self.lock().live_bytes;
        if !disk.start_compaction(live_bytes) {
            return;
        }
        // Under the lock only: make the journal durable, switch files, copy the state.
        let switched = {
            let state = self.lock();
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

    /// Creates a task and returns it with its new id.
    ///
    /// # Errors
    /// `TitleTaken` when another task has the title; no id is consumed then. `Storage`.
    pub fn create(&self, new: NewTask) -> Result<Task, StoreError> {
        let mut state = self.lock_for_change()?;
        let id = state.next_id;
        let (ticket, _) = self.record(&mut state, Change::Create { id, new })?;
        let task = state.task(id);
        drop(state);
        self.settle(ticket, None)?;
        Ok(task)
    }

    /// The task with this id.
    pub fn get(&self, id: u64) -> Option<Task> {
        self.lock().tasks.get(&id).map(|entry| entry.to_task(id))
    }

    /// Tasks in id order, filtered, then skipped, then limited.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn list(&self, query: &ListQuery) -> Vec<Task> {
        self.lock().list(query)
    }

    /// Applies a validated patch and returns the whole task.
    ///
    /// # Errors
    /// `NoSuchTask`, then `TitleTaken` when the new title belongs to another task; `Storage`.
    pub fn update(&self, id: u64, patch: TaskPatch) -> Result<Task, StoreError> {
        self.update_if(id, patch, None)
    }

    /// Deletes a task with its attachment; its title becomes free.
    ///
    /// # Errors
    /// `NoSuchTask`; `Storage`.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn delete(&self, id: u64) -> Result<(), StoreError> {
        self.delete_if(id, None)
    }

    /// Whether a task with this id exists.
    pub fn contains(&self, id: u64) -> bool {
        self.lock().tasks.contains_key(&id)
    }

    /// Sets (or replaces) a task's attachment and returns the task. Its digest is computed on
    /// first use; [`Store::attach_digested`] takes the one computed while it was received.
    ///
    /// # Errors
    /// `NoSuchTask`; `Storage`.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn attach(&self, id: u64, file: StoredFile) -> Result<Task, StoreError> {
        self.attach_stamped(id, file, DigestCell::default(), None)
    }

    /// Sets an attachment stamped with the time now, under the lock, so that of two uploads
    /// the one applied last has the later (or the same) `Last-Modified`.
    fn attach_stamped(
        &self,
        id: u64,
        file: StoredFile,
        digest: DigestCell,
        expected: Option<Revision>,
    ) -> Result<Task, StoreError> {
        let mut state = self.lock_for_change()?;
        state.check_revision(id, expected)?;
        let file = Attached {
            file,
            stored_at: Some(whole_seconds(SystemTime::now())),
            digest,
        };
        let (ticket, replaced) = self.record(&mut state, Change::Attach { id, file })?;
        let task = state.task(id);
        drop(state);
        self.settle(ticket, replaced)?;
        Ok(task)
    }

    /// The task's attachment, ready to send (its blob opened under the lock).
    ///
    /// # Errors
    /// `NoSuchTask`, `NoAttachment`; `Storage` when its blob cannot be opened.
    pub fn attachment(&self, id: u64) -> Result<Download, StoreError> {
        let state = self.lock();
        self.open_attachment(&state, id)?
            .ok_or(StoreError::NoAttachment)
    }

    /// The attachment of task `id`, if any, with its blob opened (durable mode).
    fn open_attachment(&self, state: &State, id: u64) -> Result<Option<Download>, StoreError> {
        let entry = state.tasks.get(&id).ok_or(StoreError::NoSuchTask)?;
        let Some(attached) = entry.file.clone() else {
            return Ok(None);
        };
        let opened = match (&self.disk, &attached.file.content) {
            (Some(disk), Content::Blob(blob)) => Some(disk.open_blob(blob).map_err(|error| {
                StoreError::Storage(format!("cannot open blob {}: {error}", blob.name))
            })?),
            _ => None,
        };
        Ok(Some(Download::new(attached, opened)))
    }

    /// Test hook for [`crate::Config::fault_injection`]: panics while holding the lock, which
    /// poisons it, to show that the store stays usable afterwards.
    #[doc(hidden)]
    pub fn panic_while_locked(&self) {
        let _guard = self.lock();
        panic!("fault injection: panic while holding the store lock");
    }

    /// Removes a task's attachment.
    ///
    /// # Errors
    /// `NoSuchTask`, `NoAttachment`; `Storage`.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn detach(&self, id: u64) -> Result<(), StoreError> {
        self.detach_if(id, None)
    }
}

#[cfg(test)]
mod tests;
