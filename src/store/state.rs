//! The state behind the store's lock, and the one way it changes: a `Change` value, checked
//! in full and then applied in one step by `State::apply`, whether it comes from a request, a
//! journal replay or a snapshot. Also how changes and the state become journal records.

use std::collections::{BTreeMap, HashMap};

use super::positions::Positions;
use super::{Content, StoreError, StoredFile};
use crate::durable::{Blob, Record};
use crate::model::{NewTask, Priority, Task, TaskPatch};

#[derive(Debug)]
pub(super) struct State {
    /// Tasks by id; a `BTreeMap` so the list comes out in id order without sorting.
    pub(super) tasks: BTreeMap<u64, Entry>,
    /// Title → id, so the duplicate check is an O(log n) look-up instead of a scan.
    ///
    /// A `BTreeMap`, not a `HashMap`: a hash map doubles and rehashes everything at once, under
    /// the store lock, which at a million tasks stalled every request for ~200 ms.
    pub(super) ids_by_title: BTreeMap<String, u64>,
    /// The next id to hand out; only ever grows, so ids are never reused.
    pub(super) next_id: u64,
    /// A rough size of a snapshot of this state, for the compaction trigger.
    pub(super) live_bytes: u64,
    /// Which ids are present, so an unfiltered `skip` is O(log n); kept in step with `tasks`
    /// by `apply`, which every change (live, replayed or from a snapshot) goes through.
    pub(super) positions: Positions,
}

impl Default for State {
    fn default() -> State {
        State {
            tasks: BTreeMap::new(),
            ids_by_title: BTreeMap::new(),
            next_id: 1,
            live_bytes: 0,
            positions: Positions::default(),
        }
    }
}

/// One mutation of the state, as checked, journaled and applied.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Change {
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
        file: StoredFile,
    },
    Detach {
        id: u64,
    },
    /// Only from a snapshot: the id counter.
    NextId(u64),
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) title: String,
    pub(super) priority: Priority,
    pub(super) done: bool,
    pub(super) file: Option<StoredFile>,
}

impl Entry {
    pub(super) fn cost(&self) -> u64 {
        64 + self.title.len() as u64 + self.file.as_ref().map_or(0, StoredFile::cost)
    }

    pub(super) fn to_task(&self, id: u64) -> Task {
        Task {
            id,
            title: self.title.clone(),
            priority: self.priority,
            done: self.done,
            attachment: self.file.as_ref().map(StoredFile::info),
        }
    }
}

impl Change {
    /// The journal record; durable mode stores every attachment as a blob.
    pub(super) fn to_record(&self) -> Record {
        match self {
            Change::Create { id, new } => Record::Create {
                id: *id,
                title: new.title.clone(),
                priority: new.priority,
                done: new.done,
            },
            Change::Patch { id, patch } => Record::Patch {
                id: *id,
                title: patch.title.clone(),
                priority: patch.priority,
                done: patch.done,
            },
            Change::Delete { id } => Record::Delete { id: *id },
            Change::Attach { id, file } => attach_record(*id, file),
            Change::Detach { id } => Record::Detach { id: *id },
            Change::NextId(next_id) => Record::Snapshot {
                next_id: *next_id,
                tasks: 0,
            },
        }
    }

    pub(super) fn from_record(record: Record) -> Change {
        match record {
            Record::Snapshot { next_id, .. } => Change::NextId(next_id),
            Record::Create {
                id,
                title,
                priority,
                done,
            } => Change::Create {
                id,
                new: NewTask {
                    title,
                    priority,
                    done,
                },
            },
            Record::Patch {
                id,
                title,
                priority,
                done,
            } => Change::Patch {
                id,
                patch: TaskPatch {
                    title,
                    priority,
                    done,
                },
            },
            Record::Delete { id } => Change::Delete { id },
            Record::Attach {
                id,
                blob,
                size,
                filename,
                content_type,
            } => Change::Attach {
                id,
                file: StoredFile {
                    filename,
                    content_type,
                    content: Content::Blob(Blob { name: blob, size }),
                },
            },
            Record::Detach { id } => Change::Detach { id },
        }
    }
}

fn attach_record(id: u64, file: &StoredFile) -> Record {
    let Content::Blob(blob) = &file.content else {
        unreachable!("durable mode stores every attachment as a blob");
    };
    Record::Attach {
        id,
        blob: blob.name.clone(),
        size: blob.size,
        filename: file.filename.clone(),
        content_type: file.content_type.clone(),
    }
}

/// A snapshot of `tasks`: the counter and count first, then each task and its attachment.
pub(super) fn snapshot_records(
    next_id: u64,
    tasks: &BTreeMap<u64, Entry>,
) -> impl Iterator<Item = Record> + '_ {
    let head = Record::Snapshot {
        next_id,
        tasks: tasks.len() as u64,
    };
    std::iter::once(head).chain(tasks.iter().flat_map(|(&id, entry)| {
        let create = Record::Create {
            id,
            title: entry.title.clone(),
            priority: entry.priority,
            done: entry.done,
        };
        let attach = entry.file.as_ref().map(|file| attach_record(id, file));
        std::iter::once(create).chain(attach)
    }))
}

impl State {
    /// An unfiltered page: the `skip`-th task is found through `positions` in O(log n), then
    /// the map's range yields `limit` tasks, so a deep page costs O(log n + limit).
    pub(super) fn page(&self, skip: u64, limit: usize) -> Vec<Task> {
        debug_assert_eq!(self.positions.len(), self.tasks.len() as u64);
        let Some(first) = self.positions.select(skip) else {
            return Vec::new();
        };
        let page = self.tasks.range(first..).take(limit);
        page.map(|(id, entry)| entry.to_task(*id)).collect()
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
    pub(super) fn apply(&mut self, change: Change) -> Result<Option<StoredFile>, StoreError> {
        self.check(&change)?;
        let mut freed = None;
        match change {
            Change::Create { id, new } => {
                self.next_id = self.next_id.max(id + 1);
                self.ids_by_title.insert(new.title.clone(), id);
                let entry = Entry {
                    title: new.title,
                    priority: new.priority,
                    done: new.done,
                    file: None,
                };
                self.live_bytes += entry.cost();
                self.tasks.insert(id, entry);
                self.positions.insert(id);
            }
            Change::Patch { id, patch } => {
                let entry = self.tasks.get_mut(&id).expect("checked");
                let before = entry.cost();
                if let Some(title) = patch.title {
                    self.ids_by_title.remove(&entry.title);
                    self.ids_by_title.insert(title.clone(), id);
                    entry.title = title;
                }
                entry.priority = patch.priority.unwrap_or(entry.priority);
                entry.done = patch.done.unwrap_or(entry.done);
                self.live_bytes = self.live_bytes - before + entry.cost();
            }
            Change::Delete { id } => {
                let entry = self.tasks.remove(&id).expect("checked");
                self.positions.remove(id);
                self.ids_by_title.remove(&entry.title);
                self.live_bytes -= entry.cost();
                freed = entry.file;
            }
            Change::Attach { id, file } => {
                let entry = self.tasks.get_mut(&id).expect("checked");
                let before = entry.cost();
                freed = entry.file.replace(file);
                self.live_bytes = self.live_bytes - before + entry.cost();
            }
            Change::Detach { id } => {
                let entry = self.tasks.get_mut(&id).expect("checked");
                let before = entry.cost();
                freed = entry.file.take();
                self.live_bytes = self.live_bytes - before + entry.cost();
            }
            Change::NextId(next_id) => self.next_id = self.next_id.max(next_id),
        }
        Ok(freed)
    }

    /// Applies a record read from disk.
    pub(super) fn replay(&mut self, record: Record) -> Result<(), String> {
        self.apply(Change::from_record(record))
            .map(drop)
            .map_err(|error| format!("the record does not fit the state before it ({error:?})"))
    }

    pub(super) fn task(&self, id: u64) -> Task {
        self.tasks.get(&id).expect("just changed").to_task(id)
    }

    /// The blobs the state refers to, with their sizes.
    pub(super) fn blobs(&self) -> HashMap<String, u64> {
        let files = self.tasks.values().filter_map(|entry| entry.file.as_ref());
        files
            .filter_map(|file| match &file.content {
                Content::Blob(blob) => Some((blob.name.clone(), blob.size)),
                Content::Memory(_) => None,
            })
            .collect()
    }
}
