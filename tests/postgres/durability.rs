//! Faults under load on PostgreSQL (CONTRACT §14 "durability", "ids", "one deadline per
//! request", `/healthz`; issue 17's Faults): real `taskd` processes on a database of the
//! throwaway cluster, client threads creating tasks, uploading, patching and deleting
//! (`tests/pg_load`), and in the middle either one instance is killed with SIGKILL or
//! PostgreSQL itself is stopped with `pg_ctl -m immediate` and started again. Afterwards every
//! change a client saw acknowledged is there, nothing is half-written, and the committed
//! creates hold ids 1..n (a crash consumes no id).

use super::eventually;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::load::{
    create_patiently, patiently, verify, Attachment, EventKind, Load, Shape, Tracked,
};
use crate::binary::Taskd;
use crate::common::pg_support::{shared_cluster, Cluster};
use crate::common::{form_type, multipart_body, request_head, upload, Part};

/// How long a load phase may take to reach its number of acknowledged changes (a fraction of
/// a second on an idle machine, debug build).
const LOAD_PHASE: Duration = Duration::from_secs(20);

/// The 5 s deadline of CONTRACT §14, plus slack for a loaded test machine.
const DEADLINE_WITH_SLACK: Duration = Duration::from_millis(6500);

fn instance(url: &str) -> Taskd {
    Taskd::start(&["--database-url", url], &[])
}

#[test]
fn kill_9_of_an_instance_mid_load_loses_no_acknowledged_change() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let database = cluster.create_database();
    let url = cluster.url(&database);
    let (doomed, survivor) = (instance(&url), instance(&url));
    let load = Load::start(&[doomed.addr(), survivor.addr()], 4);
    let (mut half_sent, kept) = half_sent_upload(doomed.addr(), survivor.addr());
    assert!(load.wait_for(60, LOAD_PHASE), "the load is under way");
    let killed_at = Instant::now();
    // Dropping the process kills it with SIGKILL (std's `Child::kill`), mid-request.
    drop(doomed);
    assert!(load.wait_for(60, LOAD_PHASE), "the load goes on");
    let mut report = load.finish();
    let mut answer = Vec::new();
    let _ = half_sent.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    report.tracked.push(kept);

    report.assert_nothing_unexpected();
    let summary = report.summary();
    let before = report.events.iter().filter(|event| {
        event.instance == 0 && event.sent < killed_at && event.kind == EventKind::Acknowledged
    });
    assert!(before.count() >= 10, "the doomed instance took load first");
    // Only the killed instance may leave a request unanswered or refuse one.
    let lost = report.events.iter().filter(|event| {
        event.instance == 1 && matches!(event.kind, EventKind::NoAnswer(_) | EventKind::NotSent(_))
    });
    assert_eq!(lost.count(), 0, "{summary}");
    assert!(
        report.acknowledged_after(killed_at, 1) >= 50,
        "the load went on against the survivor"
    );

    let fresh = instance(&url);
    let instances = [survivor.addr(), fresh.addr()];
    let committed = verify::assert_nothing_lost(&instances, cluster, &database, &report.tracked);
    verify::assert_tampering_is_caught(fresh.addr(), &report.tracked);
    assert_eq!(
        create_patiently(fresh.addr(), "after the kill"),
        committed + 1
    );
    verify::assert_tampered_tables_are_caught(cluster, &database, committed + 1);
}

/// A request certainly in flight when `doomed` dies: a task whose attachment `other`
/// acknowledged, and a connection to `doomed` that has sent half of an upload replacing it.
/// The ledger's entry says the acknowledged attachment stays.
fn half_sent_upload(doomed: SocketAddr, other: SocketAddr) -> (TcpStream, Tracked) {
    let title = "its replacement was half sent";
    let id = create_patiently(other, title);
    let bytes = Arc::new(b"kept".repeat(1000));
    let uploaded = upload(other, id, "kept.txt", Some("text/plain"), &bytes);
    assert_eq!(uploaded.status, 200, "{}", uploaded.text());
    let body = multipart_body(&[Part::file("lost.txt", Some("text/plain"), &[b'x'; 100_000])]);
    let lines = [
        format!("Content-Type: {}", form_type()),
        format!("Content-Length: {}", body.len()),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut stream = TcpStream::connect(doomed).expect("connect to the doomed instance");
    stream
        .write_all(&request_head(
            doomed,
            "POST",
            &format!("/tasks/{id}/attachment"),
            &lines,
        ))
        .and_then(|()| stream.write_all(&body[..body.len() / 2]))
        .expect("send half an upload");
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let attachment = Attachment {
        filename: "kept.txt".to_owned(),
        content_type: "text/plain",
        bytes,
        etag: uploaded.header("ETag").map(str::to_owned),
    };
    let shape = Shape {
        title: title.to_owned(),
        priority: "medium",
        done: false,
        attachment: Some(attachment),
    };
    let kept = Tracked {
        id: Some(id),
        states: vec![Some(shape)],
    };
    (stream, kept)
}

#[test]
fn postgresql_stopped_immediately_mid_load_gives_prompt_503s_then_recovers_without_a_restart() {
    // A cluster of its own: stopping the shared one would fail the other tests.
    let Some(cluster) = Cluster::private() else {
        return;
    };
    let database = cluster.create_database();
    let url = cluster.url(&database);
    let server = instance(&url);
    let addr = server.addr();
    let load = Load::start(&[addr], 3);
    assert!(load.wait_for(40, LOAD_PHASE), "the load is under way");
    let stopped_at = Instant::now();
    cluster.stop_immediately();
    // Once the last answer is over a second old, /healthz says the database is away.
    thread::sleep(Duration::from_millis(1200));
    let asked = Instant::now();
    let health = patiently(addr, "GET", "/healthz", None);
    assert_eq!(health.status, 503, "{}", health.text());
    assert_eq!(
        health.json(),
        serde_json::json!({"status": "database unavailable"})
    );
    assert!(asked.elapsed() < Duration::from_millis(2500));
    cluster.start_again();
    let restarted_at = Instant::now();
    assert!(
        eventually(Duration::from_secs(10), || {
            patiently(addr, "GET", "/healthz", None).status == 200
        }),
        "/healthz is 200 again once PostgreSQL is back"
    );
    assert!(load.wait_for(40, LOAD_PHASE), "the load goes on");
    let report = load.finish();

    // During the outage: only 503s of the contract's shape, each within the deadline; never a
    // 500, never a connection cut or left hanging.
    report.assert_nothing_unexpected();
    let summary = report.summary();
    let unanswered =
        report.count(|kind| matches!(kind, EventKind::NoAnswer(_) | EventKind::NotSent(_)));
    assert_eq!(unanswered, 0, "{summary}");
    let slowest = report.events.iter().map(|event| event.took).max();
    assert!(
        slowest.is_some_and(|took| took < DEADLINE_WITH_SLACK),
        "{slowest:?}"
    );
    let refused = report.events.iter().filter(|event| {
        event.kind == EventKind::Unavailable
            && event.sent >= stopped_at
            && event.sent < restarted_at
    });
    assert!(refused.count() > 0, "the load met the outage");
    assert!(
        report.acknowledged_after(restarted_at, 0) >= 40,
        "changes succeed again without restarting taskd"
    );

    let committed = verify::assert_nothing_lost(&[addr], &cluster, &database, &report.tracked);
    verify::assert_tampering_is_caught(addr, &report.tracked);
    assert_eq!(create_patiently(addr, "after the restart"), committed + 1);
}
