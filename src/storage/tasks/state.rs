//! The state behind the store's lock, and the one way it changes: a `Change` value, checked
//! in full and then applied in one step by `State::apply`, whether it comes from a request, a
//! journal replay or a snapshot (`records` turns changes into records and back).

use std::collections::{BTreeMap, HashMap};

use super::attachment::Attached;
use super::counts::Counts;
use super::positions::Positions;
use super::{Content, Revision, StoreError};
use crate::model::{NewTask, Priority, Task, TaskPatch};
use crate::storage::durable::Record;
use crate::storage::ListQuery;

#[derive(Debug)]
pub(crate) struct State {
    /// Tasks by id; a `BTreeMap` so the list comes out in id order without sorting.
    pub(crate) tasks: BTreeMap<u64, Entry>,
    /// Title → id, so the duplicate check is an O(log n) look-up instead of a scan.
    ///
    /// A `BTreeMap`, not a `HashMap`: a hash map doubles and rehashes everything at once, under
    /// the store lock, which at a million tasks stalled every request for ~200 ms.
    pub(super) ids_by_title: BTreeMap<String, u64>,
    /// The next id to hand out; only ever grows, so ids are never reused.
    pub(crate) next_id: u64,
    /// A rough size of a snapshot of this state, for the compaction trigger.
    pub(crate) live_bytes: u64,
    /// Which ids are present, so an unfiltered `skip` is O(log n); kept in step with `tasks`
    /// by `apply`, which every change (live, replayed or from a snapshot) goes through.
    pub(super) positions: Positions,
    /// Tasks per `done` × `priority`, so `X-Total-Count` is O(1); kept by `apply` too.
    pub(super) counts: Counts,
    /// The next revision to stamp on a changed entry. Never reset, not even by a reload after a
    /// storage failure (the store carries it over), so a revision is never reused.
    pub(crate) next_revision: u64,
}

impl Default for State {
    fn default() -> State {
        State {
            tasks: BTreeMap::new(),
            ids_by_title: BTreeMap::new(),
            next_id: 1,
            live_bytes: 0,
            positions: Positions::default(),
            counts: Counts::default(),
            next_revision: 1,
        }
    }
}

/// One mutation of the state, as checked, journaled and applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    Create {
        id: u64,
        new: NewTask,
    },
    Patch {
        id: u64,
        patch: TaskPatch,
    },
    Delete {
        id: u64,
    },
    Attach {
        id: u64,
        file: Attached,
    },
    Detach {
        id: u64,
    },
    /// Only from a snapshot: the id counter.
    NextId(u64),
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(super) title: String,
    pub(super) priority: Priority,
    pub(super) done: bool,
    pub(super) file: Option<Attached>,
    /// Stamped by every change of the task or its attachment; see `Revision`.
    pub(super) revision: u64,
}

impl Entry {
    pub(super) fn cost(&self) -> u64 {
        64 + self.title.len() as u64 + self.file.as_ref().map_or(0, Attached::cost)
    }

    pub(super) fn to_task(&self, id: u64) -> Task {
        Task {
            id,
            title: self.title.clone(),
            priority: self.priority,
            done: self.done,
            attachment: self.file.as_ref().map(|attached| attached.file.info()),
        }
    }
}

impl State {
    /// An empty state whose revisions go on from this one's, so that none handed out before is
    /// reused (a reload after a storage failure).
    pub(crate) fn continuing(&self) -> State {
        State {
            next_revision: self.next_revision,
            ..State::default()
        }
    }

    /// An unfiltered page: the `skip`-th task is found through `positions` in O(log n), then
    /// the map's range yields `limit` tasks, so a deep page costs O(log n + limit).
    pub(crate) fn page(&self, skip: u64, limit: usize) -> Vec<Task> {
        debug_assert_eq!(self.positions.len(), self.tasks.len() as u64);
        let Some(first) = self.positions.select(skip) else {
            return Vec::new();
        };
        let page = self.tasks.range(first..).take(limit);
        page.map(|(id, entry)| entry.to_task(*id)).collect()
    }

    /// Tasks in id order, filtered, then skipped, then limited.
    pub(super) fn list(&self, query: &ListQuery) -> Vec<Task> {
        let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
        if query.done.is_none() && query.priority.is_none() {
            return self.page(query.skip, limit);
        }
        // With a filter, the k-th *match* is not indexed: walk the map (O(n) at worst).
        let skip = usize::try_from(query.skip).unwrap_or(usize::MAX);
        self.tasks
            .iter()
            .filter(|(_, r)| query.done.is_none_or(|done| r.done == done))
            .filter(|(_, r)| query.priority.is_none_or(|p| r.priority == p))
            .skip(skip)
            .take(limit)
            .map(|(id, entry)| entry.to_task(*id))
            .collect()
    }

    /// `Changed` unless task `id` is still at `expected` (`None`: no expectation); `NoSuchTask`
    /// when it is gone.
    pub(super) fn check_revision(
        &self,
        id: u64,
        expected: Option<Revision>,
    ) -> Result<(), StoreError> {
        let Some(Revision(expected)) = expected else {
            return Ok(());
        };
        match self.tasks.get(&id) {
            None => Err(StoreError::NoSuchTask),
            Some(entry) if entry.revision != expected => Err(StoreError::Changed),
            Some(_) => Ok(()),
        }
    }

    /// Task `id` and its revision.
    pub(super) fn revision(&self, id: u64) -> Option<Revision> {
        self.tasks.get(&id).map(|entry| Revision(entry.revision))
    }

    /// Whether `change` can be applied; changes nothing.
    pub(super) fn check(&self, change: &Change) -> Result<(), StoreError> {
        let exists = |id: &u64| match self.tasks.get(id) {
            Some(entry) => Ok(entry),
            None => Err(StoreError::NoSuchTask),
        };
        match change {
            Change::Create { id, new } => {
                if self.ids_by_title.contains_key(&new.title) {
                    return Err(StoreError::TitleTaken);
                }
                if self.tasks.contains_key(id) {
                    return Err(StoreError::Storage(format!("task {id} exists already")));
                }
            }
            Change::Patch { id, patch } => {
                exists(id)?;
                let owner = patch.title.as_ref().and_then(|t| self.ids_by_title.get(t));
                if owner.is_some_and(|owner| owner != id) {
                    return Err(StoreError::TitleTaken);
                }
            }
            Change::Delete { id } | Change::Attach { id, .. } => {
                exists(id)?;
            }
            Change::Detach { id } => {
                if exists(id)?.file.is_none() {
                    return Err(StoreError::NoAttachment);
                }
            }
            Change::NextId(_) => {}
        }
        Ok(())
    }

    /// Checks `change`, then applies it in one step; returns the attachment it dropped, to be
    /// freed after unlocking.
    pub(super) fn apply(&mut self, change: Change) -> Result<Option<Attached>, StoreError> {
        self.check(&change)?;
        let freed = match change {
            Change::Create { id, new } => {
                self.insert(id, new);
                None
            }
            Change::Patch { id, patch } => {
                self.patch(id, patch);
                None
            }
            Change::Delete { id } => self.remove(id),
            Change::Attach { id, file } => self.set_file(id, Some(file)),
            Change::Detach { id } => self.set_file(id, None),
            Change::NextId(next_id) => {
                self.next_id = self.next_id.max(next_id);
                None
            }
        };
        Ok(freed)
    }

    /// A fresh revision for an entry that is changing.
    fn stamp(&mut self) -> u64 {
        let revision = self.next_revision;
        self.next_revision += 1;
        revision
    }

    fn insert(&mut self, id: u64, new: NewTask) {
        self.next_id = self.next_id.max(id + 1);
        self.ids_by_title.insert(new.title.clone(), id);
        self.counts.add(new.done, new.priority);
        let entry = Entry {
            title: new.title,
            priority: new.priority,
            done: new.done,
            file: None,
            revision: self.stamp(),
        };
        self.live_bytes += entry.cost();
        self.tasks.insert(id, entry);
        self.positions.insert(id);
    }

    fn patch(&mut self, id: u64, patch: TaskPatch) {
        let revision = self.stamp();
        let entry = self.tasks.get_mut(&id).expect("checked");
        let before = entry.cost();
        if let Some(title) = patch.title {
            self.ids_by_title.remove(&entry.title);
            self.ids_by_title.insert(title.clone(), id);
            entry.title = title;
        }
        self.counts.remove(entry.done, entry.priority);
        entry.priority = patch.priority.unwrap_or(entry.priority);
        entry.done = patch.done.unwrap_or(entry.done);
        self.counts.add(entry.done, entry.priority);
        entry.revision = revision;
        self.live_bytes = self.live_bytes - before + entry.cost();
    }

    fn remove(&mut self, id: u64) -> Option<Attached> {
        let entry = self.tasks.remove(&id).expect("checked");
        self.positions.remove(id);
        self.ids_by_title.remove(&entry.title);
        self.counts.remove(entry.done, entry.priority);
        self.live_bytes -= entry.cost();
        entry.file
    }

    /// Sets, replaces or (with `None`) removes the attachment; returns the one it dropped.
    fn set_file(&mut self, id: u64, file: Option<Attached>) -> Option<Attached> {
        let revision = self.stamp();
        let entry = self.tasks.get_mut(&id).expect("checked");
        let before = entry.cost();
        let freed = std::mem::replace(&mut entry.file, file);
        entry.revision = revision;
        self.live_bytes = self.live_bytes - before + entry.cost();
        freed
    }

    /// Applies a record read from disk.
    pub(crate) fn replay(&mut self, record: Record) -> Result<(), String> {
        self.apply(Change::from_record(record))
            .map(drop)
            .map_err(|error| format!("the record does not fit the state before it ({error:?})"))
    }

    pub(super) fn task(&self, id: u64) -> Task {
        self.tasks.get(&id).expect("just changed").to_task(id)
    }

    /// The blobs the state refers to, with their sizes.
    pub(crate) fn blobs(&self) -> HashMap<String, u64> {
        let files = self.tasks.values().filter_map(|entry| entry.file.as_ref());
        let files = files.map(|attached| &attached.file);
        files
            .filter_map(|file| match &file.content {
                Content::Blob(blob) => Some((blob.name.clone(), blob.size)),
                Content::Memory(_) | Content::Source(_) => None,
            })
            .collect()
    }
}
