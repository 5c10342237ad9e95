//! A busy pool and a request's deadline (CONTRACT §14 "GET /healthz", "one deadline per
//! request"), with locks that the test's own SQL sessions take in the taskd schema and release
//! when the test says so: `/healthz` answers 200 at once while every pooled connection waits
//! (it has a connection of its own), and a create answered 503 after waiting on a lock is not
//! carried out once the lock is released (its statement is cancelled on the server).

use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::eventually;
use super::load::patiently;
use crate::binary::Taskd;
use crate::common::pg_support::{shared_cluster, Cluster};
use crate::common::*;

/// A lock held by a SQL session of the test's own until [`Held::release`] (or 30 s, so a failed
/// test cannot leave it behind): the session loops on a table of release signals, which it sees
/// change because each statement of a READ COMMITTED transaction takes a new snapshot.
struct Held {
    cluster: &'static Cluster,
    database: String,
    name: &'static str,
    session: JoinHandle<String>,
}

impl Held {
    /// Runs `lock` (a statement) in a transaction that stays open; returns once `taken` (a
    /// count query) says `1`.
    fn take(
        cluster: &'static Cluster,
        database: &str,
        name: &'static str,
        lock: &str,
        taken: &str,
    ) -> Held {
        cluster.psql(
            database,
            "CREATE TABLE IF NOT EXISTS public.released (name text)",
        );
        let sql = format!(
            "BEGIN; {lock}; DO $$ BEGIN \
               WHILE NOT EXISTS (SELECT 1 FROM public.released WHERE name = '{name}') \
                 AND clock_timestamp() < now() + interval '30 seconds' \
               LOOP PERFORM pg_sleep(0.02); END LOOP; END $$; COMMIT"
        );
        let session = {
            let database = database.to_owned();
            thread::spawn(move || cluster.psql(&database, &sql))
        };
        let count = format!("{taken} AND pid <> pg_backend_pid()");
        assert!(
            eventually(Duration::from_secs(10), || cluster.psql(database, &count)
                == "1"),
            "the test's session took {name}"
        );
        Held {
            cluster,
            database: database.to_owned(),
            name,
            session,
        }
    }

    /// Ends the session's transaction, releasing the lock.
    fn release(self) {
        let signal = format!("INSERT INTO public.released VALUES ('{}')", self.name);
        self.cluster.psql(&self.database, &signal);
        self.session.join().expect("the session holding the lock");
    }
}

/// Locks of `relation` in this database whose mode is like `mode`, granted or waiting.
fn locks(relation: &str, mode: &str, granted: bool) -> String {
    format!(
        "SELECT count(*) FROM pg_locks WHERE relation = '{relation}'::regclass \
         AND mode LIKE '{mode}' AND granted = {granted} \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
}

fn counter_lock(cluster: &'static Cluster, database: &str) -> Held {
    let taken = locks("taskd.id_counter", "AccessExclusiveLock", true);
    let lock = "LOCK TABLE taskd.id_counter IN ACCESS EXCLUSIVE MODE";
    Held::take(cluster, database, "counter", lock, &taken)
}

/// The real binary on a fresh database with `--database-pool pool`, and task 1 created (so the
/// create is prepared on a pooled connection).
fn instance_with_pool(cluster: &'static Cluster, pool: &str) -> (Taskd, String) {
    let database = cluster.create_database();
    let url = cluster.url(&database);
    let server = Taskd::start(&["--database-url", &url, "--database-pool", pool], &[]);
    assert_eq!(create_task(server.addr(), "first"), 1);
    (server, database)
}

#[test]
fn healthz_is_200_at_once_while_every_pooled_connection_is_busy() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let (server, database) = instance_with_pool(cluster, "2");
    let addr = server.addr();
    // A second after the last answer, /healthz opens the probe's own connection and keeps it:
    // opening it (authentication included) is not what this test times, and in a debug build
    // on a starved machine it can take longer than the probe's second.
    thread::sleep(Duration::from_millis(1100));
    let probe_connected = || patiently(addr, "GET", "/healthz", None).status == 200;
    assert!(eventually(Duration::from_secs(10), probe_connected));
    let counter = counter_lock(cluster, &database);
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
    let waiting = locks("taskd.id_counter", "%", false);
    assert!(eventually(Duration::from_secs(5), || cluster
        .psql(&database, &waiting)
        == "2"));
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
    counter.release();
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
    let (server, database) = instance_with_pool(cluster, "1");
    let addr = server.addr();
    let row = Held::take(
        cluster,
        &database,
        "row",
        "SELECT 1 FROM taskd.tasks WHERE id = 1 FOR UPDATE",
        &locks("taskd.tasks", "RowShareLock", true),
    );
    let counter = counter_lock(cluster, &database);
    // A PATCH takes the only connection and waits for task 1's row; a create waits for that
    // connection meanwhile. The row is released 3 s into the PATCH's 5: the create gets the
    // connection with about two seconds left and spends it waiting on the counter, then answers
    // 503 while its statement still waits in the server.
    let patch = thread::spawn(move || patch_json(addr, "/tasks/1", r#"{"done":true}"#).status);
    let patched = Instant::now();
    thread::sleep(Duration::from_millis(300));
    let create = thread::spawn(move || {
        let sent = Instant::now();
        let response = post_json(addr, "/tasks", r#"{"title":"answered 503"}"#);
        (response, sent.elapsed())
    });
    thread::sleep(Duration::from_millis(3000).saturating_sub(patched.elapsed()));
    row.release();
    assert_eq!(patch.join().expect("the PATCH"), 200);
    let (response, took) = create.join().expect("the create");
    assert_error(&response, 503, "Database unavailable");
    assert!(took < Duration::from_millis(6500), "{took:?}");
    // Time for the cancel to reach the server; without one, the statement waits there until
    // its statement_timeout, seconds from now, and is still waiting when the lock goes.
    let waiting = locks("taskd.id_counter", "%", false);
    let _ = eventually(Duration::from_secs(2), || {
        cluster.psql(&database, &waiting) == "0"
    });
    counter.release();
    thread::sleep(Duration::from_millis(300));
    let titles = "SELECT string_agg(convert_from(title, 'UTF8'), ',' ORDER BY id) FROM taskd.tasks";
    assert_eq!(
        cluster.psql(&database, titles),
        "first",
        "a create answered 503 was carried out after its answer"
    );
    assert_eq!(create_task(addr, "next"), 2);
}
