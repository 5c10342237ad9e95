//! `/healthz` and the request deadline on PostgreSQL (CONTRACT §14 "one deadline per request",
//! "GET /healthz"), over real HTTP against a real PostgreSQL (the throwaway cluster of
//! `tests/pg_support`): a database that is stopped gives 503s within the deadline and `/healthz`
//! 503, and both recover without a restart; a network that goes silent mid-request gives a 503
//! within the deadline, never a hang. A pool that is merely busy is in [`super::busy`].

use super::load::{exchange, Outcome};
use crate::common::pg_support::{shared_cluster, Cluster, FaultProxy, ProxyMode};
use crate::common::*;

use super::eventually;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use taskd::Config;

#[test]
fn healthz_is_503_while_the_database_is_stopped_and_200_again_after_it_restarts() {
    let Some(cluster) = Cluster::private() else {
        return;
    };
    let url = cluster.url(&cluster.create_database());
    let server = spawn_server_with(Config::ephemeral().with_database_url(url));
    let addr = server.addr();
    assert_eq!(get(addr, "/healthz").status, 200);
    create_task(addr, "before the stop");
    cluster.stop_immediately();
    // Within the deadline, never a hang or a 500.
    let started = Instant::now();
    let refused = get(addr, "/tasks/1");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_error(&refused, 503, "Database unavailable");
    assert_eq!(refused.header("Retry-After"), Some("1"));
    // Once the last answer is more than a second old.
    thread::sleep(Duration::from_millis(1100));
    let health = get(addr, "/healthz");
    assert_eq!(health.status, 503);
    assert_eq!(
        health.json(),
        serde_json::json!({"status": "database unavailable"})
    );
    assert_eq!(health.header("Cache-Control"), Some("no-store"));
    // Routes that need no database keep answering.
    assert_eq!(get(addr, "/openapi.json").status, 200);
    cluster.start_again();
    assert!(eventually(Duration::from_secs(15), || get(
        addr, "/healthz"
    )
    .status
        == 200));
    assert!(eventually(Duration::from_secs(10), || get(
        addr, "/tasks/1"
    )
    .status
        == 200));
    assert_eq!(get(addr, "/tasks/1").json()["title"], "before the stop");
}

#[test]
fn a_database_that_goes_silent_mid_request_gives_503_within_the_deadline() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let database = cluster.create_database();
    let proxy = FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], cluster.port)));
    let url = format!(
        "postgres://postgres:{}@127.0.0.1:{}/{database}?sslmode=disable",
        cluster.password,
        proxy.port()
    );
    let server = spawn_server_with(Config::ephemeral().with_database_url(url));
    let addr = server.addr();
    let id = create_task(addr, "before the freeze");
    proxy.set_mode(ProxyMode::Freeze);
    let started = Instant::now();
    // Not `get`: its 5 s read timeout races the server's 5 s deadline, which starts later.
    let request = request_head(addr, "GET", &format!("/tasks/{id}"), &[]);
    let frozen = match exchange(addr, &request) {
        Outcome::Answered(response) => response,
        other => panic!("no answer: {other:?}"),
    };
    let took = started.elapsed();
    assert_error(&frozen, 503, "Database unavailable");
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(7),
        "{took:?}"
    );
    proxy.set_mode(ProxyMode::Forward);
    assert!(eventually(Duration::from_secs(10), || get(
        addr,
        &format!("/tasks/{id}")
    )
    .status
        == 200));
}
