//! [`Storage`] for the shared state, whatever its backing, and what CONTRACT §11 needs from
//! that state: the list's total in O(1) from the same lock as its page, a task's or
//! attachment's state with its [`Revision`], and changes made only if that revision is still
//! current.
//!
//! A guarded change goes: read the state and its revision (`get_revision`,
//! `attachment_revision`), check the [`Guard`] on it (computing a tag, maybe reading a whole
//! blob, all outside the lock), then `*_if(.., Some(revision))`. On `StoreError::Changed`
//! another change came in between: read again and check again. A guard that is inert skips
//! the read: the change is then unconditional, as before preconditions existed.

use super::state::Change;
use super::{Backing, Download, Revision, StoreError, StoredFile, Tasks};
use crate::model::{NewTask, Task, TaskPatch};
use crate::storage::{
    AttachedTask, Guard, ListPage, ListQuery, Spool, Storage, StorageError, Upload, Verdict,
};
use crate::validators::EntityTag;

impl<B: Backing> Tasks<B> {
    /// Tasks matching the filters (`None`: any value), from counters: O(1) (`X-Total-Count`).
    #[cfg(test)]
    pub fn count(&self, done: Option<bool>, priority: Option<crate::model::Priority>) -> u64 {
        self.lock().counts.matching(done, priority)
    }

    /// A page of tasks in id order, filtered, then skipped, then limited, and the number of
    /// matches before `skip` and `limit`, from one lock.
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

    /// [`Tasks::update`], only if the task is still at `expected` (when given).
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
        self.backing.settle(self, ticket, None)?;
        Ok(task)
    }

    /// [`Tasks::delete`], only if the task is still at `expected` (when given).
    ///
    /// # Errors
    /// `NoSuchTask`, `Changed`; `Storage`.
    pub fn delete_if(&self, id: u64, expected: Option<Revision>) -> Result<(), StoreError> {
        let mut state = self.lock_for_change()?;
        state.check_revision(id, expected)?;
        let (ticket, freed) = self.record(&mut state, Change::Delete { id })?;
        drop(state);
        self.backing.settle(self, ticket, freed)
    }

    /// [`Tasks::detach`], only if the task is still at `expected` (when given).
    ///
    /// # Errors
    /// `NoSuchTask`, `Changed`, `NoAttachment`; `Storage`.
    pub fn detach_if(&self, id: u64, expected: Option<Revision>) -> Result<(), StoreError> {
        let mut state = self.lock_for_change()?;
        state.check_revision(id, expected)?;
        let (ticket, removed) = self.record(&mut state, Change::Detach { id })?;
        drop(state);
        self.backing.settle(self, ticket, removed)
    }
}

/// The shared state's refusal as a storage error about task `id`. `Changed` never gets here:
/// the guarded loops below retry it.
fn refused(id: u64, error: StoreError) -> StorageError {
    match error {
        StoreError::NoSuchTask => StorageError::NotFound { id },
        StoreError::NoAttachment => StorageError::NoAttachment { id },
        StoreError::TitleTaken => StorageError::TitleTaken,
        StoreError::Storage(reason) => StorageError::Internal(reason),
        StoreError::Changed => StorageError::Internal(format!("task {id} kept changing")),
    }
}

/// 412 unless the verdict holds.
fn holds(verdict: Verdict) -> Result<(), StorageError> {
    match verdict {
        Verdict::Holds => Ok(()),
        Verdict::Fails => Err(StorageError::PreconditionFailed),
    }
}

impl<B: Backing> Tasks<B> {
    /// The revision a guarded change of task `id` must still find, after checking `guard`
    /// against the task's tag; `None` for an inert guard.
    fn task_guard(&self, id: u64, guard: &Guard) -> Result<Option<Revision>, StorageError> {
        if guard.is_inert() {
            return Ok(None);
        }
        let (task, revision) = self.get_revision(id).ok_or(StorageError::NotFound { id })?;
        let (_, tag) = EntityTag::of_task(&task);
        holds(guard.check(Some(&tag), None))?;
        Ok(Some(revision))
    }

    /// As [`Tasks::task_guard`], against the attachment's tag and `Last-Modified` (none when
    /// the task has none; `attachment_needed` makes that `NoAttachment`, whatever the guard).
    fn attachment_guard(
        &self,
        id: u64,
        guard: &Guard,
        attachment_needed: bool,
    ) -> Result<Option<Revision>, StorageError> {
        if guard.is_inert() {
            return Ok(None);
        }
        let (download, revision) = self
            .attachment_revision(id)
            .map_err(|error| refused(id, error))?;
        let verdict = match download {
            None if attachment_needed => return Err(StorageError::NoAttachment { id }),
            None => guard.check(None, None),
            Some(download) => {
                let tag = download.etag()?;
                guard.check(Some(&tag), Some(download.last_modified()?))
            }
        };
        holds(verdict)?;
        Ok(Some(revision))
    }

    /// Stores a kept upload as task `id`'s attachment while `guard` holds.
    fn attach_guarded(
        &self,
        id: u64,
        stored: &StoredFile,
        upload_digest: crate::validators::Digest,
        guard: &Guard,
    ) -> Result<Task, StorageError> {
        loop {
            let expected = self.attachment_guard(id, guard, false)?;
            match self.attach_digested(id, stored.clone(), upload_digest, expected) {
                Err(StoreError::Changed) => continue,
                result => return result.map_err(|error| refused(id, error)),
            }
        }
    }
}

impl<B: Backing> Storage for Tasks<B> {
    fn create(&self, new: NewTask) -> Result<Task, StorageError> {
        Tasks::create(self, new).map_err(|error| refused(0, error))
    }

    fn task(&self, id: u64) -> Result<Task, StorageError> {
        self.get(id).ok_or(StorageError::NotFound { id })
    }

    fn contains(&self, id: u64) -> Result<bool, StorageError> {
        Ok(self.lock().tasks.contains_key(&id))
    }

    fn list(&self, query: &ListQuery) -> Result<ListPage, StorageError> {
        Ok(self.list_page(query))
    }

    fn update(&self, id: u64, patch: TaskPatch, guard: &Guard) -> Result<Task, StorageError> {
        loop {
            let expected = self.task_guard(id, guard)?;
            match self.update_if(id, patch.clone(), expected) {
                // Another change came in since the check: check again on what is there now.
                Err(StoreError::Changed) => continue,
                result => return result.map_err(|error| refused(id, error)),
            }
        }
    }

    fn delete(&self, id: u64, guard: &Guard) -> Result<(), StorageError> {
        loop {
            let expected = self.task_guard(id, guard)?;
            match self.delete_if(id, expected) {
                Err(StoreError::Changed) => continue,
                result => return result.map_err(|error| refused(id, error)),
            }
        }
    }

    fn attachment(&self, id: u64) -> Result<Download, StorageError> {
        Tasks::attachment(self, id).map_err(|error| refused(id, error))
    }

    fn spool(&self) -> &dyn Spool {
        self.backing.spool()
    }

    fn attach(&self, id: u64, upload: Upload, guard: &Guard) -> Result<AttachedTask, StorageError> {
        let content = self
            .backing
            .keep(upload.data)
            .map_err(|error| refused(id, error))?;
        let stored = StoredFile {
            filename: upload.filename,
            content_type: upload.content_type,
            content,
        };
        let content_type = stored.content_type.as_deref().unwrap_or("text/plain");
        let etag =
            EntityTag::for_attachment(upload.digest, stored.size(), content_type, &stored.filename);
        match self.attach_guarded(id, &stored, upload.digest, guard) {
            Ok(task) => Ok(AttachedTask { task, etag }),
            // The backing could not keep the change: the reloaded state may refer to the bytes.
            Err(error @ StorageError::Internal(_)) => Err(error),
            Err(error) => {
                // Nothing refers to them: the task was deleted, or the guard now fails.
                self.backing.discard(&stored.content);
                Err(error)
            }
        }
    }

    fn detach(&self, id: u64, guard: &Guard) -> Result<(), StorageError> {
        loop {
            let expected = self.attachment_guard(id, guard, true)?;
            match self.detach_if(id, expected) {
                Err(StoreError::Changed) => continue,
                result => return result.map_err(|error| refused(id, error)),
            }
        }
    }

    #[cfg(feature = "test-hooks")]
    fn panic_while_locked(&self) {
        let _guard = self.lock();
        panic!("fault injection: panic while holding the store lock");
    }
}

#[cfg(test)]
#[path = "guarded_tests.rs"]
mod tests;
