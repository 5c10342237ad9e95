//! What the `taskd import` tests share: throwaway directories, a fingerprint of every file, the
//! import run as the real binary, and a data directory written by a real taskd with tasks,
//! deletions (the highest ids too), and attachments of several types and non-ASCII names.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::pg_support::Cluster;
use crate::common::{create_task, delete, get, patch_json, post_json, upload};
use taskd::test_hooks::parse_http_date;

pub const FIXTURE: &str = "tests/fixtures/data-dir-8c73c49";

/// A directory under the temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("taskd-import-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every entry under `dir`: kind, bytes and mtime (directories' mtimes included, so a file
/// created and removed again shows too).
pub fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, (bool, Vec<u8>, SystemTime)> {
    let mut seen = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        let bytes = if meta.is_dir() {
            for entry in fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
            Vec::new()
        } else {
            fs::read(&path).unwrap()
        };
        let relative = path.strip_prefix(dir).unwrap().to_path_buf();
        seen.insert(relative, (meta.is_dir(), bytes, meta.modified().unwrap()));
    }
    seen
}

pub fn import(dir: &Path, url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taskd"))
        .arg("import")
        .arg("--data-dir")
        .arg(dir)
        .args(["--database-url", url])
        .env_remove("TASKD_DATABASE_URL")
        .output()
        .expect("run taskd import")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A failure: exit `code`, stderr one line (plus `see taskd --help` for a usage error), no
/// password in it.
pub fn assert_refused(output: &Output, code: i32, mentions: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let expected_lines = if code == 2 { 2 } else { 1 };
    assert_eq!(lines.len(), expected_lines, "{text}");
    assert!(lines[0].contains(mentions), "{text}");
    assert!(output.stdout.is_empty());
}

pub fn database(cluster: &Cluster) -> (String, String) {
    let name = cluster.create_database();
    let url = cluster.url(&name);
    (name, url)
}

/// What the single host answered for an attachment: bytes, type, name, stored time.
pub struct Served {
    pub body: Vec<u8>,
    pub content_type: String,
    pub last_modified: u64,
}

pub fn served_attachment(addr: SocketAddr, id: u64) -> Served {
    let response = get(addr, &format!("/tasks/{id}/attachment"));
    assert_eq!(response.status, 200);
    let last_modified = parse_http_date(response.header("last-modified").unwrap()).unwrap();
    Served {
        body: response.body.clone(),
        content_type: response.header("content-type").unwrap().to_owned(),
        last_modified: last_modified.duration_since(UNIX_EPOCH).unwrap().as_secs(),
    }
}

/// The titles [`fill`] creates, task `i + 1` with `TITLES[i]`: 3, 7, 8 and 9 are deleted
/// again, so the next id (10) is past the last task.
pub const TITLES: [&str; 8] = [
    "Buy milk",
    "Photo",
    "gone",
    "Résumé für Zoë — 日本語",
    "nul \u{0} inside",
    "plain",
    "deleted high 1",
    "deleted high 2",
];

/// The non-ASCII attachment name of task 4.
pub const PHOTO_NAME: &str = "résumé 日本.jpg";

/// Fills a fresh server: the tasks of [`TITLES`], patches, attachments (one replaced, one of
/// three chunks, one without a type, one empty), deletions; returns what each attachment was
/// served as, by task id.
pub fn fill(addr: SocketAddr) -> BTreeMap<u64, Served> {
    let png: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut expected_files = BTreeMap::new();
    for (index, title) in TITLES.iter().enumerate() {
        assert_eq!(create_task(addr, title), index as u64 + 1);
    }
    let changes: [(u64, &str, Option<&str>, &[u8]); 6] = [
        (1, "old.txt", Some("text/plain"), b"replaced"),
        (
            1,
            "notes.txt",
            Some("text/plain; charset=utf-8"),
            b"hello\n",
        ),
        (2, "photo.png", Some("image/png"), &png),
        (4, PHOTO_NAME, Some("IMAGE/JPEG"), b"\xff\xd8\xff\x00 jpeg"),
        (5, "untyped", None, b"no type sent"),
        (6, "empty.txt", Some("text/plain; charset=utf-8"), b""),
    ];
    for (id, name, content_type, bytes) in changes {
        assert_eq!(
            upload(addr, id, name, content_type, bytes).status,
            200,
            "{name}"
        );
    }
    let patch = r#"{"done":true,"priority":"high"}"#;
    assert_eq!(patch_json(addr, "/tasks/1", patch).status, 200);
    assert_eq!(
        patch_json(addr, "/tasks/6", r#"{"priority":"low"}"#).status,
        200
    );
    for id in [3, 7, 8] {
        assert_eq!(delete(addr, &format!("/tasks/{id}")).status, 204);
    }
    for id in [1, 2, 4, 5, 6] {
        expected_files.insert(id, served_attachment(addr, id));
    }
    assert_eq!(post_json(addr, "/tasks", r#"{"title":"x"}"#).status, 201);
    assert_eq!(delete(addr, "/tasks/9").status, 204);
    expected_files
}

/// Appends a torn, unacknowledged record to the last journal, as a crash mid-append leaves it.
pub fn tear_the_journal(dir: &Path) {
    let mut journals: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("journal.")
        })
        .collect();
    journals.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name["journal.".len()..].parse::<u64>().unwrap()
    });
    let journal = journals.last().unwrap();
    let mut bytes = fs::read(journal).unwrap();
    bytes.extend_from_slice(&[0x40, 0, 0]);
    fs::write(journal, bytes).unwrap();
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
