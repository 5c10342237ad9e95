//! Tests of [`Storage`] on the shared state: the backend checks a change's guard against what it
//! changes, 404s come before 412s, and an upload refused by its guard leaves nothing behind.

use std::path::PathBuf;

use super::*;
use crate::error::ApiError;
use crate::model::Priority;
use crate::storage::durable::{self, Tuning};
use crate::storage::{memory, Spooled};
use crate::validators::Digest;

fn new_task(title: &str) -> NewTask {
    NewTask {
        title: title.to_owned(),
        priority: Priority::Low,
        done: false,
    }
}

fn if_match(tag: &EntityTag) -> Guard {
    Guard::new(Some(tag.as_str()), None, None)
}

fn upload<B: Backing>(store: &Tasks<B>, content: &[u8]) -> Upload {
    let mut writer = Storage::spool(store).create(None).unwrap();
    writer.write(content).unwrap();
    Upload {
        filename: "f.txt".to_owned(),
        content_type: None,
        data: writer.finish(),
        digest: Digest::of(content),
    }
}

#[test]
fn a_change_holds_only_while_its_guard_holds_for_the_task_it_changes() {
    let store = memory::new();
    let task = Storage::create(&store, new_task("a")).unwrap();
    let (_, seen) = EntityTag::of_task(&task);
    let done = TaskPatch {
        done: Some(true),
        ..TaskPatch::default()
    };
    let changed = Storage::update(&store, task.id, done.clone(), &if_match(&seen)).unwrap();
    assert!(changed.done);
    // The tag the client saw is stale now: nothing changes, neither a patch nor a delete.
    let stale = Storage::update(&store, task.id, TaskPatch::default(), &if_match(&seen));
    assert_eq!(stale, Err(StorageError::PreconditionFailed));
    let stale = Storage::delete(&store, task.id, &if_match(&seen));
    assert_eq!(stale, Err(StorageError::PreconditionFailed));
    assert_eq!(Storage::task(&store, task.id), Ok(changed.clone()));
    let (_, current) = EntityTag::of_task(&changed);
    Storage::delete(&store, task.id, &if_match(&current)).unwrap();
    // A task that is not there is a 404 whatever the guard says.
    let gone = Storage::delete(&store, task.id, &if_match(&current));
    assert_eq!(gone, Err(StorageError::NotFound { id: task.id }));
}

#[test]
fn detaching_nothing_is_no_attachment_whatever_the_guard() {
    let store = memory::new();
    let id = Storage::create(&store, new_task("a")).unwrap().id;
    let any = Guard::new(Some("*"), None, None);
    assert_eq!(
        Storage::detach(&store, id, &any),
        Err(StorageError::NoAttachment { id })
    );
    assert_eq!(
        Storage::detach(&store, 99, &any),
        Err(StorageError::NotFound { id: 99 })
    );
}

/// A directory under the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn an_upload_refused_by_its_guard_leaves_no_blob() {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "taskd-guarded-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    )));
    let store = durable::open_tasks(&dir.0, Tuning::default()).unwrap();
    let id = Storage::create(&store, new_task("a")).unwrap().id;
    let first_only = Guard::new(None, Some("*"), None);
    let first = upload(&store, b"first");
    assert!(
        matches!(first.data, Spooled::File { .. }),
        "spooled to a file"
    );
    let attached = Storage::attach(&store, id, first, &first_only).unwrap();
    let second = Storage::attach(&store, id, upload(&store, b"second"), &first_only);
    assert_eq!(second, Err(StorageError::PreconditionFailed));
    let blobs = std::fs::read_dir(dir.0.join("blobs")).unwrap().count();
    assert_eq!(blobs, 1, "only the first upload's blob is kept");
    let kept = Storage::attachment(&store, id).unwrap();
    assert_eq!(kept.etag().unwrap(), attached.etag);
    assert_eq!(std::fs::read_dir(dir.0.join("tmp")).unwrap().count(), 0);
}

#[test]
fn storage_errors_become_the_contracts_answers() {
    let answers = [
        (StorageError::NotFound { id: 7 }, 404, "Task 7 not found"),
        (
            StorageError::NoAttachment { id: 7 },
            404,
            "Task 7 has no attachment",
        ),
        (
            StorageError::TitleTaken,
            409,
            "A task with that title already exists",
        ),
        (StorageError::PreconditionFailed, 412, "Precondition Failed"),
        (
            StorageError::Unavailable("timeout".to_owned()),
            503,
            "Database unavailable",
        ),
        (
            StorageError::Internal("disk".to_owned()),
            500,
            "Internal Server Error",
        ),
    ];
    for (error, status, detail) in answers {
        let api = ApiError::from(error);
        assert_eq!(api.status(), status);
        let body: serde_json::Value = serde_json::from_slice(&api.to_json()).unwrap();
        assert_eq!(body["detail"], detail);
    }
}
