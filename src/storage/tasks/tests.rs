//! Tests of the store: ids, titles, the list, poisoning, and what CONTRACT §11 needs (counts,
//! revisions, stored times and digests, in memory and on disk).

use std::time::SystemTime;

use bytes::Bytes;

use super::*;
use crate::model::{Priority, TaskPatch};
use crate::storage::durable::{self, Disk, Tuning};
use crate::storage::memory;
use crate::storage::ListQuery;
use crate::validators::EntityTag;

fn new_task(title: &str) -> NewTask {
    NewTask {
        title: title.to_owned(),
        priority: Priority::Medium,
        done: false,
    }
}

#[test]
fn ids_are_never_reused_after_delete() {
    let store = memory::new();
    let first = store.create(new_task("a")).unwrap();
    store.delete(first.id).unwrap();
    assert_eq!(store.create(new_task("a")).unwrap().id, first.id + 1);
}

#[test]
fn a_refused_create_consumes_no_id() {
    let store = memory::new();
    store.create(new_task("a")).unwrap();
    assert_eq!(store.create(new_task("a")), Err(StoreError::TitleTaken));
    assert_eq!(store.create(new_task("b")).unwrap().id, 2);
}

#[test]
fn renaming_frees_the_old_title_and_keeps_own_title() {
    let store = memory::new();
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
    let store = memory::new();
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
    let titles: Vec<_> = store
        .list_page(&query)
        .tasks
        .into_iter()
        .map(|t| t.title)
        .collect();
    assert_eq!(titles, ["c"]);
}

#[test]
fn store_stays_usable_after_a_panic_while_locked() {
    let store = std::sync::Arc::new(memory::new());
    let clone = store.clone();
    let result = std::thread::spawn(move || {
        let _guard = clone.lock();
        panic!("simulated panic while holding the lock");
    })
    .join();
    assert!(result.is_err());
    assert!(store.create(new_task("still works")).is_ok());
}

// ---- CONTRACT §11: counts, revisions, stored times and digests ---------------------------------

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::validators::Digest;

/// Every filter combination the list accepts.
fn filters() -> Vec<(Option<bool>, Option<Priority>)> {
    let dones = [None, Some(false), Some(true)];
    let priorities = [
        None,
        Some(Priority::Low),
        Some(Priority::Medium),
        Some(Priority::High),
    ];
    let mut all = Vec::new();
    for done in dones {
        for priority in priorities {
            all.push((done, priority));
        }
    }
    all
}

/// The counters agree with a walk of the list for every filter.
fn assert_counts_match<B: Backing>(store: &Tasks<B>) {
    for (done, priority) in filters() {
        let query = ListQuery {
            done,
            priority,
            skip: 0,
            limit: u64::MAX,
        };
        let walked = store.list_page(&query).tasks.len() as u64;
        assert_eq!(store.count(done, priority), walked, "{done:?} {priority:?}");
        let page = store.list_page(&ListQuery { limit: 2, ..query });
        assert_eq!(page.total, walked);
        assert_eq!(
            page.tasks,
            store.list_page(&ListQuery { limit: 2, ..query }).tasks
        );
    }
}

/// Creates, patches and deletes tasks in a deterministic pseudo-random order.
fn churn<B: Backing>(store: &Tasks<B>, rounds: u32) {
    let priorities = [Priority::Low, Priority::Medium, Priority::High];
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..rounds {
        let pick = next();
        let id = 1 + next() % u64::from(round + 1);
        match pick % 4 {
            0 | 1 => {
                let new = NewTask {
                    title: format!("t{round}"),
                    priority: priorities[(next() % 3) as usize],
                    done: next() % 2 == 0,
                };
                store.create(new).unwrap();
            }
            2 => {
                let patch = TaskPatch {
                    title: None,
                    priority: (next() % 2 == 0).then(|| priorities[(next() % 3) as usize]),
                    done: (next() % 2 == 0).then(|| next() % 2 == 0),
                };
                let _ = store.update(id, patch);
            }
            _ => {
                let _ = store.delete(id);
            }
        }
    }
}

#[test]
fn counts_follow_creates_patches_and_deletes() {
    let store = memory::new();
    assert_counts_match(&store);
    churn(&store, 400);
    assert!(
        store.count(None, None) > 20,
        "the churn left tasks to count"
    );
    assert_counts_match(&store);
}

/// A directory under the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "taskd-store-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn small_journal() -> Tuning {
    Tuning {
        compact_floor: 1024,
        ..Tuning::default()
    }
}

/// Replayed journals and snapshots rebuild the counters through the same `apply`.
#[test]
fn counts_survive_replay_and_snapshots() {
    let dir = TempDir::new("counts");
    let before: Vec<u64> = {
        let store = durable::open_tasks(dir.path(), small_journal()).unwrap();
        churn(&store, 300);
        assert_counts_match(&store);
        filters().iter().map(|(d, p)| store.count(*d, *p)).collect()
    };
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|name| name.starts_with("snapshot.")),
        "{names:?}"
    );
    let store = durable::open_tasks(dir.path(), small_journal()).unwrap();
    let after: Vec<u64> = filters().iter().map(|(d, p)| store.count(*d, *p)).collect();
    assert_eq!(after, before);
    assert_counts_match(&store);
}

#[test]
fn a_stale_revision_changes_nothing() {
    let store = memory::new();
    let task = store.create(new_task("a")).unwrap();
    let (seen, revision) = store.get_revision(task.id).unwrap();
    assert_eq!(seen, task);
    let rename = |title: &str| TaskPatch {
        title: Some(title.to_owned()),
        ..TaskPatch::default()
    };
    store.update(task.id, rename("b")).unwrap();
    assert_eq!(
        store.update_if(task.id, rename("c"), Some(revision)),
        Err(StoreError::Changed)
    );
    assert_eq!(
        store.delete_if(task.id, Some(revision)),
        Err(StoreError::Changed)
    );
    assert_eq!(store.get(task.id).unwrap().title, "b");
    let (_, current) = store.get_revision(task.id).unwrap();
    assert_ne!(current, revision);
    assert_eq!(
        store
            .update_if(task.id, rename("c"), Some(current))
            .unwrap()
            .title,
        "c"
    );
    assert_eq!(
        store.delete_if(task.id, Some(current)),
        Err(StoreError::Changed)
    );
    let (_, latest) = store.get_revision(task.id).unwrap();
    store.delete_if(task.id, Some(latest)).unwrap();
    assert_eq!(
        store.delete_if(task.id, Some(latest)),
        Err(StoreError::NoSuchTask)
    );
    assert_eq!(store.get_revision(task.id), None);
}

fn memory_file(content: &'static [u8], filename: &str) -> StoredFile {
    StoredFile {
        filename: filename.to_owned(),
        content_type: Some("text/plain".to_owned()),
        content: Content::Memory(Bytes::from_static(content)),
    }
}

/// An upload with `If-None-Match: *` proceeds only while there is no attachment; the check
/// must still hold when the change is made.
#[test]
fn attachment_changes_move_the_revision() {
    let store = memory::new();
    let id = store.create(new_task("a")).unwrap().id;
    let (none, empty) = store.attachment_revision(id).unwrap();
    assert!(none.is_none());
    let digest = Digest::of(b"first");
    let first = store.attach_digested(id, memory_file(b"first", "f.txt"), digest, Some(empty));
    let first = first.unwrap();
    assert_eq!(first.attachment.as_ref().unwrap().size, 5);
    let late = store.attach_digested(id, memory_file(b"late", "l.txt"), digest, Some(empty));
    assert_eq!(late, Err(StoreError::Changed));
    let (download, attached) = store.attachment_revision(id).unwrap();
    let download = download.unwrap();
    let tag = EntityTag::for_attachment(digest, 5, "text/plain", "f.txt");
    assert_eq!(download.etag().unwrap(), tag);
    assert_eq!(store.detach_if(id, Some(empty)), Err(StoreError::Changed));
    store.detach_if(id, Some(attached)).unwrap();
    assert_eq!(store.detach_if(id, None), Err(StoreError::NoAttachment));
    assert_eq!(
        store.attachment_revision(999).map(|(d, _)| d.is_some()),
        Err(StoreError::NoSuchTask)
    );
}

#[test]
fn uploads_are_stamped_in_whole_seconds_when_stored() {
    let store = memory::new();
    let id = store.create(new_task("a")).unwrap().id;
    let before = crate::validators::whole_seconds(SystemTime::now());
    store.attach(id, memory_file(b"x", "x.txt")).unwrap();
    let after = SystemTime::now();
    let stored = store.attachment(id).unwrap().last_modified().unwrap();
    assert!(before <= stored && stored <= after, "{stored:?}");
    assert_eq!(crate::validators::whole_seconds(stored), stored);
}

/// Receives `content` through the durable spool, digesting it on the way, and moves it into
/// `blobs/`, as an upload does.
fn blob(store: &Tasks<Disk>, content: &[u8], filename: &str) -> (StoredFile, Digest) {
    let mut writer = store.backing.spool().create(None).unwrap();
    for piece in content.chunks(3) {
        writer.write(piece).unwrap();
    }
    let file = StoredFile {
        filename: filename.to_owned(),
        content_type: None,
        content: store.backing.keep(writer.finish()).unwrap(),
    };
    (file, Digest::of(content))
}

/// Overwrites a blob's bytes in place (same size) and sets its mtime to 1970: what was
/// recorded must win over what the file says.
fn tamper(dir: &Path, download: &Download, content: &[u8]) {
    let Content::Blob(blob) = &download.stored().content else {
        panic!("not a blob")
    };
    let path = dir.join("blobs").join(&blob.name);
    std::fs::write(&path, content).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH).unwrap();
}

/// Durable records keep the stored time and the digest: after a restart neither is taken from
/// the blob file.
#[test]
fn durable_records_keep_stored_time_and_digest() {
    let dir = TempDir::new("validators");
    let (etag, stored) = {
        let store = durable::open_tasks(dir.path(), Tuning::default()).unwrap();
        let id = store.create(new_task("a")).unwrap().id;
        let (file, digest) = blob(&store, b"hello", "h.txt");
        assert_eq!(digest, Digest::of(b"hello"));
        store.attach_digested(id, file, digest, None).unwrap();
        let download = store.attachment(id).unwrap();
        (download.etag().unwrap(), download.last_modified().unwrap())
    };
    let store = durable::open_tasks(dir.path(), Tuning::default()).unwrap();
    let download = store.attachment(1).unwrap();
    tamper(dir.path(), &download, b"HELLO");
    assert_eq!(download.etag().unwrap(), etag);
    assert_eq!(download.last_modified().unwrap(), stored);
}

/// A revision is never handed out twice, not even after a storage failure reloads the state
/// from disk (which stamps every task again).
#[cfg(feature = "test-hooks")]
#[test]
fn revisions_are_not_reused_after_a_reload() {
    let dir = TempDir::new("reload");
    let fail = Arc::new(AtomicBool::new(false));
    let hooks = durable::StorageHooks {
        fail_writes: Some(fail.clone()),
        ..durable::StorageHooks::default()
    };
    let store = durable::open_tasks(dir.path(), hooks.into()).unwrap();
    let id = store.create(new_task("a")).unwrap().id;
    let (_, before) = store.get_revision(id).unwrap();
    fail.store(true, Ordering::SeqCst);
    let failed = store.update(id, TaskPatch::default());
    assert!(matches!(failed, Err(StoreError::Storage(_))), "{failed:?}");
    fail.store(false, Ordering::SeqCst);
    store.create(new_task("b")).unwrap();
    let (_, after) = store.get_revision(id).unwrap();
    assert_ne!(after, before);
    assert_eq!(
        store.update_if(id, TaskPatch::default(), Some(before)),
        Err(StoreError::Changed)
    );
}
