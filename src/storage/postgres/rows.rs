//! The PostgreSQL backend's reads of task rows: the statements, and a row turned back into a
//! [`Task`] exactly as the memory store would answer it, so its `ETag` (§11's digest of the
//! JSON) is the same on every backend and every instance.

use std::time::SystemTime;

use tokio_postgres::Row;

use crate::model::{AttachmentInfo, Priority, Task};
use crate::pg::conn::{Deadline, PgConn};
use crate::pg::error::PgError;
use crate::validators::{Digest, EntityTag};

/// A task with its attachment's columns (null when it has none): `WHERE t.id = $1`.
const TASK: &str = "SELECT t.id, t.title, t.priority, t.done, a.filename, a.size, \
                    a.id, a.content_type, a.chunk_size, a.digest, a.stored_at \
                    FROM taskd.tasks t LEFT JOIN taskd.attachments a ON a.id = t.attachment_id \
                    WHERE t.id = $1";

/// A task as it is shown (`GET /tasks/{id}`): its own row only, which keeps the attachment's
/// name and size (schema version 2), with the columns of [`PAGE`].
const SHOWN: &str = "SELECT t.id, t.title, t.priority, t.done, \
                     t.attachment_filename, t.attachment_size \
                     FROM taskd.tasks t WHERE t.id = $1";

/// Locks the task's row until the transaction ends. A statement of its own, before [`TASK`]:
/// under READ COMMITTED a `FOR UPDATE` that waited re-reads the locked row but not the rows
/// joined to it (a new attachment version committed meanwhile would be missed), while the next
/// statement takes a new snapshot that sees everything committed before the lock was granted.
const LOCK_TASK: &str = "SELECT 1 FROM taskd.tasks WHERE id = $1 FOR UPDATE";

/// A list page, in id order: `$1` done, `$2` priority (null: any), `$3` skip, `$4` limit.
pub(super) const PAGE: &str = "SELECT t.id, t.title, t.priority, t.done, \
                    t.attachment_filename, t.attachment_size \
                    FROM taskd.tasks t \
                    WHERE ($1::boolean IS NULL OR t.done = $1) \
                      AND ($2::text IS NULL OR t.priority = $2) \
                    ORDER BY t.id OFFSET $3 LIMIT $4";

/// A task's current attachment version, as a guard or a download needs it.
#[derive(Debug, Clone)]
pub(super) struct Version {
    pub(super) id: i64,
    pub(super) filename: String,
    /// As served (`text/plain` when the part had none; the type the `ETag` is made from).
    pub(super) content_type: String,
    pub(super) size: u64,
    pub(super) chunk_size: u64,
    pub(super) digest: Digest,
    pub(super) stored_at: SystemTime,
}

impl Version {
    /// Its strong tag, computed as every backend computes it.
    pub(super) fn etag(&self) -> EntityTag {
        EntityTag::for_attachment(self.digest, self.size, &self.content_type, &self.filename)
    }
}

/// Reads task `id` and its attachment version; `lock` first takes the row lock for a change
/// (in the caller's transaction), so what is read is what the change will replace.
pub(super) fn task(
    conn: &mut PgConn,
    id: i64,
    lock: bool,
    deadline: Deadline,
) -> Result<Option<(Task, Option<Version>)>, PgError> {
    if lock && conn.query(LOCK_TASK, &[&id], deadline)?.is_empty() {
        return Ok(None);
    }
    let rows = conn.query(TASK, &[&id], deadline)?;
    rows.first().map(with_version).transpose()
}

/// Reads task `id` as it is shown, without its attachment version: one table, one statement.
pub(super) fn shown(
    conn: &mut PgConn,
    id: i64,
    deadline: Deadline,
) -> Result<Option<Task>, PgError> {
    let rows = conn.query(SHOWN, &[&id], deadline)?;
    rows.first().map(task_of).transpose()
}

/// A row of [`PAGE`] or [`SHOWN`] (or the first six columns of [`TASK`]) as a task.
pub(super) fn task_of(row: &Row) -> Result<Task, PgError> {
    let id: i64 = row.try_get(0).map_err(bad_row)?;
    let title: Vec<u8> = row.try_get(1).map_err(bad_row)?;
    let priority: String = row.try_get(2).map_err(bad_row)?;
    let filename: Option<Vec<u8>> = row.try_get(4).map_err(bad_row)?;
    let size: Option<i64> = row.try_get(5).map_err(bad_row)?;
    let attachment = match (filename, size) {
        (Some(filename), Some(size)) => Some(AttachmentInfo {
            filename: text(filename)?,
            size: unsigned(size)?,
        }),
        _ => None,
    };
    Ok(Task {
        id: unsigned(id)?,
        title: text(title)?,
        priority: Priority::from_name(&priority)
            .ok_or_else(|| corrupt(format!("task {id} has priority {priority:?}")))?,
        done: row.try_get(3).map_err(bad_row)?,
        attachment,
    })
}

fn with_version(row: &Row) -> Result<(Task, Option<Version>), PgError> {
    let task = task_of(row)?;
    let Some(version_id) = row.try_get::<_, Option<i64>>(6).map_err(bad_row)? else {
        return Ok((task, None));
    };
    let attachment = task
        .attachment
        .clone()
        .ok_or_else(|| corrupt(format!("version {version_id} without a name")))?;
    let digest: Vec<u8> = row.try_get(9).map_err(bad_row)?;
    let digest = <[u8; 16]>::try_from(digest.as_slice())
        .map_err(|_| corrupt(format!("version {version_id} has a digest of another size")))?;
    let version = Version {
        id: version_id,
        filename: attachment.filename,
        content_type: text(row.try_get(7).map_err(bad_row)?)?,
        size: attachment.size,
        chunk_size: u64::from(row.try_get::<_, i32>(8).map_err(bad_row)?.unsigned_abs()),
        digest: Digest::from_bytes(digest),
        stored_at: row.try_get(10).map_err(bad_row)?,
    };
    Ok((task, Some(version)))
}

/// Titles and names are stored as their exact UTF-8 bytes (`bytea`: §5 allows NUL).
fn text(bytes: Vec<u8>) -> Result<String, PgError> {
    String::from_utf8(bytes).map_err(|_| corrupt("a stored name is not UTF-8".to_owned()))
}

fn unsigned(value: i64) -> Result<u64, PgError> {
    u64::try_from(value).map_err(|_| corrupt(format!("a negative stored number {value}")))
}

fn bad_row(error: tokio_postgres::Error) -> PgError {
    corrupt(error.to_string())
}

fn corrupt(message: String) -> PgError {
    PgError::Statement {
        code: None,
        message,
    }
}
