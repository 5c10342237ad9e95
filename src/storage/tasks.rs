//! What the memory and durable backends share: [`Tasks`], one `Mutex` around tasks ordered by
//! id, a title index for the duplicate check, the counts per `done` × `priority`, the
//! revisions and the id counter, plus a [`Backing`] that says where changes and attachment
//! bytes go (nowhere else in memory; the journal and `blobs/` in durable mode). No HTTP types.
//!
//! Every mutation is a `Change` value: checked, then handed to the backing (which journals it
//! in durable mode), then applied, all under the lock, so a journal's order is the order of the
//! changes, and replaying a journal at start runs the very same `apply`. The backing's
//! `settle` runs after unlocking (the fsync of group commit, see `durable::journal`); only then
//! does the caller answer. The lock guards no file I/O but that append (into a memory buffer)
//! and, for a download, opening the blob (so a concurrent replace cannot remove it first).
//!
//! `apply` checks everything before it writes anything, so a panic can never leave the state
//! half-changed, which is why recovering a poisoned lock with `PoisonError::into_inner` is sound:
//! the poison flag only says that *some* thread panicked while holding the guard, and no method
//! here can panic between two related writes.
//!
//! For CONTRACT §11 the state also keeps each attachment's stored time and digest
//! (`attachment`), and a revision per task that guarded changes compare and set (`guarded`,
//! which also implements [`super::Storage`] for every `Tasks`). Nothing is hashed under the
//! lock: a digest comes with the upload, or the first download that needs it computes it.

use std::fmt;
use std::fs::File;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;

use super::{Spool, Spooled};
use crate::model::{AttachmentInfo, NewTask, Task};
use crate::validators::{whole_seconds, Digest};

mod attachment;
mod counts;
mod guarded;
mod positions;
pub(crate) mod records;
pub(crate) mod state;
pub use attachment::Download;
pub(crate) use attachment::{Attached, DigestCell};
use state::{Change, State};

/// Where the changes of a [`Tasks`] and its attachments' bytes go: what makes one backend
/// differ from another that keeps the same state in memory.
pub(crate) trait Backing: Send + Sync + fmt::Debug + Sized {
    /// What `append` hands back for `settle` to wait on.
    type Ticket;

    /// Under the lock, before a change: a backing that failed may restore `state` from what it
    /// holds.
    ///
    /// # Errors
    /// `Storage` when it cannot.
    fn before_change(&self, state: &mut State) -> Result<(), StoreError>;

    /// Under the lock: records a checked change before it is applied.
    ///
    /// # Errors
    /// `Storage`.
    fn append(&self, change: &Change) -> Result<Self::Ticket, StoreError>;

    /// After unlocking: waits until the change is kept, then frees what it replaced.
    ///
    /// # Errors
    /// `Storage`: the change was not kept (and is undone).
    fn settle(
        &self,
        tasks: &Tasks<Self>,
        ticket: Self::Ticket,
        freed: Option<Attached>,
    ) -> Result<(), StoreError>;

    /// Under the lock: opens what an attachment's download reads, if it is a file.
    ///
    /// # Errors
    /// `Storage`.
    fn open(&self, content: &Content) -> Result<Option<File>, StoreError>;

    /// Where uploads are received.
    fn spool(&self) -> &dyn Spool;

    /// Moves a received upload to where attachments are kept.
    ///
    /// # Errors
    /// `Storage`.
    fn keep(&self, upload: Spooled) -> Result<Content, StoreError>;

    /// Removes kept bytes that no change refers to (a refused attach).
    fn discard(&self, content: &Content);
}

/// An attachment as stored: where its bytes are and what is needed to send them back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredFile {
    /// The filename after path stripping.
    pub(crate) filename: String,
    /// The part's `Content-Type` exactly as sent, `None` when the part had none.
    pub(crate) content_type: Option<String>,
    /// The bytes.
    pub(crate) content: Content,
}

/// Where a stored attachment's bytes are (a download opens them as a
/// [`super::BodySource`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Content {
    /// In memory; `Bytes` so a download shares them instead of copying them.
    Memory(Bytes),
    /// In a file under `DIR/blobs/` (durable mode).
    Blob(super::durable::Blob),
    /// Elsewhere, read as it is sent: a database's chunks (CONTRACT §14). Only downloads hold
    /// this kind; the shared state never keeps it.
    Source(super::BodySource),
}

impl StoredFile {
    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        match &self.content {
            Content::Memory(bytes) => bytes.len() as u64,
            Content::Blob(blob) => blob.size,
            Content::Source(source) => source.len(),
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

/// Why a change was refused, inside the shared state; [`super::StorageError`] outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// No task has that id.
    NoSuchTask,
    /// Another task already has that title.
    TitleTaken,
    /// The task has no attachment.
    NoAttachment,
    /// The backing could not keep the change (500); the reason is for the log.
    Storage(String),
    /// The task or its attachment changed since the [`Revision`] the caller checked its
    /// preconditions against: check them again on the new state (nothing was changed).
    Changed,
}

/// Which version of a task and its attachment a caller looked at. A guarded change checks its
/// guard outside the lock (computing a tag may read a whole blob), then makes its change only
/// if the task is still at this revision, so two clients holding the same `ETag` cannot both
/// pass `If-Match` and overwrite each other (the lost update of RFC 9110 §13.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Revision(u64);

/// The shared state of the memory and durable backends. Cheap to lock; every method holds the
/// lock briefly.
#[derive(Debug)]
pub(crate) struct Tasks<B> {
    state: Mutex<State>,
    backing: B,
}

impl<B: Backing> Tasks<B> {
    /// An empty state kept by `backing`.
    pub(crate) fn new(backing: B) -> Tasks<B> {
        Tasks::with_state(State::default(), backing)
    }

    /// A state read back by `backing`.
    pub(crate) fn with_state(state: State, backing: B) -> Tasks<B> {
        Tasks {
            state: Mutex::new(state),
            backing,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Sound: see the module doc.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock, for a change, after the backing's `before_change`.
    pub(crate) fn lock_for_change(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let mut state = self.lock();
        self.backing.before_change(&mut state)?;
        Ok(state)
    }

    /// Checks `change`, hands it to the backing and applies it, under the lock.
    fn record(
        &self,
        state: &mut State,
        change: Change,
    ) -> Result<(B::Ticket, Option<Attached>), StoreError> {
        state.check(&change)?;
        let ticket = self.backing.append(&change)?;
        let freed = state
            .apply(change)
            .expect("checked above, under the same lock");
        Ok((ticket, freed))
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
        self.backing.settle(self, ticket, None)?;
        Ok(task)
    }

    /// The task with this id.
    pub fn get(&self, id: u64) -> Option<Task> {
        self.lock().tasks.get(&id).map(|entry| entry.to_task(id))
    }

    /// Applies a validated patch and returns the whole task.
    ///
    /// # Errors
    /// `NoSuchTask`, then `TitleTaken` when the new title belongs to another task; `Storage`.
    #[cfg(test)]
    pub fn update(&self, id: u64, patch: crate::model::TaskPatch) -> Result<Task, StoreError> {
        self.update_if(id, patch, None)
    }

    /// Deletes a task with its attachment; its title becomes free.
    ///
    /// # Errors
    /// `NoSuchTask`; `Storage`.
    #[cfg(test)]
    pub fn delete(&self, id: u64) -> Result<(), StoreError> {
        self.delete_if(id, None)
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
        self.backing.settle(self, ticket, replaced)?;
        Ok(task)
    }

    /// Sets (or replaces) a task's attachment whose digest is computed on first use.
    ///
    /// # Errors
    /// `NoSuchTask`; `Storage`.
    #[cfg(test)]
    pub fn attach(&self, id: u64, file: StoredFile) -> Result<Task, StoreError> {
        self.attach_stamped(id, file, DigestCell::default(), None)
    }

    /// Sets (or replaces) a task's attachment whose `digest` was computed while it was
    /// received, only if the task is still at `expected` (when given).
    ///
    /// # Errors
    /// `NoSuchTask`, `Changed`; `Storage`.
    pub fn attach_digested(
        &self,
        id: u64,
        file: StoredFile,
        digest: Digest,
        expected: Option<Revision>,
    ) -> Result<Task, StoreError> {
        self.attach_stamped(id, file, DigestCell::known(digest), expected)
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
        let opened = self.backing.open(&attached.file.content)?;
        Ok(Some(Download::new(attached, opened)))
    }
}

#[cfg(test)]
mod tests;
