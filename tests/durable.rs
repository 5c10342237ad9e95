//! Durable mode (`Config::data_dir`, CONTRACT §10): what a restart keeps, the single-instance
//! lock, torn and corrupt journals, storage failures, compaction and blob housekeeping.

use crate::common;
use common::*;

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;
use taskd::test_hooks::StorageHooks;
use taskd::{Config, Server};

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "taskd-durable-{name}-{}-{nanos}",
            std::process::id()
        ));
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn durable_config(dir: &Path) -> Config {
    Config::ephemeral().with_data_dir(dir.to_owned())
}

fn durable_server(dir: &Path) -> TestServer {
    spawn_server_with(durable_config(dir))
}

/// Every byte value, twice, so an encoding slip anywhere would show.
fn binary_content() -> Vec<u8> {
    (0..512u32).map(|i| (i % 256) as u8).collect()
}

fn all_tasks(addr: std::net::SocketAddr) -> Value {
    get(addr, "/tasks?limit=1000").json()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The download's status, content type, disposition and bytes.
fn download(addr: std::net::SocketAddr, id: u64) -> (u16, Option<String>, Option<String>, Vec<u8>) {
    let response = get(addr, &format!("/tasks/{id}/attachment"));
    (
        response.status,
        response.header("Content-Type").map(str::to_owned),
        response.header("Content-Disposition").map(str::to_owned),
        response.body.clone(),
    )
}

#[test]
fn restart_keeps_tasks_ids_attachments_and_next_id() {
    let dir = TempDir::new("restart");
    let (before, downloads) = {
        let server = durable_server(dir.path());
        let addr = server.addr();
        for title in ["one", "two", "three", "four", "r\u{e9}sum\u{e9} \"q\"\n"] {
            create_task(addr, title);
        }
        assert_eq!(
            patch_json(
                addr,
                "/tasks/2",
                r#"{"done":true,"priority":"high","title":"deux"}"#
            )
            .status,
            200
        );
        assert_eq!(delete(addr, "/tasks/3").status, 204);
        let content = binary_content();
        assert_eq!(
            upload(addr, 1, "a.bin", Some("image/PNG"), &content).status,
            200
        );
        assert_eq!(upload(addr, 2, "first.txt", None, b"first").status, 200);
        assert_eq!(
            upload(
                addr,
                2,
                "\u{1f600}.txt",
                Some("text/plain; charset=utf-8"),
                b""
            )
            .status,
            200
        );
        assert_eq!(upload(addr, 4, "gone.txt", None, b"gone").status, 200);
        assert_eq!(delete(addr, "/tasks/4/attachment").status, 204);
        // The highest id is deleted: the counter must not come back down to it.
        assert_eq!(delete(addr, "/tasks/5").status, 204);
        let downloads: Vec<_> = (1..=5).map(|id| download(addr, id)).collect();
        (all_tasks(addr), downloads)
    };
    let server = durable_server(dir.path());
    let addr = server.addr();
    assert_eq!(all_tasks(addr), before);
    let again: Vec<_> = (1..=5).map(|id| download(addr, id)).collect();
    assert_eq!(again, downloads);
    assert_eq!(downloads[0].3, binary_content());
    assert_eq!(
        create_task(addr, "six"),
        6,
        "next_id survives, ids are never reused"
    );
}

#[test]
fn a_second_server_on_the_same_dir_is_refused() {
    let dir = TempDir::new("lock");
    let first = Server::bind(durable_config(dir.path())).unwrap();
    let error = Server::bind(durable_config(dir.path()))
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("in use by another taskd"),
        "{error}"
    );
    drop(first);
    assert!(
        Server::bind(durable_config(dir.path())).is_ok(),
        "free again once closed"
    );
}

/// The payload lengths of the journal's records (12-byte header: length, its CRC, payload CRC).
fn record_starts(journal: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at < journal.len() {
        starts.push(at);
        let len = u32::from_le_bytes(journal[at..at + 4].try_into().unwrap()) as usize;
        at += 12 + len;
    }
    assert_eq!(
        at,
        journal.len(),
        "records end exactly at the end of the file"
    );
    starts
}

fn titles(addr: std::net::SocketAddr) -> Vec<String> {
    let list = all_tasks(addr);
    let tasks = list.as_array().unwrap();
    tasks
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

/// A crash in the middle of an append: every cut inside the last record starts, with exactly
/// the records before it, and the next append continues from there.
#[test]
fn a_journal_cut_inside_its_last_record_loses_only_that_record() {
    let dir = TempDir::new("torn");
    {
        let server = durable_server(dir.path());
        for title in ["a", "b", "c"] {
            create_task(server.addr(), title);
        }
    }
    let journal_path = dir.path().join("journal.0");
    let journal = fs::read(&journal_path).unwrap();
    let last = *record_starts(&journal).last().unwrap();
    for cut in last..journal.len() {
        fs::write(&journal_path, &journal[..cut]).unwrap();
        let server = durable_server(dir.path());
        assert_eq!(titles(server.addr()), ["a", "b"], "cut at {cut}");
        drop(server);
        assert_eq!(
            fs::metadata(&journal_path).unwrap().len(),
            last as u64,
            "cut back at {cut}"
        );
    }
    let server = durable_server(dir.path());
    assert_eq!(create_task(server.addr(), "c again"), 3);
    drop(server);
    let server = durable_server(dir.path());
    assert_eq!(titles(server.addr()), ["a", "b", "c again"]);
}

/// Acknowledged data is never dropped silently: a damaged record before the end refuses the
/// start, naming the file and the offset.
#[test]
fn a_flipped_byte_in_an_earlier_record_refuses_to_start() {
    let dir = TempDir::new("corrupt");
    {
        let server = durable_server(dir.path());
        for title in ["a", "b", "c"] {
            create_task(server.addr(), title);
        }
    }
    let journal_path = dir.path().join("journal.0");
    let journal = fs::read(&journal_path).unwrap();
    let starts = record_starts(&journal);
    for at in [
        starts[1],
        starts[1] + 3,
        starts[1] + 5,
        starts[1] + 9,
        starts[1] + 20,
    ] {
        let mut damaged = journal.clone();
        damaged[at] ^= 0x40;
        fs::write(&journal_path, &damaged).unwrap();
        let error = Server::bind(durable_config(dir.path()))
            .err()
            .expect("refused");
        let message = error.to_string();
        assert!(message.contains("journal.0"), "{message}");
        assert!(
            message.contains(&format!("byte offset {}", starts[1])),
            "{message}"
        );
        assert_eq!(
            fs::read(&journal_path).unwrap(),
            damaged,
            "a refused start changes nothing"
        );
    }
}

fn failing_config(dir: &Path, switch: &Arc<AtomicBool>) -> Config {
    durable_config(dir).with_storage_hooks(StorageHooks {
        fail_writes: Some(switch.clone()),
        ..StorageHooks::default()
    })
}

/// A full disk: the request fails with the contract's 500, the change is not visible and not
/// on disk, and everything works again once there is space.
#[test]
fn a_failing_disk_answers_500_and_recovers_when_space_returns() {
    let dir = TempDir::new("full");
    let switch = Arc::new(AtomicBool::new(false));
    let server = spawn_server_with(failing_config(dir.path(), &switch));
    let addr = server.addr();
    assert_eq!(create_task(addr, "kept"), 1);
    assert_eq!(upload(addr, 1, "kept.txt", None, b"kept").status, 200);
    switch.store(true, Ordering::SeqCst);
    let refused = [
        post_json(addr, "/tasks", r#"{"title":"lost"}"#),
        patch_json(addr, "/tasks/1", r#"{"done":true}"#),
        upload(addr, 1, "lost.txt", None, b"lost"),
        delete(addr, "/tasks/1/attachment"),
        delete(addr, "/tasks/1"),
    ];
    for response in &refused {
        assert_error(response, 500, "Internal Server Error");
    }
    let expected = r#"[{"id":1,"title":"kept","priority":"medium","done":false,"attachment":{"filename":"kept.txt","size":4}}]"#;
    assert_eq!(
        get(addr, "/tasks").text(),
        expected,
        "no failed change is visible"
    );
    assert_eq!(download(addr, 1).3, b"kept");
    assert!(
        files_in(&dir.path().join("tmp")).is_empty(),
        "no upload left behind"
    );
    switch.store(false, Ordering::SeqCst);
    assert_eq!(
        create_task(addr, "after"),
        2,
        "the failed create consumed no id"
    );
    assert_eq!(upload(addr, 2, "after.txt", None, b"after").status, 200);
    drop(server);
    let server = durable_server(dir.path());
    assert_eq!(
        get(server.addr(), "/tasks/1").text(),
        expected.trim_matches(['[', ']'])
    );
    let list = all_tasks(server.addr());
    assert_eq!(list[1]["title"], "after");
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(download(server.addr(), 2).3, b"after");
}

/// Compaction writes a snapshot, starts a fresh journal and deletes what it supersedes; a
/// restart from snapshot plus journal gives the same state.
#[test]
fn compaction_replaces_the_journal_with_a_snapshot() {
    let dir = TempDir::new("compact");
    let config = durable_config(dir.path()).with_storage_hooks(StorageHooks {
        compact_floor_bytes: Some(2048),
        ..StorageHooks::default()
    });
    let before = {
        let server = spawn_server_with(config.clone());
        let addr = server.addr();
        create_task(addr, "stays");
        assert_eq!(
            upload(addr, 1, "s.bin", None, &binary_content()).status,
            200
        );
        for round in 0..60 {
            let id = create_task(addr, &format!("temporary {round}"));
            assert_eq!(
                patch_json(addr, "/tasks/1", &format!(r#"{{"title":"stays {round}"}}"#)).status,
                200
            );
            assert_eq!(delete(addr, &format!("/tasks/{id}")).status, 204);
        }
        all_tasks(addr)
    };
    let names = files_in(dir.path());
    assert!(
        names.iter().any(|n| n.starts_with("snapshot.")),
        "{names:?}"
    );
    assert!(
        !names.contains(&"journal.0".to_owned()),
        "superseded: {names:?}"
    );
    let server = spawn_server_with(config);
    assert_eq!(all_tasks(server.addr()), before);
    assert_eq!(download(server.addr(), 1).3, binary_content());
    assert_eq!(create_task(server.addr(), "next"), 62);
}

/// Blob housekeeping: a replaced or deleted attachment's file is removed at once; leftovers of
/// a crash (temp files, blobs no record refers to) are removed at start.
#[test]
fn blobs_are_removed_when_no_record_needs_them() {
    let dir = TempDir::new("blobs");
    let blobs = dir.path().join("blobs");
    {
        let server = durable_server(dir.path());
        let addr = server.addr();
        create_task(addr, "a");
        create_task(addr, "b");
        assert_eq!(upload(addr, 1, "1.txt", None, b"one").status, 200);
        assert_eq!(upload(addr, 2, "2.txt", None, b"two").status, 200);
        assert_eq!(files_in(&blobs).len(), 2);
        assert_eq!(upload(addr, 1, "1b.txt", None, b"one again").status, 200);
        assert_eq!(files_in(&blobs).len(), 2, "the replaced blob is gone");
        assert_eq!(delete(addr, "/tasks/2").status, 204);
        assert_eq!(files_in(&blobs).len(), 1, "the deleted task's blob is gone");
        assert_eq!(upload(addr, 9, "x.txt", None, b"no task").status, 404);
        assert_eq!(files_in(&blobs).len(), 1, "a refused upload leaves no blob");
    }
    let kept = files_in(&blobs);
    fs::write(
        dir.path().join("tmp/upload.00000000000000ff"),
        b"half an upload",
    )
    .unwrap();
    fs::write(blobs.join("00000000000000fe"), b"never referenced").unwrap();
    let server = durable_server(dir.path());
    assert!(files_in(&dir.path().join("tmp")).is_empty());
    assert_eq!(files_in(&blobs), kept);
    assert_eq!(download(server.addr(), 1).3, b"one again");
}

/// A download already under way keeps its bytes when the attachment is replaced meanwhile: it
/// reads the blob it opened, which outlives its removal.
#[test]
fn a_download_in_flight_survives_a_replace() {
    let dir = TempDir::new("inflight");
    let server = durable_server(dir.path());
    let addr = server.addr();
    create_task(addr, "big");
    let old: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    assert_eq!(upload(addr, 1, "old.bin", None, &old).status, 200);
    let mut stream = connect(addr);
    stream
        .write_all(&request_head(addr, "GET", "/tasks/1/attachment", &[]))
        .unwrap();
    let mut first = vec![0u8; 64 * 1024];
    stream.read_exact(&mut first).unwrap();
    assert_eq!(upload(addr, 1, "new.bin", None, b"new").status, 200);
    assert_eq!(
        files_in(&dir.path().join("blobs")).len(),
        1,
        "the old blob is unlinked"
    );
    let mut raw = first;
    stream.read_to_end(&mut raw).unwrap();
    let response = parse_response(&raw).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, old);
    assert_eq!(download(addr, 1).3, b"new");
}

#[test]
fn memory_mode_writes_nothing() {
    let server = spawn_server();
    assert!(!Config::ephemeral().has_data_dir());
    assert_eq!(create_task(server.addr(), "in memory"), 1);
}

/// `Handle::shutdown` returns only once the store is released, so the same directory can be
/// opened again at once (a connection thread let go of the store only after it left the
/// registry, so a reopen right after shutdown could find the directory still locked).
#[test]
fn shutdown_releases_the_data_dir_before_it_returns() {
    let dir = TempDir::new("reopen");
    for round in 0..20 {
        let server = Server::bind(durable_config(dir.path())).expect("bind");
        let handle = server.spawn();
        let mut kept = connect(handle.addr());
        let head = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", handle.addr());
        kept.write_all(head.as_bytes()).unwrap();
        let mut buffer = Vec::new();
        assert_eq!(read_one_response(&mut kept, &mut buffer, false).status, 200);
        handle.shutdown();
        assert!(
            Server::bind(durable_config(dir.path())).is_ok(),
            "round {round}"
        );
    }
}

/// The same, while another thread of this process keeps spawning programs: each child holds a
/// copy of every descriptor, the lock's too, until it calls `exec`, so a reopen at once could
/// find the just-released lock still held for that moment. Opening waits that moment out.
#[test]
fn a_reopen_at_once_survives_programs_spawned_meanwhile() {
    let dir = TempDir::new("reopen-spawning");
    let stop = Arc::new(AtomicBool::new(false));
    let spawner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = std::process::Command::new("true").status();
            }
        })
    };
    for round in 0..50 {
        let server = Server::bind(durable_config(dir.path())).expect("bind");
        drop(server);
        assert!(
            Server::bind(durable_config(dir.path())).is_ok(),
            "round {round}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    spawner.join().expect("spawner");
}
