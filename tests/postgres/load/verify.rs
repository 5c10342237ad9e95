//! The judgement after a fault (CONTRACT §14 "durability", "ids"): every acknowledged change is
//! visible through an instance (task fields; attachment bytes, type, name and the `ETag` its
//! upload's 200 carried), every task in doubt is in one of its possible states, nothing is
//! listed that no client created, the committed creates hold ids 1..n with no gap, and the
//! taskd schema holds nothing half-written (queried directly with SQL: every version's chunks
//! complete, no chunk without its version, no current version without its task, counts equal
//! to the rows, the counter just past n).
//!
//! It returns the problems rather than panicking, so a test can also check that a ledger with
//! one change tampered with is caught.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;

use super::patiently;
use super::{Attachment, Shape, Tracked};
use crate::common::after_head;
use crate::common::pg_support::Cluster;

/// What the verification found.
#[derive(Debug)]
pub struct Findings {
    pub problems: Vec<String>,
    /// How many creates committed (acknowledged, or in doubt and found): the ids 1..=n.
    pub committed: u64,
}

/// Checks `ledger` against what the instance at `addr` answers.
pub fn through_http(addr: SocketAddr, ledger: &[Tracked]) -> Findings {
    let mut problems = Vec::new();
    let listed = list_everything(addr);
    let mut committed_ids = Vec::new();
    for tracked in ledger {
        let id = tracked.id.or_else(|| find_by_title(&listed, tracked));
        let Some(id) = id else {
            // A create in doubt that did not commit: nothing to see, nothing listed.
            continue;
        };
        committed_ids.push(id);
        let observed = observe(addr, id);
        let agrees = |state: &Option<Shape>| match (state, &observed) {
            (None, Observed::Absent) => true,
            (Some(expected), Observed::Present(seen)) => same(expected, seen),
            _ => false,
        };
        if !tracked.states.iter().any(agrees) {
            problems.push(format!(
                "task {id}: the instance answers {} but the client may only see {}",
                describe_observed(&observed),
                tracked
                    .states
                    .iter()
                    .map(describe)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
    }
    let known: BTreeSet<u64> = committed_ids.iter().copied().collect();
    for id in listed.keys().filter(|id| !known.contains(id)) {
        problems.push(format!("task {id} is listed but no client created it"));
    }
    committed_ids.sort_unstable();
    let n = committed_ids.len() as u64;
    if committed_ids != (1..=n).collect::<Vec<_>>() {
        problems.push(format!(
            "the committed creates do not hold ids 1..={n} exactly: {committed_ids:?}"
        ));
    }
    Findings {
        problems,
        committed: n,
    }
}

/// The taskd schema's own consistency, read with the test's SQL session; `committed` creates
/// must have moved the counter to exactly `committed + 1` (a crash consumes no id).
pub fn in_the_tables(cluster: &Cluster, database: &str, committed: u64) -> Vec<String> {
    let checks = [
        (
            "attachment versions whose chunks are not all there",
            "SELECT count(*) FROM taskd.attachments a LEFT JOIN (SELECT attachment_id, count(*) AS n, \
             sum(length(bytes)) AS total, max(seq) AS last FROM taskd.attachment_chunks \
             GROUP BY attachment_id) c ON c.attachment_id = a.id \
             WHERE coalesce(c.total, 0) <> a.size \
                OR coalesce(c.n, 0) <> (a.size + a.chunk_size - 1) / a.chunk_size \
                OR coalesce(c.last, -1) <> coalesce(c.n, 0) - 1",
        ),
        (
            "chunks without their version",
            "SELECT count(*) FROM taskd.attachment_chunks c \
             WHERE NOT EXISTS (SELECT 1 FROM taskd.attachments a WHERE a.id = c.attachment_id)",
        ),
        (
            "current versions that no task points at",
            "SELECT count(*) FROM taskd.attachments a WHERE a.retired_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM taskd.tasks t WHERE t.attachment_id = a.id)",
        ),
        (
            "tasks pointing at a retired version or another task's",
            "SELECT count(*) FROM taskd.tasks t JOIN taskd.attachments a ON a.id = t.attachment_id \
             WHERE a.retired_at IS NOT NULL OR a.task_id <> t.id",
        ),
        (
            "task_counts rows that differ from the tasks",
            "SELECT count(*) FROM taskd.task_counts c WHERE c.tasks <> (SELECT count(*) \
             FROM taskd.tasks t WHERE t.done = c.done AND t.priority = c.priority)",
        ),
    ];
    let mut problems: Vec<String> = checks
        .iter()
        .filter_map(|(what, sql)| {
            let found = cluster.psql(database, sql);
            (found != "0").then(|| format!("{what}: {found}"))
        })
        .collect();
    let next = cluster.psql(database, "SELECT next_id FROM taskd.id_counter");
    if next != (committed + 1).to_string() {
        problems.push(format!(
            "the id counter is at {next} after {committed} committed creates: an id was lost or reused"
        ));
    }
    problems
}

/// One task as the instance shows it.
#[derive(Debug)]
enum Observed {
    Absent,
    Present(Shape),
    /// An answer no ledger state can produce (a 5xx, a listed attachment that cannot be read).
    Broken(String),
}

fn observe(addr: SocketAddr, id: u64) -> Observed {
    let task = patiently(addr, "GET", &format!("/tasks/{id}"), None);
    match task.status {
        404 => return Observed::Absent,
        200 => {}
        other => return Observed::Broken(format!("GET /tasks/{id}: {other} {}", task.text())),
    }
    let json = task.json();
    let priority = match json["priority"].as_str() {
        Some("low") => "low",
        Some("medium") => "medium",
        Some("high") => "high",
        _ => "?",
    };
    let mut shape = Shape {
        title: json["title"].as_str().unwrap_or("?").to_owned(),
        priority,
        done: json["done"].as_bool().unwrap_or(false),
        attachment: None,
    };
    if json["attachment"].is_null() {
        return Observed::Present(shape);
    }
    let filename = json["attachment"]["filename"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    let size = json["attachment"]["size"].as_u64();
    let download = patiently(addr, "GET", &format!("/tasks/{id}/attachment"), None);
    let bytes = after_head(&download).to_vec();
    let disposition = format!("attachment; filename=\"{filename}\"");
    if download.status != 200
        || size != Some(bytes.len() as u64)
        || download.header("Content-Disposition") != Some(disposition.as_str())
    {
        return Observed::Broken(format!(
            "attachment of task {id}: {} with {} bytes, {:?}, while the task says {filename} of {size:?}",
            download.status,
            bytes.len(),
            download.header("Content-Disposition")
        ));
    }
    let content_type = match download.header("Content-Type") {
        Some("text/plain") => "text/plain",
        Some("image/png") => "image/png",
        Some("image/jpeg") => "image/jpeg",
        _ => "?",
    };
    shape.attachment = Some(Attachment {
        filename,
        content_type,
        bytes: Arc::new(bytes),
        etag: download.header("ETag").map(str::to_owned),
    });
    Observed::Present(shape)
}

/// Whether what is seen is what was sent (an `ETag` unknown to the ledger matches any).
fn same(expected: &Shape, seen: &Shape) -> bool {
    let attachments = match (&expected.attachment, &seen.attachment) {
        (None, None) => true,
        (Some(sent), Some(got)) => {
            sent.filename == got.filename
                && sent.content_type == got.content_type
                && sent.bytes == got.bytes
                && (sent.etag.is_none() || sent.etag == got.etag)
        }
        _ => false,
    };
    expected.title == seen.title
        && expected.priority == seen.priority
        && expected.done == seen.done
        && attachments
}

/// Every task, through the list in pages of 1000 (CONTRACT §7's largest `limit`).
fn list_everything(addr: SocketAddr) -> BTreeMap<u64, Value> {
    let mut tasks = BTreeMap::new();
    loop {
        let target = format!("/tasks?skip={}&limit=1000", tasks.len());
        let page = patiently(addr, "GET", &target, None);
        assert_eq!(page.status, 200, "the list: {}", page.text());
        let items = page.json().as_array().cloned().unwrap_or_default();
        let count = items.len();
        for task in items {
            tasks.insert(task["id"].as_u64().unwrap_or(0), task);
        }
        if count < 1000 {
            return tasks;
        }
    }
}

/// The id of a task in doubt whose create committed: its title is unique.
fn find_by_title(listed: &BTreeMap<u64, Value>, tracked: &Tracked) -> Option<u64> {
    let title = tracked.states.iter().flatten().next()?.title.as_str();
    listed
        .iter()
        .find(|(_, task)| task["title"].as_str() == Some(title))
        .map(|(id, _)| *id)
}

fn describe(state: &Option<Shape>) -> String {
    match state {
        None => "no task".to_owned(),
        Some(shape) => describe_shape(shape),
    }
}

fn describe_observed(observed: &Observed) -> String {
    match observed {
        Observed::Absent => "no task".to_owned(),
        Observed::Present(shape) => describe_shape(shape),
        Observed::Broken(what) => what.clone(),
    }
}

/// The fields without the bytes (a digest of them would need a dependency: length and ends).
fn describe_shape(shape: &Shape) -> String {
    let attachment = shape.attachment.as_ref().map_or("none".to_owned(), |a| {
        format!(
            "{} {} of {} bytes (first {:?}, last {:?}) tag {:?}",
            a.filename,
            a.content_type,
            a.bytes.len(),
            a.bytes.first(),
            a.bytes.last(),
            a.etag
        )
    });
    format!(
        "{:?} {} done={} attachment {attachment}",
        shape.title, shape.priority, shape.done
    )
}

/// The whole judgement, through each of `instances` and in the tables; panics listing every
/// problem. Returns how many creates committed (the next id is one more).
pub fn assert_nothing_lost(
    instances: &[SocketAddr],
    cluster: &Cluster,
    database: &str,
    ledger: &[Tracked],
) -> u64 {
    let mut committed = None;
    for &addr in instances {
        let findings = through_http(addr, ledger);
        assert!(
            findings.problems.is_empty(),
            "through {addr}:\n{}",
            findings.problems.join("\n")
        );
        assert!(committed.is_none_or(|n| n == findings.committed));
        committed = Some(findings.committed);
    }
    let committed = committed.expect("at least one instance");
    let problems = in_the_tables(cluster, database, committed);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    committed
}

/// The checker can fail: a ledger that forgot one acknowledged create, and one that remembers
/// an acknowledged upload with other bytes, are both caught through `addr`.
pub fn assert_tampering_is_caught(addr: SocketAddr, ledger: &[Tracked]) {
    let mut tampered = ledger.to_vec();
    let current = |tracked: &Tracked| {
        tracked.settled() && tracked.id.is_some() && tracked.states[0].is_some()
    };
    let uploaded = tampered.iter().position(|tracked| {
        current(tracked)
            && tracked.states[0]
                .as_ref()
                .and_then(|shape| shape.attachment.as_ref())
                .is_some_and(|attachment| !attachment.bytes.is_empty())
    });
    let uploaded = uploaded.expect("the load acknowledged some upload");
    let (changed_id, mut bytes) = {
        let tracked = &tampered[uploaded];
        let shape = tracked.states[0].as_ref().expect("current");
        let attachment = shape.attachment.as_ref().expect("uploaded");
        (tracked.id, attachment.bytes.as_ref().clone())
    };
    bytes[0] ^= 1;
    if let Some(Some(shape)) = tampered[uploaded].states.first_mut() {
        if let Some(attachment) = shape.attachment.as_mut() {
            attachment.bytes = Arc::new(bytes);
        }
    }
    let forgotten = tampered
        .iter()
        .enumerate()
        .position(|(i, tracked)| i != uploaded && current(tracked))
        .expect("the load acknowledged another create");
    let forgotten_id = tampered.remove(forgotten).id;
    let problems = through_http(addr, &tampered).problems;
    for id in [changed_id, forgotten_id].into_iter().flatten() {
        let names = |problem: &&String| {
            problem.starts_with(&format!("task {id}:"))
                || problem.starts_with(&format!("task {id} is listed"))
        };
        assert!(
            problems.iter().any(|problem| names(&problem)),
            "task {id} tampered with, yet: {problems:#?}"
        );
    }
}

/// The table checks can fail: after one defect of each kind is made by hand (a chunk gone, a
/// chunk with no version, a current version no task points at, a task pointing at a retired
/// version, a count off by one, an id consumed), [`in_the_tables`] names every one. Run last:
/// it breaks the database.
pub fn assert_tampered_tables_are_caught(cluster: &Cluster, database: &str, committed: u64) {
    cluster.psql(
        database,
        "DELETE FROM taskd.attachment_chunks WHERE (attachment_id, seq) IN \
           (SELECT attachment_id, seq FROM taskd.attachment_chunks LIMIT 1); \
         SET session_replication_role = replica; \
         INSERT INTO taskd.attachment_chunks (attachment_id, seq, bytes) VALUES (-1, 0, 'x'); \
         SET session_replication_role = DEFAULT; \
         UPDATE taskd.tasks SET attachment_id = NULL WHERE id = \
           (SELECT id FROM taskd.tasks WHERE attachment_id IS NOT NULL ORDER BY id LIMIT 1); \
         UPDATE taskd.attachments SET retired_at = now() WHERE id = \
           (SELECT attachment_id FROM taskd.tasks WHERE attachment_id IS NOT NULL \
            ORDER BY id LIMIT 1); \
         UPDATE taskd.task_counts SET tasks = tasks + 1 WHERE done AND priority = 'low'; \
         UPDATE taskd.id_counter SET next_id = next_id + 1",
    );
    let problems = in_the_tables(cluster, database, committed);
    let expected = [
        "attachment versions whose chunks are not all there",
        "chunks without their version",
        "current versions that no task points at",
        "tasks pointing at a retired version",
        "task_counts rows that differ",
        "the id counter",
    ];
    for what in expected {
        assert!(
            problems.iter().any(|problem| problem.starts_with(what)),
            "{what} made by hand, yet: {problems:#?}"
        );
    }
}
