//! The in-memory task store: one `Mutex` around tasks ordered by id, a title index for the
//! duplicate check, and the id counter. No HTTP types and no I/O.
//!
//! Every method validates nothing and allocates little while it holds the lock, and makes its
//! change in one step after all checks have passed. A panic can therefore never leave the state
//! half-changed, which is why recovering a poisoned lock with `PoisonError::into_inner` is sound:
//! the poison flag only says that *some* thread panicked while holding the guard, and no method
//! here can panic between two related writes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use crate::model::{AttachmentInfo, NewTask, Priority, Task, TaskPatch};

mod positions;
use positions::Positions;

/// An attachment as stored: its bytes and what is needed to send them back.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    /// The filename after path stripping.
    pub filename: String,
    /// The part's `Content-Type` exactly as sent, `None` when the part had none.
    pub content_type: Option<String>,
    /// The content; `Bytes` so a download shares it instead of copying it.
    pub bytes: Bytes,
}

impl StoredFile {
    fn info(&self) -> AttachmentInfo {
        AttachmentInfo {
            filename: self.filename.clone(),
            size: self.bytes.len() as u64,
        }
    }
}

/// Why a change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// No task has that id.
    NoSuchTask,
    /// Another task already has that title.
    TitleTaken,
    /// The task has no attachment.
    NoAttachment,
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
}

#[derive(Debug)]
struct State {
    /// Tasks by id; a `BTreeMap` so the list comes out in id order without sorting.
    tasks: BTreeMap<u64, Record>,
    /// Title → id, so the duplicate check is a hash look-up instead of a scan.
    ids_by_title: HashMap<String, u64>,
    /// The next id to hand out; only ever grows, so ids are never reused.
    next_id: u64,
    /// Which ids are present, so an unfiltered `skip` is O(log n); kept in step with `tasks`.
    positions: Positions,
}

impl Default for State {
    fn default() -> State {
        State {
            tasks: BTreeMap::new(),
            ids_by_title: HashMap::new(),
            next_id: 1,
            positions: Positions::default(),
        }
    }
}

impl State {
    /// An unfiltered page: the `skip`-th task is found through `positions` in O(log n), then
    /// the map's range yields `limit` tasks, so a deep page costs O(log n + limit).
    fn page(&self, skip: u64, limit: usize) -> Vec<Task> {
        debug_assert_eq!(self.positions.len(), self.tasks.len() as u64);
        let Some(first) = self.positions.select(skip) else {
            return Vec::new();
        };
        let page = self.tasks.range(first..).take(limit);
        page.map(|(id, record)| record.to_task(*id)).collect()
    }
}

#[derive(Debug, Clone)]
struct Record {
    title: String,
    priority: Priority,
    done: bool,
    file: Option<StoredFile>,
}

impl Record {
    fn to_task(&self, id: u64) -> Task {
        Task {
            id,
            title: self.title.clone(),
            priority: self.priority,
            done: self.done,
            attachment: self.file.as_ref().map(StoredFile::info),
        }
    }
}

impl Store {
    /// An empty store whose first id is 1.
    pub fn new() -> Store {
        Store::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Sound: see the module doc.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates a task and returns it with its new id.
    ///
    /// # Errors
    /// `TitleTaken` when another task has the title; no id is consumed then.
    pub fn create(&self, new: NewTask) -> Result<Task, StoreError> {
        let mut state = self.lock();
        if state.ids_by_title.contains_key(&new.title) {
            return Err(StoreError::TitleTaken);
        }
        let id = state.next_id;
        state.next_id += 1;
        state.ids_by_title.insert(new.title.clone(), id);
        let record = Record {
            title: new.title,
            priority: new.priority,
            done: new.done,
            file: None,
        };
        let task = record.to_task(id);
        state.tasks.insert(id, record);
        state.positions.insert(id);
        Ok(task)
    }

    /// The task with this id.
    pub fn get(&self, id: u64) -> Option<Task> {
        self.lock().tasks.get(&id).map(|record| record.to_task(id))
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
            .map(|(id, record)| record.to_task(*id))
            .collect()
    }

    /// Applies a validated patch and returns the whole task.
    ///
    /// # Errors
    /// `NoSuchTask`, then `TitleTaken` when the new title belongs to another task.
    pub fn update(&self, id: u64, patch: TaskPatch) -> Result<Task, StoreError> {
        let mut state = self.lock();
        let old_title = match state.tasks.get(&id) {
            None => return Err(StoreError::NoSuchTask),
            Some(record) => record.title.clone(),
        };
        if let Some(title) = &patch.title {
            if state
                .ids_by_title
                .get(title)
                .is_some_and(|&owner| owner != id)
            {
                return Err(StoreError::TitleTaken);
            }
            state.ids_by_title.remove(&old_title);
            state.ids_by_title.insert(title.clone(), id);
        }
        let record = state.tasks.get_mut(&id).expect("checked above");
        if let Some(title) = patch.title {
            record.title = title;
        }
        record.priority = patch.priority.unwrap_or(record.priority);
        record.done = patch.done.unwrap_or(record.done);
        Ok(record.to_task(id))
    }

    /// Deletes a task with its attachment; its title becomes free.
    ///
    /// # Errors
    /// `NoSuchTask`.
    pub fn delete(&self, id: u64) -> Result<(), StoreError> {
        let mut state = self.lock();
        let record = state.tasks.remove(&id).ok_or(StoreError::NoSuchTask)?;
        state.ids_by_title.remove(&record.title);
        state.positions.remove(id);
        // Free the attachment (possibly many MiB) after unlocking, not under the lock.
        drop(state);
        drop(record);
        Ok(())
    }

    /// Whether a task with this id exists.
    pub fn contains(&self, id: u64) -> bool {
        self.lock().tasks.contains_key(&id)
    }

    /// Sets (or replaces) a task's attachment and returns the task.
    ///
    /// # Errors
    /// `NoSuchTask`.
    pub fn attach(&self, id: u64, file: StoredFile) -> Result<Task, StoreError> {
        let mut state = self.lock();
        let record = state.tasks.get_mut(&id).ok_or(StoreError::NoSuchTask)?;
        let replaced = record.file.replace(file);
        let task = record.to_task(id);
        // Free the replaced attachment after unlocking, not under the lock.
        drop(state);
        drop(replaced);
        Ok(task)
    }

    /// The task's attachment (sharing its bytes).
    ///
    /// # Errors
    /// `NoSuchTask`, `NoAttachment`.
    pub fn attachment(&self, id: u64) -> Result<StoredFile, StoreError> {
        let state = self.lock();
        let record = state.tasks.get(&id).ok_or(StoreError::NoSuchTask)?;
        record.file.clone().ok_or(StoreError::NoAttachment)
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
    /// `NoSuchTask`, `NoAttachment`.
    pub fn detach(&self, id: u64) -> Result<(), StoreError> {
        let mut state = self.lock();
        let record = state.tasks.get_mut(&id).ok_or(StoreError::NoSuchTask)?;
        let removed = record.file.take().ok_or(StoreError::NoAttachment)?;
        // Free the attachment after unlocking, not under the lock.
        drop(state);
        drop(removed);
        Ok(())
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
