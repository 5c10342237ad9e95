//! How the shared state's changes and the state itself become journal and snapshot records,
//! and records become changes again: a replay runs them through the same `State::apply` as a
//! live change. Records are durable's format, so the shared state (`storage::tasks`) knows
//! nothing of them; this module depends on it, never the reverse.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::record::Record;
use crate::model::{NewTask, TaskPatch};
use crate::storage::tasks::state::{Change, Entry, State};
use crate::storage::tasks::{Attached, Blob, Content, DigestCell, StoredFile};

/// Applies a record read from disk to `state`.
pub(super) fn replay(state: &mut State, record: Record) -> Result<(), String> {
    state
        .apply(from_record(record))
        .map(drop)
        .map_err(|error| format!("the record does not fit the state before it ({error:?})"))
}

/// The journal record of `change`; durable mode stores every attachment as a blob.
pub(super) fn to_record(change: &Change) -> Record {
    match change {
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

/// The change that `record` stands for.
fn from_record(record: Record) -> Change {
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
            stored_at,
            digest,
        } => Change::Attach {
            id,
            file: Attached {
                file: StoredFile {
                    filename,
                    content_type,
                    content: Content::Blob(Blob { name: blob, size }),
                },
                stored_at: stored_at.map(|seconds| UNIX_EPOCH + Duration::from_secs(seconds)),
                digest: digest.map(DigestCell::known).unwrap_or_default(),
            },
        },
        Record::Detach { id } => Change::Detach { id },
    }
}

/// An attach record; the digest is included when known by now (an old attachment's digest,
/// found on first use, thus reaches the next snapshot).
fn attach_record(id: u64, attached: &Attached) -> Record {
    let file = &attached.file;
    let Content::Blob(blob) = &file.content else {
        unreachable!("durable mode stores every attachment as a blob");
    };
    Record::Attach {
        id,
        blob: blob.name.clone(),
        size: blob.size,
        filename: file.filename.clone(),
        content_type: file.content_type.clone(),
        stored_at: attached.stored_at.map(seconds_since_epoch),
        digest: attached.digest.get(),
    }
}

/// Whole seconds since 1970 (0 for a clock set before it).
fn seconds_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
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
