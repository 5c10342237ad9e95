//! The statements behind the task rows of CONTRACT §14 that a backend will call: a create that
//! takes a gapless id from the counter row, a delete, and the O(1) count, each keeping
//! `task_counts` in the same statement as the change. Each is one statement (data-modifying
//! CTEs, atomic on their own), so a create costs one round trip, not BEGIN … COMMIT's five.

use tokio_postgres::types::ToSql;

use super::conn::{Deadline, PgConn};
use super::error::PgError;

/// Inserts a task under the next id and returns that id. A taken title is a unique violation
/// ([`PgError::is_unique_violation`] → 409) and, the statement being rolled back whole,
/// consumes no id. Two creates run one after the other on the counter row's lock; the second
/// re-reads the row once the first committed, so ids stay gapless and in commit order.
pub(crate) fn create(
    conn: &mut PgConn,
    title: &[u8],
    priority: &str,
    done: bool,
    deadline: Deadline,
) -> Result<i64, PgError> {
    let rows = conn.query(
        "WITH next AS (UPDATE taskd.id_counter SET next_id = next_id + 1 RETURNING next_id - 1 AS id), \
              task AS (INSERT INTO taskd.tasks (id, title, priority, done) \
                       SELECT id, $1, $2, $3 FROM next RETURNING id, priority, done), \
              counted AS (UPDATE taskd.task_counts c SET tasks = c.tasks + 1 FROM task \
                          WHERE c.done = task.done AND c.priority = task.priority) \
         SELECT id FROM task",
        &[&title, &priority, &done],
        deadline,
    )?;
    rows.first()
        .map(|row| row.get(0))
        .ok_or_else(|| PgError::Statement {
            code: None,
            message: "the create returned no id".to_owned(),
        })
}

/// Deletes a task, retiring its attachment version (removed after the grace period); false
/// when there was no such task.
pub(crate) fn delete(conn: &mut PgConn, id: i64, deadline: Deadline) -> Result<bool, PgError> {
    let rows = conn.query(
        "WITH gone AS (DELETE FROM taskd.tasks WHERE id = $1 RETURNING done, priority, attachment_id), \
              counted AS (UPDATE taskd.task_counts c SET tasks = c.tasks - 1 FROM gone \
                          WHERE c.done = gone.done AND c.priority = gone.priority), \
              retired AS (UPDATE taskd.attachments a SET retired_at = now() FROM gone \
                          WHERE a.id = gone.attachment_id AND a.retired_at IS NULL) \
         SELECT count(*) FROM gone",
        &[&id],
        deadline,
    )?;
    Ok(rows.first().is_some_and(|row| row.get::<_, i64>(0) > 0))
}

/// How many tasks match the list filters (`None`: any), from at most six rows: O(1) in the
/// number of tasks.
pub(crate) fn count(
    conn: &mut PgConn,
    done: Option<bool>,
    priority: Option<&str>,
    deadline: Deadline,
) -> Result<i64, PgError> {
    let params: [&(dyn ToSql + Sync); 2] = [&done, &priority];
    let rows = conn.query(
        "SELECT coalesce(sum(tasks), 0)::bigint FROM taskd.task_counts \
         WHERE ($1::boolean IS NULL OR done = $1) AND ($2::text IS NULL OR priority = $2)",
        &params,
        deadline,
    )?;
    Ok(rows.first().map_or(0, |row| row.get(0)))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};
    use std::thread;
    use std::time::Duration;

    use super::*;
    use crate::pg::conn::Connector;
    use crate::pg::options::ConnectOptions;
    use crate::pg::schema;
    use crate::pg::test_support::shared_cluster;

    fn deadline() -> Deadline {
        Deadline::after(Duration::from_secs(5))
    }

    /// A connector to a fresh database with the schema in place.
    fn fresh() -> Option<Arc<Connector>> {
        let cluster = shared_cluster()?;
        let options =
            ConnectOptions::parse(&cluster.url(&cluster.create_database()), None, "nobody")
                .expect("parses");
        let connector = Arc::new(Connector::new(&options).expect("connector"));
        schema::prepare(&mut connector.connect(deadline()).expect("connect")).expect("schema");
        Some(connector)
    }

    #[test]
    fn a_taken_title_consumes_no_id_and_counts_follow_every_change() {
        let Some(connector) = fresh() else { return };
        let mut conn = connector.connect(deadline()).expect("connect");
        assert_eq!(
            create(&mut conn, b"one", "high", false, deadline()).expect("create"),
            1
        );
        assert_eq!(
            create(&mut conn, b"two\0nul", "low", true, deadline()).expect("create"),
            2
        );
        let error = create(&mut conn, b"one", "low", false, deadline()).unwrap_err();
        assert!(error.is_unique_violation(), "{error}");
        assert_eq!(
            create(&mut conn, b"three", "high", false, deadline()).expect("create"),
            3,
            "no gap"
        );
        assert_eq!(count(&mut conn, None, None, deadline()).expect("count"), 3);
        assert_eq!(
            count(&mut conn, Some(false), Some("high"), deadline()).expect("count"),
            2
        );
        assert_eq!(
            count(&mut conn, Some(true), None, deadline()).expect("count"),
            1
        );
        assert!(delete(&mut conn, 3, deadline()).expect("delete"));
        assert!(!delete(&mut conn, 3, deadline()).expect("delete again"));
        assert_eq!(
            count(&mut conn, Some(false), Some("high"), deadline()).expect("count"),
            1
        );
        // The highest id was deleted: it is still never given again.
        assert_eq!(
            create(&mut conn, b"four", "medium", false, deadline()).expect("create"),
            4
        );
    }

    #[test]
    fn concurrent_creates_of_one_title_give_one_id_and_one_conflict() {
        let Some(connector) = fresh() else { return };
        for round in 0..5 {
            let title = format!("same {round}");
            let start = Arc::new(Barrier::new(2));
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    let (connector, start, title) =
                        (connector.clone(), start.clone(), title.clone());
                    thread::spawn(move || {
                        let mut conn = connector.connect(deadline()).expect("connect");
                        start.wait();
                        create(&mut conn, title.as_bytes(), "medium", false, deadline())
                    })
                })
                .collect();
            let outcomes: Vec<_> = racers
                .into_iter()
                .map(|racer| racer.join().expect("no panic"))
                .collect();
            let ids: Vec<i64> = outcomes
                .iter()
                .filter_map(|outcome| outcome.as_ref().ok().copied())
                .collect();
            assert_eq!(
                ids,
                [round + 1],
                "exactly one create, under the next id: {outcomes:?}"
            );
            assert!(outcomes
                .iter()
                .any(|outcome| outcome.as_ref().is_err_and(PgError::is_unique_violation)));
        }
    }
}
