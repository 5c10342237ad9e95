//! `PgConn::copy_in_binary` against a real PostgreSQL: rows streamed in by one `COPY`, and a
//! row that cannot be made aborting the copy and its transaction while the connection stays
//! usable (how an attachment's spool that cannot be read back ends its upload).

use std::time::Duration;

use tokio_postgres::types::{ToSql, Type};

use super::conn::{Connector, Deadline, PgConn};
use super::error::PgError;
use super::options::ConnectOptions;
use super::test_support::shared_cluster;

type Row = Vec<Box<dyn ToSql + Sync + Send>>;

/// A connection to a fresh database holding `pieces (n int, bytes bytea)`.
fn connection_with_table() -> Option<PgConn> {
    let cluster = shared_cluster()?;
    let name = cluster.create_database();
    cluster.psql(&name, "CREATE TABLE pieces (n integer, bytes bytea)");
    let options = ConnectOptions::parse(&cluster.url(&name), None, "nobody").expect("parses");
    let conn = Connector::new(&options)
        .expect("connector")
        .connect(Deadline::after(Duration::from_secs(5)))
        .expect("connect");
    Some(conn)
}

const COPY: &str = "COPY pieces (n, bytes) FROM STDIN (FORMAT binary)";
const TYPES: [Type; 2] = [Type::INT4, Type::BYTEA];

/// Rows `0..count`, row `n` holding `n` bytes of `n`; row `fail_at` is an error instead.
fn rows(count: i32, fail_at: Option<i32>) -> impl FnMut() -> Result<Option<Row>, PgError> {
    let mut n = 0;
    move || {
        if n == count {
            return Ok(None);
        }
        if Some(n) == fail_at {
            return Err(PgError::Statement {
                code: None,
                message: "cannot read the spool".to_owned(),
            });
        }
        let bytes = vec![u8::try_from(n).unwrap_or(0); usize::try_from(n).unwrap_or(0)];
        let row: Row = vec![Box::new(n), Box::new(bytes)];
        n += 1;
        Ok(Some(row))
    }
}

fn summary(conn: &mut PgConn, deadline: Deadline) -> (i64, i64) {
    let rows = conn
        .query(
            "SELECT count(*), coalesce(sum(length(bytes)), 0) FROM pieces",
            &[],
            deadline,
        )
        .expect("count");
    (rows[0].get(0), rows[0].get(1))
}

#[test]
fn rows_stream_in_with_one_copy() {
    let Some(mut conn) = connection_with_table() else {
        return;
    };
    let deadline = Deadline::after(Duration::from_secs(5));
    let copied = conn.transaction("", deadline, |conn| {
        conn.copy_in_binary(COPY, &TYPES, rows(300, None), deadline)
    });
    assert_eq!(copied.expect("copied"), 300);
    assert_eq!(summary(&mut conn, deadline), (300, (0..300).sum()));
}

#[test]
fn a_row_that_cannot_be_made_aborts_the_copy_and_its_transaction() {
    let Some(mut conn) = connection_with_table() else {
        return;
    };
    let deadline = Deadline::after(Duration::from_secs(5));
    let outcome = conn.transaction("", deadline, |conn| {
        conn.execute("INSERT INTO pieces VALUES (-1, '')", &[], deadline)?;
        conn.copy_in_binary(COPY, &TYPES, rows(300, Some(150)), deadline)
    });
    let error = outcome.expect_err("the copy failed");
    assert!(
        error.to_string().contains("cannot read the spool"),
        "{error}"
    );
    // Nothing of it stays, not even the insert before it; the connection goes on working.
    assert!(conn.is_usable());
    assert_eq!(summary(&mut conn, deadline), (0, 0));
    let again = conn.transaction("", deadline, |conn| {
        conn.copy_in_binary(COPY, &TYPES, rows(3, None), deadline)
    });
    assert_eq!(again.expect("copied after the failure"), 3);
}
