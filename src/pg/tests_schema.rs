//! Start-up against a real PostgreSQL (the throwaway cluster of `tests/pg_support`): the
//! migrations, the checks that refuse a database, and the errors that must not show a password.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use super::conn::{Connector, Deadline, PgConn};
use super::error::PgError;
use super::options::ConnectOptions;
use super::schema::{self, SCHEMA_VERSION};
use super::start;
use super::test_support::{shared_cluster, Cluster};

fn options(url: &str) -> ConnectOptions {
    ConnectOptions::parse(url, None, "nobody").expect("a test URL parses")
}

fn connect(url: &str) -> Result<PgConn, PgError> {
    Connector::new(&options(url))?.connect(Deadline::after(Duration::from_secs(5)))
}

fn fresh_database(cluster: &Cluster) -> (String, String) {
    let name = cluster.create_database();
    let url = cluster.url(&name);
    (name, url)
}

#[test]
fn two_concurrent_appliers_create_the_schema_once() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let (name, url) = fresh_database(cluster);
    let url = Arc::new(url);
    // Both connected first, then released together, so their migrations overlap.
    let ready = Arc::new(Barrier::new(2));
    let appliers: Vec<_> = (0..2)
        .map(|_| {
            let (url, ready) = (url.clone(), ready.clone());
            thread::spawn(move || {
                let mut conn = connect(&url).expect("connect");
                ready.wait();
                schema::prepare(&mut conn)
            })
        })
        .collect();
    for applier in appliers {
        // 0 when it started before the other committed (then one of them waited on the lock).
        let found = applier.join().expect("no panic").expect("prepare succeeds");
        assert!(found <= SCHEMA_VERSION, "{found}");
    }
    // Each version applied exactly once.
    assert_eq!(
        cluster.psql(&name, "SELECT count(*) FROM taskd.schema_migrations"),
        SCHEMA_VERSION.to_string()
    );
    assert_eq!(
        cluster.psql(&name, "SELECT next_id FROM taskd.id_counter"),
        "1"
    );
    assert_eq!(
        cluster.psql(&name, "SELECT count(*) FROM taskd.task_counts"),
        "6"
    );
    // A third start finds it ready and changes nothing.
    assert_eq!(
        schema::prepare(&mut connect(&url).expect("connect")).expect("prepare"),
        SCHEMA_VERSION
    );
    assert_eq!(
        cluster.psql(&name, "SELECT count(*) FROM taskd.schema_migrations"),
        SCHEMA_VERSION.to_string()
    );
}

#[test]
fn a_version_1_database_is_migrated_and_keeps_what_its_tasks_show() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let (name, url) = fresh_database(cluster);
    // A database as version 1 left it: one task with an attachment, one without.
    cluster.psql(
        &name,
        &format!(
            "CREATE SCHEMA taskd; \
             CREATE TABLE taskd.schema_migrations ( \
                 version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now()); \
             {} \
             INSERT INTO taskd.schema_migrations (version) VALUES (1); \
             INSERT INTO taskd.attachments (task_id, filename, content_type, size, chunk_size, digest, stored_at) \
                 VALUES (1, 'a.txt', 'text/plain', 5, 5, '', now()); \
             INSERT INTO taskd.tasks (id, title, priority, done, attachment_id) \
                 SELECT 1, 'with', 'low', false, id FROM taskd.attachments; \
             INSERT INTO taskd.tasks (id, title, priority, done) VALUES (2, 'without', 'low', false)",
            include_str!("../../migrations/0001_init.sql")
        ),
    );
    let mut conn = connect(&url).expect("connect");
    assert_eq!(schema::prepare(&mut conn).expect("migrates"), 1);
    let shown =
        "SELECT string_agg(id || ':' || coalesce(convert_from(attachment_filename, 'UTF8'), '-') \
                 || ':' || coalesce(attachment_size::text, '-'), ',' ORDER BY id) FROM taskd.tasks";
    assert_eq!(cluster.psql(&name, shown), "1:a.txt:5,2:-:-");
    // Any writer that sets attachment_id gets both columns filled by the trigger.
    cluster.psql(
        &name,
        "INSERT INTO taskd.attachments (task_id, filename, content_type, size, chunk_size, digest, stored_at) \
             VALUES (2, 'b.bin', 'application/octet-stream', 7, 7, '', now()); \
         UPDATE taskd.tasks SET attachment_id = NULL WHERE id = 1; \
         UPDATE taskd.tasks SET attachment_id = (SELECT max(id) FROM taskd.attachments) WHERE id = 2; \
         INSERT INTO taskd.tasks (id, title, priority, done, attachment_id) \
             SELECT 3, 'imported', 'high', true, min(id) FROM taskd.attachments",
    );
    assert_eq!(cluster.psql(&name, shown), "1:-:-,2:b.bin:7,3:a.txt:5");
    // And a row whose shown columns disagree with attachment_id is refused.
    let deadline = Deadline::after(Duration::from_secs(5));
    let error = conn
        .batch(
            "UPDATE taskd.tasks SET attachment_filename = NULL WHERE id = 2",
            deadline,
        )
        .unwrap_err();
    assert!(
        error.to_string().contains("tasks_shown_attachment"),
        "{error}"
    );
}

#[test]
fn tables_live_in_schema_taskd_and_public_is_untouched() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let (name, url) = fresh_database(cluster);
    cluster.psql(&name, "CREATE TABLE public.tasks (someone text)");
    schema::prepare(&mut connect(&url).expect("connect")).expect("prepare");
    assert_eq!(cluster.psql(&name, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"), "tasks");
    assert_eq!(
        cluster.psql(
            &name,
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'taskd'"
        ),
        "6"
    );
}

#[test]
fn titles_are_unique_on_their_exact_bytes() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let (name, url) = fresh_database(cluster);
    schema::prepare(&mut connect(&url).expect("connect")).expect("prepare");
    let mut conn = connect(&url).expect("connect");
    let deadline = Deadline::after(Duration::from_secs(5));
    let insert =
        "INSERT INTO taskd.tasks (id, title, priority, done) VALUES ($1, $2, 'medium', false)";
    // NUL, and NFC vs NFD "Café": three different titles (CONTRACT §5).
    for (id, title) in [
        (1_i64, &b"a\0b"[..]),
        (2, "Caf\u{e9}".as_bytes()),
        (3, "Cafe\u{301}".as_bytes()),
    ] {
        conn.execute(insert, &[&id, &title], deadline)
            .expect("distinct titles insert");
    }
    let error = conn
        .execute(insert, &[&4_i64, &&b"a\0b"[..]], deadline)
        .unwrap_err();
    assert!(error.is_unique_violation(), "{error}");
    assert_eq!(
        cluster.psql(
            &name,
            "SELECT encode(title, 'hex') FROM taskd.tasks WHERE id = 1"
        ),
        "610062"
    );
}

#[test]
fn a_newer_schema_is_refused_naming_both_versions() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let (name, url) = fresh_database(cluster);
    schema::prepare(&mut connect(&url).expect("connect")).expect("prepare");
    cluster.psql(
        &name,
        "INSERT INTO taskd.schema_migrations (version) VALUES (99)",
    );
    let error = schema::prepare(&mut connect(&url).expect("connect")).unwrap_err();
    assert!(matches!(error, PgError::Schema(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("version 99") && text.contains(&format!("version {SCHEMA_VERSION} ")),
        "{text}"
    );
}

#[test]
fn a_database_not_in_utf8_is_refused() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let name = format!("{}_latin1", cluster.create_database());
    cluster.psql("postgres", &format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'"));
    let error = schema::prepare(&mut connect(&cluster.url(&name)).expect("connect")).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("database {name} has encoding LATIN1, taskd needs UTF8")
    );
    assert_eq!(
        cluster.psql(
            &name,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'taskd'"
        ),
        "0"
    );
}

#[test]
fn a_missing_create_privilege_is_named() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let (name, _) = fresh_database(cluster);
    let role = format!("{name}_user");
    cluster.psql(
        "postgres",
        &format!("CREATE ROLE {role} LOGIN PASSWORD 'role-pw'"),
    );
    let url = format!(
        "postgres://{role}:role-pw@127.0.0.1:{}/{name}?sslmode=disable",
        cluster.port
    );
    let error = schema::prepare(&mut connect(&url).expect("connect")).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "role {role} lacks the CREATE privilege on database {name}"
        )),
        "{text}"
    );
    // Once the schema exists (made by a privileged role), running needs no CREATE.
    schema::prepare(&mut connect(&cluster.url(&name)).expect("connect"))
        .expect("the owner prepares");
    cluster.psql(&name, &format!("GRANT USAGE ON SCHEMA taskd TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA taskd TO {role}"));
    assert_eq!(
        schema::prepare(&mut connect(&url).expect("connect")).expect("ready"),
        SCHEMA_VERSION
    );
}

#[test]
fn a_wrong_password_fails_at_once_without_printing_it() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let secret = "Wr0ng p@ss/word";
    let url = format!(
        "postgres://postgres:{}@127.0.0.1:{}/postgres?sslmode=disable",
        "Wr0ng%20p%40ss%2Fword", cluster.port
    );
    let started = std::time::Instant::now();
    let error = start::open(&options(&url), 2, start::START_RETRY)
        .err()
        .expect("refused");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not retried: {:?}",
        started.elapsed()
    );
    assert!(matches!(error, PgError::Refused(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains(secret) && !text.contains("Wr0ng"), "{text}");
    assert!(!options(&url).redacted().contains("Wr0ng"));
}

#[test]
fn a_missing_database_fails_at_once() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let error = start::open(
        &options(&cluster.url("no_such_database")),
        2,
        start::START_RETRY,
    )
    .err()
    .expect("refused");
    assert!(matches!(error, PgError::Refused(_)), "{error:?}");
    assert!(error.to_string().contains("no_such_database"), "{error}");
}

#[test]
fn an_unreachable_database_is_retried_then_named() {
    let Some(_cluster) = shared_cluster() else {
        return;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener); // nothing listens there now: refused
    let url = format!("postgres://u:p@127.0.0.1:{port}/d?sslmode=disable");
    let started = std::time::Instant::now();
    let error = start::open(&options(&url), 2, Duration::from_millis(700))
        .err()
        .expect("unreachable");
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "retried for the whole window"
    );
    assert!(error.is_unavailable(), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("gave up after"),
        "{text}"
    );
}

#[test]
fn a_server_that_is_not_postgresql_fails_at_once() {
    let Some(_cluster) = shared_cluster() else {
        return;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    thread::spawn(move || {
        // An HTTP server: it answers what it read with a 400 and closes.
        for mut stream in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let _ = stream.read(&mut [0u8; 64]);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let url = format!("postgres://u:p@127.0.0.1:{port}/d?sslmode=prefer");
    let error = start::open(&options(&url), 2, start::START_RETRY)
        .err()
        .expect("refused");
    assert!(matches!(error, PgError::Refused(_)), "{error:?}");
    assert!(error.to_string().contains("is not PostgreSQL"), "{error}");
}

#[test]
fn a_name_that_does_not_resolve_is_retried_not_refused() {
    let Some(_cluster) = shared_cluster() else {
        return;
    };
    // RFC 2606: `.invalid` never resolves.
    let url = "postgres://u:p@taskd-no-such-host.invalid:5432/d?sslmode=disable";
    let error = start::open(&options(url), 2, Duration::from_millis(300))
        .err()
        .expect("unresolvable");
    assert!(error.is_unavailable(), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("taskd-no-such-host.invalid:5432"),
        "{error}"
    );
}
