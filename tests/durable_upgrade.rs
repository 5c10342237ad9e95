//! A `--data-dir` written by taskd 8c73c49, whose attach records have no stored time and no
//! digest (issue 12): it still starts and serves; an old attachment's `Last-Modified` is its
//! blob file's mtime and its digest is computed on first use, not at start, then kept, and the
//! next snapshot records it. The directory is `tests/fixtures/data-dir-8c73c49/`, written by the
//! 8c73c49 binary itself (its README says how).

use crate::common;
use common::*;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use taskd::test_hooks::{durable, BodySource, Download, Guard, Storage, StorageHooks};
use taskd::test_hooks::{Digest, EntityTag};
use taskd::test_hooks::{NewTask, Priority};
use taskd::Config;

const FIXTURE: &str = "tests/fixtures/data-dir-8c73c49";

/// What the fixture holds, as `GET /tasks` lists it.
const TASKS: &str = r#"[{"id":1,"title":"Report","priority":"high","done":true,"attachment":{"filename":"notes.txt","size":19}},{"id":2,"title":"Photo","priority":"medium","done":false,"attachment":{"filename":"résumé.png","size":600}},{"id":3,"title":"Replaced","priority":"medium","done":false,"attachment":{"filename":"third.txt","size":13}},{"id":64,"title":"Journal only","priority":"medium","done":false,"attachment":{"filename":"journal.txt","size":16}}]"#;

/// Task ids with attachments, and the mtime each blob gets (Tue, 01 Dec 2026 00:00:00 GMT
/// plus a few hours: distinct, whole seconds).
const ATTACHED: [(u64, u64); 4] = [
    (1, 1_796_083_200),
    (2, 1_796_086_800),
    (3, 1_796_090_400),
    (64, 1_796_094_000),
];

/// A copy of the fixture under the temp dir, removed when dropped.
struct OldDataDir(PathBuf);

impl OldDataDir {
    fn new(name: &str) -> OldDataDir {
        let path =
            std::env::temp_dir().join(format!("taskd-upgrade-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(path.join("blobs")).unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
        for name in ["snapshot.4", "journal.4"] {
            fs::copy(fixture.join(name), path.join(name)).unwrap();
        }
        for entry in fs::read_dir(fixture.join("blobs")).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), path.join("blobs").join(entry.file_name())).unwrap();
        }
        OldDataDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn blob_path(&self, download: &Download) -> PathBuf {
        let name = download.blob_name().expect("durable attachments are blobs");
        self.0.join("blobs").join(name)
    }

    /// Sets a blob's mtime, and optionally its bytes (same size), behind the store's back.
    fn touch(&self, download: &Download, seconds: u64, bytes: Option<&[u8]>) {
        let path = self.blob_path(download);
        if let Some(bytes) = bytes {
            fs::write(&path, bytes).unwrap();
        }
        let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_modified(at(seconds)).unwrap();
    }
}

impl Drop for OldDataDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn open(dir: &OldDataDir) -> Box<dyn Storage> {
    durable::open_with_hooks(dir.path(), StorageHooks::default()).unwrap()
}

/// The bytes of task `id`'s attachment as the fixture holds them.
fn fixture_bytes(store: &dyn Storage, id: u64) -> Vec<u8> {
    let download = store.attachment(id).unwrap();
    match download.into_source().unwrap() {
        BodySource::Memory(bytes) => bytes.to_vec(),
        BodySource::File { file, len } => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(&*file, len), &mut bytes).unwrap();
            bytes
        }
        BodySource::Chunks(chunks) => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut chunks.reader(0, chunks.len()), &mut bytes).unwrap();
            bytes
        }
    }
}

#[test]
fn an_old_data_dir_starts_and_serves_what_it_held() {
    let dir = OldDataDir::new("serves");
    let server = spawn_server_with(Config::ephemeral().with_data_dir(dir.path().to_owned()));
    let addr = server.addr();
    assert_eq!(get(addr, "/tasks?limit=1000").text(), TASKS);
    let photo = get(addr, "/tasks/2/attachment");
    assert_eq!(photo.status, 200);
    assert_eq!(photo.header("Content-Type"), Some("image/png"));
    let expected: Vec<u8> = (0..600u32).map(|i| (i * 7 % 256) as u8).collect();
    assert_eq!(photo.body, expected);
    let notes = get(addr, "/tasks/1/attachment");
    assert_eq!(notes.body, b"hello, old release\n");
    assert_eq!(
        notes.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(get(addr, "/tasks/64/attachment").body, b"from the journal");
    assert_eq!(create_task(addr, "after the upgrade"), 65);
}

/// `Last-Modified` of an old attachment is its blob's mtime; the digest is that of the bytes
/// as they are at first use (so not read at start), and then kept.
#[test]
fn old_attachments_get_validators_on_first_use() {
    let dir = OldDataDir::new("first-use");
    let store = open(&dir);
    for (id, mtime) in ATTACHED {
        let download = store.attachment(id).unwrap();
        dir.touch(&download, mtime, None);
        assert_eq!(download.last_modified().unwrap(), at(mtime), "task {id}");
    }
    // Change task 1's bytes behind the store's back before anything asked for its digest: the
    // digest that comes out is that of the new bytes, so none was computed at start.
    let notes = store.attachment(1).unwrap();
    dir.touch(&notes, 1_796_083_200, Some(b"HELLO, OLD RELEASE\n"));
    assert_eq!(notes.digest().unwrap(), Digest::of(b"HELLO, OLD RELEASE\n"));
    // Once computed it is kept, by this download and by the store's copy.
    dir.touch(&notes, 1_796_083_200, Some(b"hello, old release\n"));
    assert_eq!(notes.digest().unwrap(), Digest::of(b"HELLO, OLD RELEASE\n"));
    let again = store.attachment(1).unwrap();
    assert_eq!(again.digest().unwrap(), Digest::of(b"HELLO, OLD RELEASE\n"));
    let photo = store.attachment(2).unwrap();
    let expected = EntityTag::for_attachment(
        Digest::of(&fixture_bytes(&*store, 2)),
        600,
        "image/png",
        "r\u{e9}sum\u{e9}.png",
    );
    assert_eq!(photo.etag().unwrap(), expected);
}

/// A digest found on first use reaches the next snapshot: after a restart it is not computed
/// again. An upload into an old directory is written in the new format and keeps its time.
#[test]
fn the_next_snapshot_records_old_digests_and_new_uploads_keep_their_time() {
    let dir = OldDataDir::new("snapshot");
    let started = taskd::test_hooks::whole_seconds(SystemTime::now());
    {
        let server = spawn_server_with(Config::ephemeral().with_data_dir(dir.path().to_owned()));
        let response = upload(server.addr(), 3, "new.txt", None, b"new bytes");
        assert_eq!(response.status, 200);
    }
    let hooks = StorageHooks {
        compact_floor_bytes: Some(2048),
        ..StorageHooks::default()
    };
    let digests: Vec<Digest> = {
        let store = durable::open_with_hooks(dir.path(), hooks.clone()).unwrap();
        let digests = ATTACHED
            .iter()
            .map(|(id, _)| store.attachment(*id).unwrap().digest().unwrap())
            .collect();
        for round in 0..40 {
            let new = NewTask {
                title: format!("churn {round}"),
                priority: Priority::Low,
                done: false,
            };
            let id = store.create(new).unwrap().id;
            store.delete(id, &Guard::none()).unwrap();
        }
        digests
    };
    let snapshots: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("snapshot."))
        .collect();
    assert_eq!(snapshots.len(), 1);
    assert_ne!(snapshots[0], "snapshot.4", "a compaction ran");
    let store = durable::open_with_hooks(dir.path(), hooks).unwrap();
    for ((id, mtime), digest) in ATTACHED.iter().zip(&digests) {
        let download = store.attachment(*id).unwrap();
        let size = usize::try_from(download.size()).unwrap();
        dir.touch(&download, *mtime, Some(&vec![b'!'; size]));
        assert_eq!(download.digest().unwrap(), *digest, "task {id}");
    }
    assert_eq!(digests[2], Digest::of(b"new bytes"));
    let new = store.attachment(3).unwrap();
    dir.touch(&new, 0, None);
    let stored = new.last_modified().unwrap();
    assert!(
        started <= stored && stored <= SystemTime::now(),
        "{stored:?}"
    );
    let old = store.attachment(1).unwrap();
    dir.touch(&old, 1_000_000_000, None);
    assert_eq!(old.last_modified().unwrap(), at(1_000_000_000));
}

/// Over HTTP, an old attachment's `Last-Modified` is its blob's time, so it is a strong date
/// (§8.8.2.2): `If-Range` with it applies the `Range`, `If-Modified-Since` with it gives 304,
/// and the tags are the same after a restart.
#[test]
fn an_old_attachments_dates_work_as_validators_over_http() {
    let dir = OldDataDir::new("http-dates");
    {
        let store = open(&dir);
        dir.touch(&store.attachment(2).unwrap(), 1_796_086_800, None);
    }
    let config = || Config::ephemeral().with_data_dir(dir.path().to_owned());
    let server = spawn_server_with(config());
    let addr = server.addr();
    let target = "/tasks/2/attachment";
    let whole = get(addr, target);
    let stored = "Tue, 01 Dec 2026 01:00:00 GMT";
    assert_eq!(whole.header("Last-Modified"), Some(stored));
    let headers = [("Range", "bytes=10-19"), ("If-Range", stored)];
    let ranged = request(addr, "GET", target, &headers, b"");
    assert_eq!(ranged.status, 206);
    assert_eq!(ranged.header("Content-Range"), Some("bytes 10-19/600"));
    assert_eq!(ranged.body, &whole.body[10..20]);
    let other_date = [
        ("Range", "bytes=10-19"),
        ("If-Range", "Tue, 01 Dec 2026 01:00:01 GMT"),
    ];
    assert_eq!(request(addr, "GET", target, &other_date, b"").status, 200);
    let since = request(addr, "GET", target, &[("If-Modified-Since", stored)], b"");
    assert_eq!(since.status, 304);
    let tags = (
        whole.header("ETag").map(str::to_owned),
        get(addr, "/tasks/2").header("ETag").map(str::to_owned),
    );
    drop(server);
    let server = spawn_server_with(config());
    let again = get(server.addr(), target);
    let task = get(server.addr(), "/tasks/2");
    assert_eq!(
        tags,
        (
            again.header("ETag").map(str::to_owned),
            task.header("ETag").map(str::to_owned)
        )
    );
    assert_eq!(again.header("Last-Modified"), Some(stored));
}
