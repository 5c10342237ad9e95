//! `taskd import` (CONTRACT §14, "moving up from one host"), run as the real binary against a
//! real PostgreSQL (tests/pg_support) on data directories written by a real taskd: every task,
//! attachment and the id counter arrive exactly; the directory is byte-for-byte and time-for-
//! time as it was; a second import, a directory in use, a missing one and a malformed command
//! line are refused with one line.

#![cfg(feature = "postgres")]

use crate::common;
use crate::import_support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::UNIX_EPOCH;

use common::pg_support::shared_cluster;
use common::{create_task, delete, spawn_server_with};
use import_support::*;
use taskd::test_hooks::Digest;
use taskd::Config;

#[test]
fn a_data_dir_arrives_exactly_and_is_left_untouched() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let dir = TempDir::new("full");
    let expected_files = {
        let server = spawn_server_with(Config::ephemeral().with_data_dir(&dir.0));
        fill(server.addr())
    };
    tear_the_journal(&dir.0);
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
        let title = hex(TITLES[id - 1].as_bytes());
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
        let stored = cluster.psql(
            &db,
            &format!(
                "SELECT coalesce(encode(string_agg(c.bytes, ''::bytea ORDER BY c.seq), 'hex'), '') \
                 FROM taskd.tasks t JOIN taskd.attachment_chunks c ON c.attachment_id = t.attachment_id WHERE t.id = {id}"
            ),
        );
        let original = hex(&served.body);
        assert!(
            stored == original,
            "task {id}: the chunks reassemble to the original bytes"
        );
    }
    let names = cluster.psql(&db, "SELECT t.id, encode(a.filename, 'hex') FROM taskd.tasks t JOIN taskd.attachments a ON a.id = t.attachment_id WHERE t.id = 4");
    assert_eq!(names, format!("4|{}", hex(PHOTO_NAME.as_bytes())));
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
