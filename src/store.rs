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

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use crate::durable::{self, Blob, Disk, Spool, StorageHooks, Ticket};
use crate::model::{AttachmentInfo, NewTask, Priority, Task, TaskPatch};

mod positions;
mod state;
use state::{snapshot_records, Change, State};

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
    fn size(&self) -> u64 {
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

/// An attachment ready to be sent: its details and its bytes.
#[derive(Debug)]
pub struct Download {
    /// The stored attachment.
    pub file: StoredFile,
    /// In durable mode, the blob, opened while it was current, so a concurrent replace or
    /// delete cannot take it away mid-download (an open file outlives its removal).
    pub opened: Option<File>,
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
            let mut fresh = State::default();
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
    ) -> Result<(Option<Ticket>, Option<StoredFile>), StoreError> {
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
    fn settle(&self, ticket: Option<Ticket>, freed: Option<StoredFile>) -> Result<(), StoreError> {
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
        if let Some(StoredFile {
            content: Content::Blob(blob),
            ..
        }) = freed
        {
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
            eprintln!("taskd: compaction failed, the journals are kept: {reason}");
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
    pub fn list(&self, query: &ListQuery) -> Vec<Task> {
        let state = self.lock();
        if query.done.is_none() && query.priority.is_none() {
            return state.page(query.skip, query.limit);
        }
        // With a filter, the k-th *match* is not indexed: walk the map (O(n) at worst).
        let skip = usize::try_from(query.skip).unwrap_or(usize::MAX);
        state
            .tasks
            .iter()
            .filter(|(_, r)| query.done.is_none_or(|done| r.done == done))
            .filter(|(_, r)| query.priority.is_none_or(|p| r.priority == p))
            .skip(skip)
            .take(query.limit)
            .map(|(id, entry)| entry.to_task(*id))
            .collect()
    }

    /// Applies a validated patch and returns the whole task.
    ///
    /// # Errors
    /// `NoSuchTask`, then `TitleTaken` when the new title belongs to another task; `Storage`.
    pub fn update(&self, id: u64, patch: TaskPatch) -> Result<Task, StoreError> {
        let mut state = self.lock_for_change()?;
        let (ticket, _) = self.record(&mut state, Change::Patch { id, patch })?;
        let task = state.task(id);
        drop(state);
        self.settle(ticket, None)?;
        Ok(task)
    }

    /// Deletes a task with its attachment; its title becomes free.
    ///
    /// # Errors
    /// `NoSuchTask`; `Storage`.
    pub fn delete(&self, id: u64) -> Result<(), StoreError> {
        let mut state = self.lock_for_change()?;
        let (ticket, freed) = self.record(&mut state, Change::Delete { id })?;
        drop(state);
        self.settle(ticket, freed)
    }

    /// Whether a task with this id exists.
    pub fn contains(&self, id: u64) -> bool {
        self.lock().tasks.contains_key(&id)
    }

    /// Sets (or replaces) a task's attachment and returns the task.
    ///
    /// # Errors
    /// `NoSuchTask`; `Storage`.
    pub fn attach(&self, id: u64, file: StoredFile) -> Result<Task, StoreError> {
        let mut state = self.lock_for_change()?;
        let (ticket, replaced) = self.record(&mut state, Change::Attach { id, file })?;
        let task = state.task(id);
        drop(state);
        self.settle(ticket, replaced)?;
        Ok(task)
    }

    /// The task's attachment, ready to send.
    ///
    /// # Errors
    /// `NoSuchTask`, `NoAttachment`; `Storage` when its blob cannot be opened.
    pub fn attachment(&self, id: u64) -> Result<Download, StoreError> {
        let state = self.lock();
        let entry = state.tasks.get(&id).ok_or(StoreError::NoSuchTask)?;
        let file = entry.file.clone().ok_or(StoreError::NoAttachment)?;
        let opened = match (&self.disk, &file.content) {
            (Some(disk), Content::Blob(blob)) => Some(disk.open_blob(blob).map_err(|error| {
                StoreError::Storage(format!("cannot open blob {}: {error}", blob.name))
            })?),
            _ => None,
        };
        Ok(Download { file, opened })
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
    pub fn detach(&self, id: u64) -> Result<(), StoreError> {
        let mut state = self.lock_for_change()?;
        let (ticket, removed) = self.record(&mut state, Change::Detach { id })?;
        drop(state);
        self.settle(ticket, removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_task(title: &str) -> NewTask {
        NewTask {
            title: title.to_owned(),
            priority: Priority::Medium,
            done: false,
        }
    }

    #[test]
    fn ids_are_never_reused_after_delete() {
        let store = Store::new();
        let first = store.create(new_task("a")).unwrap();
        store.delete(first.id).unwrap();
        assert_eq!(store.create(new_task("a")).unwrap().id, first.id + 1);
    }

    #[test]
    fn a_refused_create_consumes_no_id() {
        let store = Store::new();
        store.create(new_task("a")).unwrap();
        assert_eq!(store.create(new_task("a")), Err(StoreError::TitleTaken));
        assert_eq!(store.create(new_task("b")).unwrap().id, 2);
    }

    #[test]
    fn renaming_frees_the_old_title_and_keeps_own_title() {
        let store = Store::new();
        let task = store.create(new_task("a")).unwrap();
        let same = TaskPatch {
            title: Some("a".into()),
            ..TaskPatch::default()
        };
        assert!(store.update(task.id, same).is_ok());
        let renamed = TaskPatch {
            title: Some("b".into()),
            ..TaskPatch::default()
        };
        store.update(task.id, renamed).unwrap();
        assert!(store.create(new_task("a")).is_ok());
        assert_eq!(store.create(new_task("b")), Err(StoreError::TitleTaken));
    }

    #[test]
    fn list_filters_then_skips_then_limits() {
        let store = Store::new();
        for (title, done) in [("a", true), ("b", false), ("c", true), ("d", true)] {
            let mut task = new_task(title);
            task.done = done;
            store.create(task).unwrap();
        }
        let query = ListQuery {
            done: Some(true),
            priority: None,
            skip: 1,
            limit: 1,
        };
        let titles: Vec<_> = store.list(&query).into_iter().map(|t| t.title).collect();
        assert_eq!(titles, ["c"]);
    }

    #[test]
    fn store_stays_usable_after_a_panic_while_locked() {
        let store = std::sync::Arc::new(Store::new());
        let clone = store.clone();
        let result = std::thread::spawn(move || {
            let _guard = clone.lock();
            panic!("simulated panic while holding the lock");
        })
        .join();
        assert!(result.is_err());
        assert!(store.create(new_task("still works")).is_ok());
    }
}
