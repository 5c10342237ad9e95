//! The group commit under concurrent writers: every commit answered `Ok` is in the file, in
//! the order of the appends, and nothing else is; every waiter is woken, also when a flush fails.

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::storage::durable::frame::Reader;

/// A directory under the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "taskd-journal-{name}-{}-{:?}",
            std::process::id(),
            thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The ids of the `delete` records in `journal.0`, in file order.
fn ids_on_disk(dir: &Path) -> Vec<u64> {
    let bytes = std::fs::read(journal_path(dir, 0)).unwrap();
    let mut reader = Reader::new(bytes.as_slice(), bytes.len() as u64);
    let mut ids = Vec::new();
    while let Some(payload) = reader.next_record().unwrap().unwrap() {
        match Record::from_json(payload).unwrap() {
            Record::Delete { id } => ids.push(id),
            other => panic!("unexpected record {other:?}"),
        }
    }
    ids
}

/// What the store does around the journal: append under one lock (so the order of `appended`
/// is the journal's order), repairing first when a failure awaits; commit after unlocking.
struct Writer {
    journal: Journal,
    /// Stands for the store lock; holds the ids in append order.
    appended: Mutex<Vec<u64>>,
    next_id: AtomicU64,
    committed: Mutex<HashSet<u64>>,
    failed: AtomicU64,
}

impl Writer {
    fn new(dir: &Path, faults: Faults) -> Writer {
        Writer {
            journal: Journal::open(dir, 0, 0, faults).unwrap(),
            appended: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            committed: Mutex::new(HashSet::new()),
            failed: AtomicU64::new(0),
        }
    }

    fn change(&self) {
        let ticket = {
            let mut appended = self.appended.lock().unwrap();
            if self.journal.is_broken() {
                self.journal.repair().unwrap();
            }
            let id = self.next_id.fetch_add(1, Ordering::SeqCst);
            let ticket = self.journal.append(&Record::Delete { id });
            ticket.map(|ticket| {
                appended.push(id);
                (id, ticket)
            })
        };
        match ticket.and_then(|(id, ticket)| self.journal.commit(ticket).map(|()| id)) {
            Ok(id) => {
                self.committed.lock().unwrap().insert(id);
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn committed(&self) -> usize {
        self.committed.lock().unwrap().len()
    }

    /// The committed ids in append order: what the file must hold.
    fn expected(&self) -> Vec<u64> {
        let committed = self.committed.lock().unwrap();
        let appended = self.appended.lock().unwrap();
        appended
            .iter()
            .copied()
            .filter(|id| committed.contains(id))
            .collect()
    }
}

/// Without a writer of the next batch woken to lead it, the last writers would wait forever
/// (this test then hangs).
#[test]
fn every_concurrent_commit_returns_and_is_on_disk_in_append_order() {
    let dir = TempDir::new("concurrent");
    let writer = Writer::new(&dir.0, Faults::default());
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| (0..200).for_each(|_| writer.change()));
        }
    });
    assert_eq!(writer.committed(), 1600);
    assert_eq!(writer.failed.load(Ordering::SeqCst), 0);
    assert_eq!(ids_on_disk(&dir.0), writer.expected());
    let on_disk = std::fs::metadata(journal_path(&dir.0, 0)).unwrap().len();
    assert_eq!(writer.journal.len(), on_disk);
    let inner = writer.journal.lock();
    assert_eq!((inner.durable, inner.appended), (1600, 1600));
    assert!(inner.flushes <= 1600, "{} flushes", inner.flushes);
}

/// A failing disk in the middle of concurrent commits: every waiter of the failed flush is
/// woken with an error, the journal is cut back, and only what was answered `Ok` stays.
#[test]
fn a_failed_flush_fails_its_waiters_and_keeps_only_what_was_answered() {
    let dir = TempDir::new("failure");
    let switch = Arc::new(AtomicBool::new(false));
    let writer = Writer::new(&dir.0, Faults(Some(switch.clone())));
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(60);
    let wait_until = |done: &dyn Fn() -> bool| {
        while !done() {
            assert!(
                Instant::now() < deadline,
                "the writers stopped making progress"
            );
            thread::sleep(Duration::from_millis(1));
        }
    };
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    writer.change();
                }
            });
        }
        wait_until(&|| writer.committed() >= 200);
        switch.store(true, Ordering::SeqCst);
        wait_until(&|| writer.failed.load(Ordering::SeqCst) >= 20);
        switch.store(false, Ordering::SeqCst);
        let before = writer.committed();
        wait_until(&|| writer.committed() >= before + 200);
        stop.store(true, Ordering::SeqCst);
    });
    // What was answered `Ok` is on disk in append order, and nothing else is: a writer that
    // wakes only after the repair still learns that its record was durable.
    assert_eq!(ids_on_disk(&dir.0), writer.expected());
    let failed = writer.failed.load(Ordering::SeqCst);
    assert!(failed >= 20, "{failed} failures");
}
