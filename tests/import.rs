//! `taskd import` (CONTRACT §14, "moving up from one host"), run as the real binary against a
//! real PostgreSQL (tests/pg_support) on data directories written by a real taskd: every task,
//! attachment and the id counter arrive exactly; the directory is byte-for-byte and time-for-
//! time as it was; a second import, a directory in use, a missing one and a malformed command
//! line are refused with one line.

mod common;
#[allow(unused_imports)] // the fault proxy is for other tests
#[path = "pg_support/mod.rs"]
mod pg_support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{create_task, delete, get, patch_json, post_json, spawn_server_with, upload};
use pg_support::{shared_cluster, Cluster};
use taskd::test_hooks::{parse_http_date, Digest};
use taskd::Config;

const FIXTURE: &str = "tests/fixtures/data-dir-8c73c49";

/// A directory under the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
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
fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, (bool, Vec<u8>, SystemTime)> {
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

fn import(dir: &Path, url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_taskd"))
        .arg("import")
        .arg("--data-dir")
        .arg(dir)
        .args(["--database-url", url])
        .env_remove("TASKD_DATABASE_URL")
        .output()
        .expect("run taskd import")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A failure: exit `code`, stderr one line (plus `see taskd --help` for a usage error), no
/// password in it.
fn assert_refused(output: &Output, code: i32, mentions: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let expected_lines = if code == 2 { 2 } else { 1 };
    assert_eq!(lines.len(), expected_lines, "{text}");
    assert!(lines[0].contains(mentions), "{text}");
    assert!(output.stdout.is_empty());
}

fn database(cluster: &Cluster) -> (String, String) {
    let name = cluster.create_database();
    let url = cluster.url(&name);
    (name, url)
}

/// What the single host answered for an attachment: bytes, type, name, stored time.
struct Served {
    body: Vec<u8>,
    content_type: String,
    last_modified: u64,
}

fn served_attachment(addr: std::net::SocketAddr, id: u64) -> Served {
    let response = get(addr, &format!("/tasks/{id}/attachment"));
    assert_eq!(response.status, 200);
    let last_modified = parse_http_date(response.header("last-modified").unwrap()).unwrap();
    Served {
        body: response.body.clone(),
        content_type: response.header("content-type").unwrap().to_owned(),
        last_modified: last_modified.duration_since(UNIX_EPOCH).unwrap().as_secs(),
    }
}

#[test]
fn a_data_dir_arrives_exactly_and_is_left_untouched() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let dir = TempDir::new("full");
    let titles = [
        "Buy milk",
        "Photo",
        "gone",
        "Résumé für Zoë — 日本語",
        "nul \u{0} inside",
        "plain",
        "deleted high 1",
        "deleted high 2",
    ];
    let png: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut expected_files = BTreeMap::new();
    {
        let server = spawn_server_with(Config::ephemeral().with_data_dir(&dir.0));
        let addr = server.addr();
        for (index, title) in titles.iter().enumerate() {
            assert_eq!(create_task(addr, title), index as u64 + 1);
        }
        assert_eq!(
            patch_json(addr, "/tasks/1", r#"{"done":true,"priority":"high"}"#).status,
            200
        );
        assert_eq!(
            patch_json(addr, "/tasks/6", r#"{"priority":"low"}"#).status,
            200
        );
        assert_eq!(
            upload(addr, 1, "old.txt", Some("text/plain"), b"replaced").status,
            200
        );
        assert_eq!(
            upload(
                addr,
                1,
                "notes.txt",
                Some("text/plain; charset=utf-8"),
                b"hello\n"
            )
            .status,
            200
        );
        assert_eq!(
            upload(addr, 2, "photo.png", Some("image/png"), &png).status,
            200
        );
        let photo_name = "résumé 日本.jpg";
        assert_eq!(
            upload(
                addr,
                4,
                photo_name,
                Some("IMAGE/JPEG"),
                b"\xff\xd8\xff\x00 jpeg"
            )
            .status,
            200
        );
        assert_eq!(
            upload(addr, 5, "untyped", None, b"no type sent").status,
            200
        );
        assert_eq!(
            upload(addr, 6, "empty.bin", Some("text/plain; charset=utf-8"), b"").status,
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
    }
    // A torn, unacknowledged tail, as a crash mid-append leaves it: ignored, not cut.
    let journal = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("journal.")
        })
        .unwrap();
    let mut bytes = fs::read(&journal).unwrap();
    bytes.extend_from_slice(&[0x40, 0, 0]);
    fs::write(&journal, bytes).unwrap();
    let before = fingerprint(&dir.0);
    assert!(before.contains_key(Path::new("lock")));

    let (db, url) = database(cluster);
    let output = import(&dir.0, &url);
    let summary = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(summary.lines().count(), 1, "{summary}");
    assert!(
        summary.starts_with("imported 5 tasks, 5 attachments ("),
        "{summary}"
    );
    assert!(summary.contains(", next id 10 from "), "{summary}");
    assert!(
        summary.contains(":[redacted]@") && !summary.contains(&cluster.password),
        "{summary}"
    );
    assert_eq!(fingerprint(&dir.0), before, "the data dir is unchanged");

    // The tasks: exact title bytes, priority, done; the counter past the deleted highest ids.
    let rows = cluster.psql(
        &db,
        "SELECT id, encode(title, 'hex'), priority, done FROM taskd.tasks ORDER BY id",
    );
    let expected: Vec<String> = [
        (1, "high", "t"),
        (2, "medium", "f"),
        (4, "medium", "f"),
        (5, "medium", "f"),
        (6, "low", "f"),
    ]
    .iter()
    .map(|&(id, priority, done)| {
        let title: String = titles[id - 1].bytes().map(|b| format!("{b:02x}")).collect();
        format!("{id}|{title}|{priority}|{done}")
    })
    .collect();
    assert_eq!(rows, expected.join("\n"));
    assert_eq!(
        cluster.psql(&db, "SELECT next_id FROM taskd.id_counter"),
        "10"
    );
    let counts = cluster.psql(&db, "SELECT done, priority, tasks FROM taskd.task_counts WHERE tasks > 0 ORDER BY done, priority");
    assert_eq!(counts, "f|low|1\nf|medium|3\nt|high|1");

    // The attachments: bytes from their chunks, type, name, size, digest, stored time.
    for (id, served) in &expected_files {
        let row = cluster.psql(
            &db,
            &format!(
                "SELECT convert_from(a.content_type, 'UTF8'), a.size, a.chunk_size, encode(a.digest, 'hex'), \
                        extract(epoch FROM a.stored_at)::bigint, a.task_id, a.retired_at IS NULL, \
                        (SELECT count(*) FROM taskd.attachment_chunks c WHERE c.attachment_id = a.id) \
                 FROM taskd.tasks t JOIN taskd.attachments a ON a.id = t.attachment_id WHERE t.id = {id}"
            ),
        );
        let chunks = served.body.len().div_ceil(256 * 1024);
        let digest = Digest::of(&served.body).to_hex();
        let expected = format!(
            "{}|{}|262144|{digest}|{}|{id}|t|{chunks}",
            served.content_type,
            served.body.len(),
            served.last_modified
        );
        assert_eq!(row, expected, "task {id}");
        let hex = cluster.psql(
            &db,
            &format!(
                "SELECT coalesce(encode(string_agg(c.bytes, ''::bytea ORDER BY c.seq), 'hex'), '') \
                 FROM taskd.tasks t JOIN taskd.attachment_chunks c ON c.attachment_id = t.attachment_id WHERE t.id = {id}"
            ),
        );
        let original: String = served.body.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            hex == original,
            "task {id}: the chunks reassemble to the original bytes"
        );
    }
    let names = cluster.psql(&db, "SELECT t.id, encode(a.filename, 'hex') FROM taskd.tasks t JOIN taskd.attachments a ON a.id = t.attachment_id WHERE t.id = 4");
    let pdf_hex: String = "résumé 日本.jpg"
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(names, format!("4|{pdf_hex}"));
    assert_eq!(
        cluster.psql(&db, "SELECT count(*) FROM taskd.attachments"),
        "5",
        "the replaced version is not copied"
    );

    // A second import changes nothing and says why.
    let again = import(&dir.0, &url);
    assert_refused(&again, 1, "already given out ids");
    assert!(!stderr(&again).contains(&cluster.password));
    assert_eq!(
        cluster.psql(&db, "SELECT count(*), max(id) FROM taskd.tasks"),
        "5|6"
    );
    assert_eq!(
        cluster.psql(&db, "SELECT next_id FROM taskd.id_counter"),
        "10"
    );
    assert_eq!(fingerprint(&dir.0), before);
}

#[test]
fn an_empty_data_dir_copies_its_counter() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let dir = TempDir::new("empty");
    {
        let server = spawn_server_with(Config::ephemeral().with_data_dir(&dir.0));
        let addr = server.addr();
        for title in ["a", "b"] {
            create_task(addr, title);
        }
        for id in [1, 2] {
            assert_eq!(delete(addr, &format!("/tasks/{id}")).status, 204);
        }
    }
    let before = fingerprint(&dir.0);
    let (db, url) = database(cluster);
    let output = import(&dir.0, &url);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.starts_with("imported 0 tasks, 0 attachments (0 B), next id 3 from "),
        "{summary}"
    );
    assert_eq!(
        cluster.psql(
            &db,
            "SELECT next_id, (SELECT count(*) FROM taskd.tasks) FROM taskd.id_counter"
        ),
        "3|0"
    );
    assert_eq!(fingerprint(&dir.0), before);
    // The counter alone counts as having given out ids.
    assert_refused(&import(&dir.0, &url), 1, "next id 3");
}

/// The release before stored times and digests: the blob's mtime is the stored time, the
/// digest is computed from the bytes.
#[test]
fn the_data_dir_of_8c73c49_imports() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let dir = TempDir::new("old");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    fs::create_dir_all(dir.0.join("blobs")).unwrap();
    for name in ["snapshot.4", "journal.4"] {
        fs::copy(fixture.join(name), dir.0.join(name)).unwrap();
    }
    let mut blobs = BTreeMap::new();
    for (n, entry) in fs::read_dir(fixture.join("blobs")).unwrap().enumerate() {
        let entry = entry.unwrap();
        let target = dir.0.join("blobs").join(entry.file_name());
        fs::copy(entry.path(), &target).unwrap();
        let seconds = 1_790_000_000 + n as u64 * 1000;
        let file = fs::OpenOptions::new().write(true).open(&target).unwrap();
        file.set_modified(UNIX_EPOCH + std::time::Duration::from_secs(seconds))
            .unwrap();
        blobs.insert(Digest::of(&fs::read(&target).unwrap()).to_hex(), seconds);
    }
    let before = fingerprint(&dir.0);
    let (db, url) = database(cluster);
    let output = import(&dir.0, &url);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.starts_with("imported 4 tasks, 4 attachments (648 B), next id 65 from "),
        "{summary}"
    );
    assert_eq!(fingerprint(&dir.0), before);
    let rows = cluster.psql(&db, "SELECT encode(digest, 'hex'), extract(epoch FROM stored_at)::bigint FROM taskd.attachments");
    let found: BTreeMap<String, u64> = rows
        .lines()
        .map(|line| {
            let (digest, seconds) = line.split_once('|').unwrap();
            (digest.to_owned(), seconds.parse().unwrap())
        })
        .collect();
    assert_eq!(
        found, blobs,
        "digests computed from the blobs, stored times from their mtimes"
    );
    assert_eq!(
        cluster.psql(
            &db,
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM taskd.tasks"
        ),
        "1,2,3,64"
    );
}

#[test]
fn a_data_dir_in_use_missing_or_foreign_is_refused() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let (db, url) = database(cluster);
    let dir = TempDir::new("busy");
    {
        let server = spawn_server_with(Config::ephemeral().with_data_dir(&dir.0));
        create_task(server.addr(), "held");
        let before = fingerprint(&dir.0);
        assert_refused(&import(&dir.0, &url), 1, "in use by a running taskd");
        assert_eq!(fingerprint(&dir.0), before);
    }
    assert_refused(&import(&dir.0.join("missing"), &url), 1, "missing");
    let foreign = TempDir::new("foreign");
    fs::create_dir_all(&foreign.0).unwrap();
    fs::write(foreign.0.join("notes.txt"), "not taskd's").unwrap();
    assert_refused(&import(&foreign.0, &url), 1, "not a taskd data directory");
    // Refused before connecting: the database was not even given the schema.
    assert_eq!(
        cluster.psql(&db, "SELECT to_regclass('taskd.tasks') IS NULL"),
        "t"
    );
    // Once the taskd has stopped, the same directory imports.
    let output = import(&dir.0, &url);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_malformed_command_line_exits_2() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_taskd"))
            .arg("import")
            .args(args)
            .env_remove("TASKD_DATABASE_URL")
            .output()
            .unwrap()
    };
    assert_refused(&run(&["--data-dir", "/tmp"]), 2, "--database-url");
    assert_refused(
        &run(&["--database-url", "postgres://h/db"]),
        2,
        "--data-dir",
    );
    assert_refused(
        &run(&[
            "--data-dir",
            "/a",
            "--data-dir",
            "/b",
            "--database-url",
            "u",
        ]),
        2,
        "twice",
    );
    assert_refused(&run(&["--data-dri", "/a"]), 2, "unknown argument");
}
