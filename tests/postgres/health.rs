//! `/healthz` and the request deadline on PostgreSQL (CONTRACT §14 "one deadline per request",
//! "GET /healthz"), over real HTTP against a real PostgreSQL (the throwaway cluster of
//! `tests/pg_support`): a database that is stopped gives 503s within the deadline and `/healthz`
//! 503, and both recover without a restart; a network that goes silent mid-request gives a 503
//! within the deadline, never a hang; a pool that is merely busy leaves `/healthz` at 200; a
//! create answered 503 after waiting on a lock is not carried out once the lock is released.

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
    let frozen = get(addr, &format!("/tasks/{id}"));
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

#[test]
fn healthz_is_200_at_once_while_every_pooled_connection_is_busy() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let database = cluster.create_database();
    let url = cluster.url(&database);
    let server =
        crate::binary::Taskd::start(&["--database-url", &url, "--database-pool", "2"], &[]);
    let addr = server.addr();
    assert_eq!(create_task(addr, "first"), 1);
    // The test's own SQL session holds the id counter for 3 s, so every create waits on it with
    // a pooled connection: two such creates take the whole pool of 2.
    let holder = {
        let database = database.clone();
        thread::spawn(move || {
            cluster.psql(
                &database,
                "BEGIN; LOCK TABLE taskd.id_counter IN ACCESS EXCLUSIVE MODE; \
                 SELECT pg_sleep(3); COMMIT",
            )
        })
    };
    let counter_locks = |granted: bool| {
        cluster.psql(
            &database,
            &format!(
                "SELECT count(*) FROM pg_locks WHERE relation = 'taskd.id_counter'::regclass \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND granted = {granted} AND pid <> pg_backend_pid()"
            ),
        )
    };
    assert!(eventually(Duration::from_secs(5), || counter_locks(true) == "1"));
    let sent = Instant::now();
    let creates: Vec<_> = (0..4)
        .map(|n| {
            thread::spawn(move || {
                let response = post_json(addr, "/tasks", &format!(r#"{{"title":"waits {n}"}}"#));
                (response, sent.elapsed())
            })
        })
        .collect();
    // Both pooled connections wait on the lock; the other two creates wait for the pool.
    assert!(eventually(Duration::from_secs(5), || counter_locks(false) == "2"));
    let stuck = Instant::now();
    let read = thread::spawn(move || {
        let started = Instant::now();
        (get(addr, "/tasks/1").status, started.elapsed())
    });
    // The database last answered this instance before both creates got stuck (connecting,
    // preparing): a second later, `/healthz` must ask its own connection.
    thread::sleep(Duration::from_millis(1100).saturating_sub(stuck.elapsed()));
    let asked = Instant::now();
    let health = get(addr, "/healthz");
    let took = asked.elapsed();
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json(), serde_json::json!({"status": "ok"}));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(
        creates.iter().all(|create| !create.is_finished()) && !read.is_finished(),
        "the pool was still busy when /healthz answered"
    );
    holder.join().expect("the lock holder");
    let mut ids: Vec<u64> = creates
        .into_iter()
        .map(|create| {
            let (response, took) = create.join().expect("a create");
            assert_eq!(response.status, 201, "{}", response.text());
            assert!(took < Duration::from_secs(5), "{took:?}");
            response.json()["id"].as_u64().expect("an id")
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [2, 3, 4, 5]);
    let (status, waited) = read.join().expect("the read");
    assert_eq!(status, 200);
    assert!(
        waited > Duration::from_millis(1000),
        "it waited for the pool: {waited:?}"
    );
}

/// CONTRACT §14 "one deadline per request": all the database work of a request fits in 5 s, so a
/// create answered 503 because it waited too long on a lock is not carried out afterwards.
#[test]
fn a_create_answered_503_after_waiting_on_a_lock_is_not_carried_out_later() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let database = cluster.create_database();
    let url = cluster.url(&database);
    let server =
        crate::binary::Taskd::start(&["--database-url", &url, "--database-pool", "1"], &[]);
    let addr = server.addr();
    // The only pooled connection has the create prepared: a later create runs at once on it.
    assert_eq!(create_task(addr, "first"), 1);
    // The test's own sessions hold task 1's row for 4 s and the id counter for 6.5 s.
    let hold = |sql: &'static str| {
        let database = database.clone();
        thread::spawn(move || cluster.psql(&database, sql))
    };
    let row = hold(
        "BEGIN; SELECT 1 FROM taskd.tasks WHERE id = 1 FOR UPDATE; SELECT pg_sleep(4); COMMIT",
    );
    let counter = hold(
        "BEGIN; LOCK TABLE taskd.id_counter IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6.5); COMMIT",
    );
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' \
                   AND datname = current_database()";
    assert!(eventually(Duration::from_secs(5), || cluster
        .psql(&database, waiting)
        == "2"));
    // A PATCH takes the only connection and waits for the row until it is released, within its
    // deadline; a create waits for the connection meanwhile, gets it with a second left, and
    // spends that second waiting on the counter: 503, while its statement still waits in the
    // server for the counter.
    let patch = thread::spawn(move || patch_json(addr, "/tasks/1", r#"{"done":true}"#).status);
    thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    let create = post_json(addr, "/tasks", r#"{"title":"answered 503"}"#);
    let took = sent.elapsed();
    assert_error(&create, 503, "Database unavailable");
    assert!(took < Duration::from_millis(6500), "{took:?}");
    assert_eq!(patch.join().expect("the PATCH"), 200);
    row.join().expect("the row holder");
    counter.join().expect("the counter holder");
    thread::sleep(Duration::from_millis(500));
    let titles = "SELECT string_agg(convert_from(title, 'UTF8'), ',' ORDER BY id) FROM taskd.tasks";
    assert_eq!(
        cluster.psql(&database, titles),
        "first",
        "a create answered 503 was carried out after its answer"
    );
    assert_eq!(create_task(addr, "next"), 2);
}
