//! TLS against a real PostgreSQL with a test CA (`openssl` in the test support): what each
//! `sslmode` checks, as libpq does.

use std::path::Path;
use std::time::Duration;

use super::conn::{Connector, Deadline, PgConn};
use super::error::PgError;
use super::options::ConnectOptions;
use super::test_support::Cluster;

fn connect(cluster: &Cluster, host: &str, tail: &str) -> Result<PgConn, PgError> {
    let url = format!(
        "postgres://postgres:{}@{host}:{}/postgres?{tail}",
        cluster.password, cluster.port
    );
    let options = ConnectOptions::parse(&url, None, "nobody").expect("a test URL parses");
    Connector::new(&options)?.connect(Deadline::after(Duration::from_secs(5)))
}

fn encrypted(conn: &mut PgConn) -> bool {
    let deadline = Deadline::after(Duration::from_secs(5));
    let rows = conn
        .query(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
            deadline,
        )
        .expect("pg_stat_ssl");
    rows[0].get(0)
}

fn root(path: &Path) -> String {
    format!("sslrootcert={}", path.display())
}

#[test]
fn each_sslmode_checks_what_libpq_checks() {
    let Some(cluster) = Cluster::private() else {
        return;
    };
    let files = cluster.enable_tls();

    // disable: plain; prefer and require: encrypted, the certificate not checked (its CA is
    // not in the system roots).
    assert!(!encrypted(
        &mut connect(&cluster, "127.0.0.1", "sslmode=disable").expect("disable")
    ));
    assert!(encrypted(
        &mut connect(&cluster, "127.0.0.1", "sslmode=prefer").expect("prefer")
    ));
    assert!(encrypted(
        &mut connect(&cluster, "127.0.0.1", "sslmode=require").expect("require")
    ));

    // verify-full: the right root and a name in the certificate (IP 127.0.0.1).
    let right = root(&files.ca);
    let conn = connect(
        &cluster,
        "127.0.0.1",
        &format!("sslmode=verify-full&{right}"),
    );
    assert!(encrypted(
        &mut conn.expect("verify-full with the right root")
    ));

    // A root that did not sign the certificate: refused, at once, for every checking mode.
    for mode in ["verify-ca", "verify-full", "require"] {
        let wrong = root(&files.other_ca);
        let error = connect(&cluster, "127.0.0.1", &format!("sslmode={mode}&{wrong}"))
            .err()
            .expect("a wrong root fails");
        assert!(matches!(error, PgError::Refused(_)), "{mode}: {error:?}");
    }

    // `localhost` is not in the certificate: verify-full refuses, verify-ca (chain only) accepts.
    let error = connect(
        &cluster,
        "localhost",
        &format!("sslmode=verify-full&{right}"),
    )
    .err()
    .expect("the name does not match");
    assert!(error.to_string().contains("TLS"), "{error}");
    assert!(encrypted(
        &mut connect(&cluster, "localhost", &format!("sslmode=verify-ca&{right}"))
            .expect("verify-ca ignores the name")
    ));
}
