//! The grace period of attachment versions (CONTRACT §14): a version replaced or whose task was
//! deleted is marked `retired_at` in the same transaction as that change, and removed with its
//! chunks ten minutes later, so a download already reading it can finish (or is cut short when
//! the chunks go: never bytes of another version, since chunks are keyed by version).

use std::time::Duration;

use super::conn::{Deadline, PgConn};
use super::error::PgError;

/// How long a retired version's chunks stay readable.
pub(crate) const GRACE_PERIOD: Duration = Duration::from_secs(10 * 60);

/// Marks a version retired, in the caller's transaction (the one that replaces or deletes it).
pub(crate) fn retire(
    conn: &mut PgConn,
    attachment_id: i64,
    deadline: Deadline,
) -> Result<(), PgError> {
    conn.execute(
        "UPDATE taskd.attachments SET retired_at = now() WHERE id = $1 AND retired_at IS NULL",
        &[&attachment_id],
        deadline,
    )?;
    Ok(())
}

/// Removes the versions retired more than [`GRACE_PERIOD`] ago, at most `batch` of them (each
/// with its chunks, by the foreign key's cascade), in one short statement; returns how many.
/// Any instance may run it at any time: two at once delete disjoint rows or nothing twice.
/// A version a task still points at is never removed (the `NOT EXISTS`, and the foreign key
/// from `tasks.attachment_id` behind it).
pub(crate) fn sweep(conn: &mut PgConn, batch: i64, deadline: Deadline) -> Result<u64, PgError> {
    let grace_seconds = GRACE_PERIOD.as_secs_f64();
    conn.execute(
        "DELETE FROM taskd.attachments WHERE id IN ( \
             SELECT a.id FROM taskd.attachments a \
             WHERE a.retired_at < now() - make_interval(secs => $1) \
               AND NOT EXISTS (SELECT 1 FROM taskd.tasks t WHERE t.attachment_id = a.id) \
             ORDER BY a.retired_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        &[&grace_seconds, &batch],
        deadline,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::conn::Connector;
    use crate::pg::options::ConnectOptions;
    use crate::pg::schema;
    use crate::pg::test_support::shared_cluster;

    #[test]
    fn only_versions_retired_past_the_grace_period_are_removed_with_their_chunks() {
        let Some(cluster) = shared_cluster() else {
            return;
        };
        let name = cluster.create_database();
        let options = ConnectOptions::parse(&cluster.url(&name), None, "nobody").expect("parses");
        let deadline = Deadline::after(Duration::from_secs(5));
        let mut conn = Connector::new(&options)
            .expect("connector")
            .connect(deadline)
            .expect("connect");
        schema::prepare(&mut conn).expect("schema");
        // Versions 1 (retired 11 min ago), 2 (retired 9 min ago), 3 (current), 4 (retired now).
        cluster.psql(
            &name,
            "INSERT INTO taskd.attachments (task_id, filename, content_type, size, chunk_size, digest, stored_at, retired_at) \
             SELECT 1, 'f', 'text/plain', 1, 1, '', now(), r FROM (VALUES \
               (now() - interval '11 minutes'), (now() - interval '9 minutes'), (NULL::timestamptz), (NULL)) v (r); \
             INSERT INTO taskd.attachment_chunks (attachment_id, seq, bytes) SELECT id, 0, 'x' FROM taskd.attachments; \
             INSERT INTO taskd.tasks (id, title, priority, done, attachment_id) VALUES (1, 't', 'low', false, 3)",
        );
        retire(&mut conn, 4, deadline).expect("retire");
        assert_eq!(sweep(&mut conn, 100, deadline).expect("sweep"), 1);
        let left = "SELECT string_agg(a.id::text || ':' || c.seq, ',' ORDER BY a.id) FROM taskd.attachments a JOIN taskd.attachment_chunks c ON c.attachment_id = a.id";
        assert_eq!(cluster.psql(&name, left), "2:0,3:0,4:0");
        assert_eq!(sweep(&mut conn, 100, deadline).expect("sweep again"), 0);
        // Even retired, a version a task points at stays.
        cluster.psql(
            &name,
            "UPDATE taskd.attachments SET retired_at = now() - interval '1 hour' WHERE id = 3",
        );
        assert_eq!(sweep(&mut conn, 100, deadline).expect("sweep"), 0);
    }
}
