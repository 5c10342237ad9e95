//! Starting `taskd` on PostgreSQL (CONTRACT §14 "start", the password's redaction): the real
//! binary's start line names the database without its password, and a wrong password ends it at
//! once with one line that does not print it.

use crate::common::pg_support::shared_cluster;

use std::time::{Duration, Instant};

/// The real binary on `url`, its stderr piped.
fn taskd_on(url: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_taskd"))
        .args(["--addr", "127.0.0.1:0", "--database-url", url])
        .env_remove("TASKD_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run taskd")
}

#[test]
fn the_start_line_names_the_database_without_its_password() {
    use std::io::{BufRead, BufReader};
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let database = cluster.create_database();
    let mut child = taskd_on(&cluster.url(&database));
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let expected = format!(
        "storage: database postgres://postgres:[redacted]@127.0.0.1:{}/{database}",
        cluster.port
    );
    assert!(
        first.contains("listening on") && first.contains(&expected),
        "{first}"
    );
    assert!(!first.contains(&cluster.password), "{first}");
}

#[test]
fn a_wrong_password_exits_1_at_once_in_one_line_that_does_not_print_it() {
    let Some(cluster) = shared_cluster() else {
        return;
    };
    let url = format!(
        "postgres://postgres:not-{}@127.0.0.1:{}/postgres?sslmode=disable",
        cluster.password, cluster.port
    );
    let started = Instant::now();
    let output = taskd_on(&url).wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("127.0.0.1") && stderr.contains("password"),
        "{stderr}"
    );
    assert!(!stderr.contains(&cluster.password), "{stderr}");
}
