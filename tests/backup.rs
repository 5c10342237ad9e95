//! `taskd backup` (the real binary) on a data directory that a server is writing to: clients
//! create, upload, replace, patch and delete continuously, with compaction forced every few KiB
//! of journal; each backup must hold every change acknowledged before it began, nothing
//! half-written, and a fresh taskd must start from it cleanly.

use crate::common;
use common::*;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use taskd::test_hooks::StorageHooks;
use taskd::Config;

const TASKD: &str = env!("CARGO_BIN_EXE_taskd");

/// A fresh directory path (not created), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(root: &Path, name: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Scratch(root.join(format!(
            "taskd-backup-{name}-{}-{nanos}",
            std::process::id()
        )))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a client was told had happened.
#[derive(Debug, Clone)]
enum Change {
    /// `doomed`: this client deletes the task later (possibly before a backup copies the
    /// journal, so a backup may lack it even if the delete was not yet acknowledged).
    Created {
        id: u64,
        title: String,
        doomed: bool,
    },
    Uploaded {
        id: u64,
        version: u64,
    },
    Patched {
        id: u64,
    },
    /// The client's long-lived task got this number in its title: `client C counter N`.
    Counted {
        id: u64,
        count: u64,
    },
    Deleted {
        id: u64,
    },
}

type Acknowledged = Arc<Mutex<Vec<(Instant, Change)>>>;

/// An attachment's bytes, telling which task and version they are: `id.version|` then a
/// pattern, 1–30 KB long.
fn content(id: u64, version: u64) -> Vec<u8> {
    let mut bytes = format!("{id}.{version}|").into_bytes();
    let len = 1000 + ((id * 7919 + version * 104_729) % 30_000) as usize;
    while bytes.len() < len {
        bytes.push(b'a' + (bytes.len() % 26) as u8);
    }
    bytes
}

fn writer(addr: SocketAddr, client: u64, stop: Arc<AtomicBool>, acked: Acknowledged) {
    let note = |change| acked.lock().unwrap().push((Instant::now(), change));
    let counter = create_task(addr, &format!("client {client} counter 0"));
    // `created_ids[r]` is the task of round `r` (round 0 has none).
    let mut created_ids = vec![0];
    let mut round = 0u64;
    while !stop.load(Ordering::SeqCst) {
        round += 1;
        // Churn that keeps the live data small while the journal grows: compaction is due
        // every few rounds.
        for count in round * 4 - 3..=round * 4 {
            let title = format!(r#"{{"title":"client {client} counter {count}"}}"#);
            assert_eq!(
                patch_json(addr, &format!("/tasks/{counter}"), &title).status,
                200
            );
            note(Change::Counted { id: counter, count });
        }
        let title = format!("client {client} round {round}");
        let created = post_json(addr, "/tasks", &format!(r#"{{"title":"{title}"}}"#));
        assert_eq!(created.status, 201, "{}", created.text());
        let id = created.json()["id"].as_u64().unwrap();
        let doomed = round.is_multiple_of(2);
        note(Change::Created { id, title, doomed });
        let uploaded = upload(addr, id, "a.txt", Some("text/plain"), &content(id, 1));
        assert_eq!(uploaded.status, 200, "{}", uploaded.text());
        note(Change::Uploaded { id, version: 1 });
        assert_eq!(
            patch_json(addr, &format!("/tasks/{id}"), r#"{"done":true}"#).status,
            200
        );
        note(Change::Patched { id });
        // Replaces and deletes reach tasks two rounds old, which a backup may have copied
        // already: each removes a blob that copy names, the race a backup must survive.
        created_ids.push(id);
        let two_rounds_ago = round.checked_sub(2).filter(|&r| r > 0);
        if let Some(&old) = two_rounds_ago.and_then(|r| created_ids.get(r as usize)) {
            let old_round = round - 2;
            if old_round.is_multiple_of(3) {
                let replaced = upload(addr, old, "b.txt", Some("text/plain"), &content(old, 2));
                assert_eq!(replaced.status, 200);
                note(Change::Uploaded {
                    id: old,
                    version: 2,
                });
            }
            if old_round.is_multiple_of(2) {
                assert_eq!(delete(addr, &format!("/tasks/{old}")).status, 204);
                note(Change::Deleted { id: old });
            }
        }
    }
}

/// The newest journal generation in `dir`.
fn generation(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().to_string_lossy().into_owned();
            name.strip_prefix("journal.")?.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Runs the binary's backup; `pause` holds its first attempt twice (see `test_pause` in
/// `src/storage/durable/backup.rs`) so the server's compaction overtakes it.
fn run_backup_paused(dir: &Path, dest: &Path, pause: Duration) -> std::process::Output {
    Command::new(TASKD)
        .env("TASKD_BACKUP_TEST_PAUSE_MS", pause.as_millis().to_string())
        .args(["backup", "--data-dir"])
        .arg(dir)
        .arg("--to")
        .arg(dest)
        .output()
        .expect("run taskd backup")
}

fn run_backup(dir: &Path, dest: &Path) -> std::process::Output {
    Command::new(TASKD)
        .args(["backup", "--data-dir"])
        .arg(dir)
        .arg("--to")
        .arg(dest)
        .output()
        .expect("run taskd backup")
}

/// A taskd process on `dir`, and its address from the ready line.
fn start_taskd(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(TASKD)
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start taskd");
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("taskd listening on http://")
        .unwrap_or_else(|| panic!("no ready line: {line:?}"))
        .parse()
        .unwrap();
    (child, addr)
}

/// Every task of the backup's server with its attachment, if it has one, checked whole.
fn check_every_attachment(addr: SocketAddr) -> usize {
    let mut checked = 0;
    let mut skip = 0;
    loop {
        let page = get(addr, &format!("/tasks?skip={skip}&limit=100")).json();
        let tasks = page.as_array().unwrap();
        if tasks.is_empty() {
            return checked;
        }
        for task in tasks {
            let id = task["id"].as_u64().unwrap();
            if task["attachment"].is_null() {
                continue;
            }
            let body = get(addr, &format!("/tasks/{id}/attachment")).body;
            let (head, _) = body.split_at(body.iter().position(|&b| b == b'|').unwrap());
            let version: u64 = String::from_utf8_lossy(head)
                .strip_prefix(&format!("{id}."))
                .unwrap_or_else(|| panic!("task {id}: another task's bytes"))
                .parse()
                .unwrap();
            assert_eq!(body, content(id, version), "task {id}: half-written bytes");
            assert_eq!(task["attachment"]["size"].as_u64(), Some(body.len() as u64));
            checked += 1;
        }
        skip += 100;
    }
}

/// Every change acknowledged before `began` is in the backup served at `addr`: a deleted task
/// is gone; any other is there with its title, its patch and its upload (or a later one), unless
/// its client was going to delete it (that delete may have reached the backup too).
fn check_acknowledged(addr: SocketAddr, acked: &[(Instant, Change)], began: Instant) -> usize {
    let doomed: std::collections::HashSet<u64> = acked
        .iter()
        .filter_map(|(_, change)| match change {
            Change::Created {
                id, doomed: true, ..
            } => Some(*id),
            _ => None,
        })
        .collect();
    let mut checked = 0;
    for (_, change) in acked.iter().filter(|(at, _)| *at < began) {
        match change {
            Change::Deleted { id } => assert_eq!(get(addr, &format!("/tasks/{id}")).status, 404),
            Change::Created { id, .. } | Change::Uploaded { id, .. } | Change::Patched { id }
                if doomed.contains(id) => {}
            Change::Created { id, title, .. } => {
                let task = get(addr, &format!("/tasks/{id}")).json();
                assert_eq!(task["title"], Value::from(title.as_str()), "task {id}");
            }
            Change::Counted { id, count } => {
                let task = get(addr, &format!("/tasks/{id}")).json();
                let title = task["title"].as_str().unwrap_or_default();
                let found: u64 = title.rsplit(' ').next().unwrap().parse().unwrap();
                assert!(
                    found >= *count,
                    "task {id}: {title:?}, acknowledged {count}"
                );
            }
            Change::Patched { id } => {
                let task = get(addr, &format!("/tasks/{id}")).json();
                assert_eq!(task["done"], Value::from(true), "task {id}'s patch is lost");
            }
            Change::Uploaded { id, version } => {
                let body = get(addr, &format!("/tasks/{id}/attachment")).body;
                let at_least = (*version..=2).any(|v| body == content(*id, v));
                assert!(at_least, "task {id}: upload {version} is lost");
            }
        }
        checked += 1;
    }
    checked
}

#[test]
fn a_backup_under_write_load_holds_every_acknowledged_change_and_starts() {
    let temp = std::env::temp_dir();
    let data = Scratch::new(&temp, "data");
    let config = Config::ephemeral()
        .with_data_dir(data.0.clone())
        .with_storage_hooks(StorageHooks {
            compact_floor_bytes: Some(4096),
            ..StorageHooks::default()
        });
    let server = spawn_server_with(config);
    let addr = server.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Acknowledged = Arc::default();
    let writers: Vec<_> = (0..3)
        .map(|client| {
            let (stop, acked) = (stop.clone(), acked.clone());
            thread::spawn(move || writer(addr, client, stop, acked))
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    // On another file system (/dev/shm) where there is one, so blobs are copied, not linked.
    let roots = [temp.clone(), PathBuf::from("/dev/shm")];
    let mut overlapped_compaction = 0;
    for round in 0..4 {
        let root = &roots[(round / 2) % 2];
        let root = if root.is_dir() { root } else { &temp };
        let dest = Scratch::new(root, &format!("dest{round}"));
        let generation_before = generation(&data.0);
        let began = Instant::now();
        // Every other round paused, so compactions overtake it; the others as fast as they go.
        let pause = Duration::from_millis(if round.is_multiple_of(2) { 400 } else { 0 });
        let output = run_backup_paused(&data.0, &dest.0, pause);
        let generation_after = generation(&data.0);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(stdout.lines().count(), 1, "one summary line: {stdout}");
        eprintln!("round {round}: generations {generation_before}..{generation_after}: {stdout}");
        if generation_after != generation_before {
            overlapped_compaction += 1;
        }
        let snapshot: Vec<_> = acked.lock().unwrap().clone();
        let (mut child, backup_addr) = start_taskd(&dest.0);
        let changes = check_acknowledged(backup_addr, &snapshot, began);
        let attachments = check_every_attachment(backup_addr);
        assert!(
            changes > 0 && attachments > 0,
            "{changes} changes, {attachments} attachments"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(
            !stderr.contains("torn") && !stderr.contains("refusing"),
            "the backup did not start cleanly: {stderr}"
        );
    }
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(
        overlapped_compaction > 0,
        "no compaction ran during any of the backups"
    );
}

#[test]
fn backup_refuses_a_non_empty_destination_and_bad_arguments() {
    let temp = std::env::temp_dir();
    let data = Scratch::new(&temp, "refuse-data");
    {
        let server = spawn_server_with(Config::ephemeral().with_data_dir(data.0.clone()));
        create_task(server.addr(), "kept");
    }
    let dest = Scratch::new(&temp, "refuse-dest");
    std::fs::create_dir(&dest.0).unwrap();
    std::fs::write(dest.0.join("something"), b"x").unwrap();
    let refused = run_backup(&data.0, &dest.0);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not empty"), "{stderr}");

    let not_data = Scratch::new(&temp, "not-data");
    std::fs::create_dir(&not_data.0).unwrap();
    let fresh = Scratch::new(&temp, "fresh-dest");
    assert_eq!(run_backup(&not_data.0, &fresh.0).status.code(), Some(1));
    assert!(!fresh.0.exists(), "nothing is left behind");

    let missing = Command::new(TASKD)
        .args(["backup", "--data-dir"])
        .arg(&data.0)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&missing.stderr).lines().count(), 2);

    // An empty existing directory is fine: the copy replaces it whole.
    let empty = Scratch::new(&temp, "empty-dest");
    std::fs::create_dir(&empty.0).unwrap();
    assert!(run_backup(&data.0, &empty.0).status.success());
    let (mut child, addr) = start_taskd(&empty.0);
    assert_eq!(get(addr, "/tasks/1").json()["title"], "kept");
    child.kill().unwrap();
    child.wait().unwrap();
}
