//! What the validators of CONTRACT §11 need from the store: the list's total in O(1), a task's
//! or attachment's state with its [`Revision`], and changes made only if that revision is still
//! current, so preconditions checked outside the lock hold when the change is made.
//!
//! A conditional request goes: read the state and its revision (`get_revision`,
//! `attachment_revision`), evaluate the preconditions on it (computing a tag, maybe reading a
//! blob, all outside the lock), read the body, then `*_if(.., Some(revision))`. On
//! `StoreError::Changed` another change came in between: read again and evaluate again.

use super::attachment::DigestCell;
use super::state::Change;
use super::{AttachedTask, Download, ListPage, ListQuery, Revision, Store, StoreError, StoredFile};
#[cfg(test)]
use crate::model::Priority;
use crate::model::{Task, TaskPatch};
use crate::validators::{Digest, EntityTag};

impl Store {
    /// Tasks matching the filters (`None`: any value), from counters: O(1) (`X-Total-Count`).
    #[cfg(test)]
    pub fn count(&self, done: Option<bool>, priority: Option<Priority>) -> u64 {
        self.lock().counts.matching(done, priority)
    }

    /// [`Store::list`] and the number of matches before `skip` and `limit`, from one moment.
    pub fn list_page(&self, query: &ListQuery) -> ListPage {
        let state = self.lock();
        let total = state.counts.matching(query.done, query.priority);
        ListPage {
            tasks: state.list(query),
            total,
        }
    }

    /// The task with this id and its revision.
    pub fn get_revision(&self, id: u64) -> Option<(Task, Revision)> {
        let state = self.lock();
        let revision = state.revision(id)?;
        Some((state.task(id), revision))
    }

    /// The task's attachment (`None` when it has none) and the task's revision: what an upload
    /// or a delete checks `If-Match` / `If-None-Match` against.
    ///
    /// # Errors
    /// `NoSuchTask`; `Storage` when the blob cannot be opened.
    pub fn attachment_revision(&self, id: u64) -> Result<(Option<Download>, Revision), StoreError> {
        let state = self.lock();
        let download = self.open_attachment(&state, id)?;
        let revision = state.revision(id).ok_or(StoreError::NoSuchTask)?;
        Ok((download, revision))
    }

    /// [`Store::update`], only if the task is still at `expected` (when given).
    ///
    /// # Errors
    /// `NoSuchTask`, `Changed`, `TitleTaken`; `Storage`.
    pub fn update_if(
        &self,
        id: u64,
        patch: TaskPatch,
        expected: Option<Revision>,
    ) -> Result<Task, StoreError> {
        let mut state = self.lock_for_change()?;
        state.check_revision(id, expected)?;
        let (ticket, _) = self.record(&mut state, Change::Patch { id, patch })?;
        let task = state.task(id);
        drop(state);
        self.settle(ticket, None)?;
        Ok(task)
    }

    /// [`Store::delete`], only if the task is still at `expected` (when given).
    ///
    /// # Errors
    /// `NoSuchTask`, `Changed`; `Storage`.
    pub fn delete_if(&self, id: u64, expected: Option<Revision>) -> Result<(), StoreError> {
        let mut state = self.lock_for_change()?;
        state.check_revision(id, expected)?;
        let (ticket, freed) = self.record(&mut state, Change::Delete { id })?;
        drop(state);
        self.settle(ticket, freed)
    }

    /// [`Store::detach`], only if the task is still at `expected` (when given).
    ///
    /// # Errors
    /// `NoSuchTask`, `Changed`, `NoAttachment`; `Storage`.
    pub fn detach_if(&self, id: u64, expected: Option<Revision>) -> Result<(), StoreError> {
        let mut state = self.lock_for_change()?;
        state.check_revision(id, expected)?;
        let (ticket, removed) = self.record(&mut state, Change::Detach { id })?;
        drop(state);
        self.settle(ticket, removed)
    }

    /// Sets (or replaces) a task's attachment whose `digest` was computed while it was received
    /// (`upload::Hashing`), only if the task is still at `expected` (when given); stamps it
    /// with the time now. Returns the task and the attachment's new `ETag`.
    ///
    /// # Errors
    /// `NoSuchTask`, `Changed`; `Storage`.
    pub fn attach_digested(
        &self,
        id: u64,
        file: StoredFile,
        digest: Digest,
        expected: Option<Revision>,
    ) -> Result<AttachedTask, StoreError> {
        let content_type = file.content_type.as_deref().unwrap_or("text/plain");
        let etag = EntityTag::for_attachment(digest, file.size(), content_type, &file.filename);
        let task = self.attach_stamped(id, file, DigestCell::known(digest), expected)?;
        Ok(AttachedTask { task, etag })
    }
}
