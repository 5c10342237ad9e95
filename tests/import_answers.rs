//! After `taskd import`, a taskd on the database answers exactly as the single host did
//! (CONTRACT §14, "moving up from one host"): the same status, headers (but `Date`) and body for
//! tasks, list pages and attachments (`ETag`, `Last-Modified`, `Content-Type`,
//! `Content-Disposition`, ranges across a chunk boundary), and ids continue where DIR left off.

#![cfg(feature = "postgres")]

use crate::common;
use crate::import_support;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use common::pg_support::shared_cluster;
use common::{request, spawn_server_with, without_date, Response};
use import_support::{fill, import, stderr, TempDir, FIXTURE};
use taskd::Config;

/// The ids asked for: every one [`fill`] gave out, and the next.
const IDS: [u64; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/// Each request as `(method, target, headers)`.
/// A request: method, target, headers.
type Request = (&'static str, String, Vec<(&'static str, &'static str)>);

fn requests(ids: &[u64]) -> Vec<Request> {
    let mut all = Vec::new();
    let lists = [
        "/tasks",
        "/tasks?limit=2",
        "/tasks?skip=2&limit=2",
        "/tasks?done=false",
        "/tasks?priority=medium&skip=1&limit=1",
        "/tasks?done=true&priority=high",
        "/tasks?skip=10",
    ];
    for target in lists {
        all.push(("GET", target.to_owned(), Vec::new()));
    }
    for &id in ids {
        all.push(("GET", format!("/tasks/{id}"), Vec::new()));
        all.push(("GET", format!("/tasks/{id}/attachment"), Vec::new()));
        all.push(("HEAD", format!("/tasks/{id}/attachment"), Vec::new()));
    }
    let ranges = [
        "bytes=0-9",
        "bytes=262140-262150",
        "bytes=-5",
        "bytes=0-1,524280-524300",
    ];
    for range in ranges {
        all.push((
            "GET",
            "/tasks/2/attachment".to_owned(),
            vec![("Range", range)],
        ));
    }
    all.push((
        "GET",
        "/tasks/6/attachment".to_owned(),
        vec![("Range", "bytes=0-0")],
    ));
    all
}

fn answers(addr: SocketAddr, ids: &[u64]) -> Vec<(String, Response)> {
    requests(ids)
        .into_iter()
        .map(|(method, target, headers)| {
            let response = request(addr, method, &target, &headers, b"");
            (format!("{method} {target} {headers:?}"), response)
        })
        .collect()
}

/// Conditional requests with the single host's validators: the same 304s on the database.
fn revalidations(addr: SocketAddr, before: &[(String, Response)]) -> Vec<(String, u16)> {
    let mut statuses = Vec::new();
    for (label, response) in before {
        let Some(etag) = response.header("etag") else {
            continue;
        };
        let target = label.split(' ').nth(1).unwrap();
        let method = label.split(' ').next().unwrap();
        let again = request(addr, method, target, &[("If-None-Match", etag)], b"");
        statuses.push((format!("{label} If-None-Match"), again.status));
        if let Some(date) = response.header("last-modified") {
            let again = request(addr, method, target, &[("If-Modified-Since", date)], b"");
            statuses.push((format!("{label} If-Modified-Since"), again.status));
        }
    }
    statuses
}

#[test]
fn the_database_answers_exactly_as_the_data_dir_did() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let dir = TempDir::new("answers");
    let (before, revalidated_before) = {
        let server = spawn_server_with(Config::ephemeral().with_data_dir(&dir.0));
        fill(server.addr());
        let before = answers(server.addr(), &IDS);
        let revalidated = revalidations(server.addr(), &before);
        (before, revalidated)
    };
    assert!(before.iter().any(|(_, r)| r.status == 206));
    let database = cluster.create_database();
    let url = cluster.url(&database);
    let output = import(&dir.0, &url);
    assert!(output.status.success(), "{}", stderr(&output));

    let server = spawn_server_with(Config::ephemeral().with_database_url(&url));
    let after = answers(server.addr(), &IDS);
    assert_eq!(before.len(), after.len());
    for ((label, was), (_, is)) in before.iter().zip(&after) {
        assert_eq!(is.status, was.status, "{label}");
        assert_eq!(without_date(is), without_date(was), "{label}");
        assert!(is.body == was.body, "{label}: the same body");
    }
    assert_eq!(revalidations(server.addr(), &before), revalidated_before);
    // Ids continue where the data dir left off: past the deleted 7, 8 and 9.
    let created = request(
        server.addr(),
        "POST",
        "/tasks",
        &[("Content-Type", "application/json")],
        br#"{"title":"after the move"}"#,
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(created.json()["id"], 10);
    let duplicate = request(
        server.addr(),
        "POST",
        "/tasks",
        &[("Content-Type", "application/json")],
        "{\"title\":\"nul \\u0000 inside\"}".as_bytes(),
    );
    assert_eq!(
        duplicate.status, 409,
        "the imported title with NUL is taken"
    );
}

/// The data dir of 8c73c49 (no stored times, no digests): the database answers with the blob
/// mtimes and the computed digests the data dir answers with.
#[test]
fn the_database_answers_as_the_8c73c49_data_dir_did() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let ids = [1, 2, 3, 4, 63, 64, 65];
    // Two identical copies: one served by a taskd (which may record digests as it computes
    // them), one imported as 8c73c49 left it.
    let served = fixture_copy("fixture-served");
    let imported = fixture_copy("fixture-imported");
    let before = {
        let server = spawn_server_with(Config::ephemeral().with_data_dir(&served.0));
        answers(server.addr(), &ids)
    };
    let downloads = before.iter().filter(|(label, r)| {
        label.starts_with("GET") && label.contains("/attachment") && r.status == 200
    });
    assert_eq!(downloads.count(), 4, "the fixture's four attachments");
    let database = cluster.create_database();
    let url = cluster.url(&database);
    let output = import(&imported.0, &url);
    assert!(output.status.success(), "{}", stderr(&output));
    let server = spawn_server_with(Config::ephemeral().with_database_url(&url));
    let after = answers(server.addr(), &ids);
    for ((label, was), (_, is)) in before.iter().zip(&after) {
        assert_eq!(is.status, was.status, "{label}");
        assert_eq!(without_date(is), without_date(was), "{label}");
        assert!(is.body == was.body, "{label}: the same body");
    }
}

/// A copy of the fixture whose blobs have fixed mtimes (git keeps none).
fn fixture_copy(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    fs::create_dir_all(dir.0.join("blobs")).unwrap();
    for file in ["snapshot.4", "journal.4"] {
        fs::copy(fixture.join(file), dir.0.join(file)).unwrap();
    }
    for entry in fs::read_dir(fixture.join("blobs")).unwrap() {
        let entry = entry.unwrap();
        let target = dir.0.join("blobs").join(entry.file_name());
        fs::copy(entry.path(), &target).unwrap();
        let file = fs::OpenOptions::new().write(true).open(&target).unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let seconds = 1_790_000_000 + u64::from_str_radix(&name, 16).unwrap() * 1000;
        file.set_modified(UNIX_EPOCH + Duration::from_secs(seconds))
            .unwrap();
    }
    dir
}
