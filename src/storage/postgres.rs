//! The PostgreSQL backend (`--database-url`, CONTRACT §14): [`Storage`] on top of the client
//! plumbing in `crate::pg` (connections with a deadline, the pool, the schema). The database is
//! the only shared state: nothing is cached, so any instance answers as any other.
//!
//! Every call gets one deadline, [`REQUEST_DEADLINE`] from its start, for all its database work
//! (waiting for a pooled connection, connecting, each statement); past it the answer is
//! `Unavailable` (503). Each guarded change reads the row it changes with `SELECT … FOR UPDATE`
//! in the changing transaction and checks the [`Guard`] there, against tags computed exactly
//! as the memory store computes them (`EntityTag::of_task`, `EntityTag::for_attachment`), so
//! two instances given one `ETag` at once make one change and refuse the other with 412.

use std::sync::Arc;

use crate::model::{AttachmentInfo, NewTask, Task, TaskPatch};
use crate::pg::conn::{Deadline, PgConn};
use crate::pg::error::PgError;
use crate::pg::options::REQUEST_DEADLINE;
use crate::pg::start::Database;
use crate::pg::{retire, tasks};
use crate::storage::{
    AttachedTask, BodySource, Download, Guard, ListPage, ListQuery, Spool, Storage, StorageError,
    Upload, Verdict,
};
use crate::validators::EntityTag;

pub(crate) mod chunks;
mod rows;
mod spool;

use rows::Version;

/// How many expired attachment versions a change removes on its way out.
const SWEEP_BATCH: i64 = 8;

/// Tasks and attachments in a PostgreSQL database.
pub struct Postgres {
    database: Arc<Database>,
    spool: spool::DatabaseSpool,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Postgres")
    }
}

impl Postgres {
    pub(crate) fn new(database: Database) -> Postgres {
        Postgres {
            database: Arc::new(database),
            spool: spool::DatabaseSpool::default(),
        }
    }

    /// Runs `work` on a pooled connection, all of it before one request deadline.
    fn with_conn<T>(
        &self,
        work: impl FnOnce(&mut PgConn, Deadline) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let deadline = Deadline::after(REQUEST_DEADLINE);
        let mut conn = self.database.pool.get(deadline).map_err(failed)?;
        work(&mut conn, deadline)
    }

    /// As [`Postgres::with_conn`], inside one transaction (`begin`: its isolation level).
    fn in_transaction<T>(
        &self,
        begin: &str,
        work: impl FnOnce(&mut PgConn, Deadline) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        self.with_conn(|conn, deadline| {
            let mut refused = None;
            let outcome = conn.transaction(begin, deadline, |conn| {
                // A refusal (404, 409, 412) rolls back like a failure, and is kept to be
                // returned as it is.
                work(conn, deadline).map_err(|error| {
                    refused = Some(error);
                    PgError::Statement {
                        code: None,
                        message: "refused".to_owned(),
                    }
                })
            });
            match (outcome, refused) {
                (Ok(value), _) => Ok(value),
                (Err(_), Some(error)) => Err(error),
                (Err(error), None) => Err(failed(error)),
            }
        })
    }

    /// Removes a few versions whose grace period is over; a failure here is left for later.
    fn sweep(&self) {
        let deadline = Deadline::after(REQUEST_DEADLINE);
        if let Ok(mut conn) = self.database.pool.get(deadline) {
            let _ = retire::sweep(&mut conn, SWEEP_BATCH, deadline);
        }
    }
}

/// A database failure as a storage error: unreachable or past the deadline → 503, a taken
/// title → 409, anything else → 500.
fn failed(error: PgError) -> StorageError {
    if error.is_unique_violation() {
        return StorageError::TitleTaken;
    }
    match error {
        PgError::Unavailable(reason) => StorageError::Unavailable(reason),
        other => StorageError::Internal(other.to_string()),
    }
}

/// A task id as the database's `bigint`; ids past it cannot exist.
fn key(id: u64) -> Option<i64> {
    i64::try_from(id).ok()
}

/// 412 unless the verdict holds.
fn holds(verdict: Verdict) -> Result<(), StorageError> {
    match verdict {
        Verdict::Holds => Ok(()),
        Verdict::Fails => Err(StorageError::PreconditionFailed),
    }
}

/// Reads task `id` under its row lock (in the changing transaction), or 404.
fn locked(
    conn: &mut PgConn,
    id: u64,
    deadline: Deadline,
) -> Result<(Task, Option<Version>), StorageError> {
    let row = match key(id) {
        Some(key) => rows::task(conn, key, true, deadline).map_err(failed)?,
        None => None,
    };
    row.ok_or(StorageError::NotFound { id })
}

/// Checks `guard` against the attachment's tag and `Last-Modified` (none: no attachment).
fn attachment_guard(guard: &Guard, version: Option<&Version>) -> Result<(), StorageError> {
    holds(match version {
        None => guard.check(None, None),
        Some(version) => guard.check(
            Some(&version.etag()),
            Some(crate::validators::whole_seconds(version.stored_at)),
        ),
    })
}

impl Storage for Postgres {
    /// The database answered within the last second, or answers the health probe's own
    /// connection within one (never queued behind a busy pool).
    fn is_healthy(&self) -> bool {
        self.database.health.is_healthy()
    }

    fn create(&self, new: NewTask) -> Result<Task, StorageError> {
        let id = self.with_conn(|conn, deadline| {
            let priority = new.priority.name();
            tasks::create(conn, new.title.as_bytes(), priority, new.done, deadline).map_err(failed)
        })?;
        Ok(Task {
            id: u64::try_from(id).map_err(|_| StorageError::Internal(format!("id {id}")))?,
            title: new.title,
            priority: new.priority,
            done: new.done,
            attachment: None,
        })
    }

    fn task(&self, id: u64) -> Result<Task, StorageError> {
        let Some(key) = key(id) else {
            return Err(StorageError::NotFound { id });
        };
        self.with_conn(|conn, deadline| rows::shown(conn, key, deadline).map_err(failed))?
            .ok_or(StorageError::NotFound { id })
    }

    fn contains(&self, id: u64) -> Result<bool, StorageError> {
        self.task(id).map(|_| true).or_else(|error| match error {
            StorageError::NotFound { .. } => Ok(false),
            other => Err(other),
        })
    }

    fn list(&self, query: &ListQuery) -> Result<ListPage, StorageError> {
        let done = query.done;
        let priority = query.priority.map(|priority| priority.name());
        // OFFSET and LIMIT are bigint: a larger skip or limit means "all of them" anyway.
        let skip = i64::try_from(query.skip).unwrap_or(i64::MAX);
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        // The page and its total from one snapshot (CONTRACT §14).
        self.in_transaction(
            "ISOLATION LEVEL REPEATABLE READ READ ONLY",
            |conn, deadline| {
                let total = tasks::count(conn, done, priority, deadline).map_err(failed)?;
                let page = conn
                    .query(rows::PAGE, &[&done, &priority, &skip, &limit], deadline)
                    .map_err(failed)?;
                let tasks = page
                    .iter()
                    .map(rows::task_of)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(failed)?;
                Ok(ListPage {
                    tasks,
                    total: u64::try_from(total).unwrap_or(0),
                })
            },
        )
    }

    fn update(&self, id: u64, patch: TaskPatch, guard: &Guard) -> Result<Task, StorageError> {
        self.in_transaction("", |conn, deadline| {
            let (mut task, _) = locked(conn, id, deadline)?;
            let (_, tag) = EntityTag::of_task(&task);
            holds(guard.check(Some(&tag), None))?;
            let (old_done, old_priority) = (task.done, task.priority);
            if let Some(title) = patch.title {
                task.title = title;
            }
            if let Some(priority) = patch.priority {
                task.priority = priority;
            }
            if let Some(done) = patch.done {
                task.done = done;
            }
            let key = key(id).ok_or(StorageError::NotFound { id })?;
            conn.execute(
                "UPDATE taskd.tasks SET title = $2, priority = $3, done = $4, \
                 revision = revision + 1 WHERE id = $1",
                &[
                    &key,
                    &task.title.as_bytes(),
                    &task.priority.name(),
                    &task.done,
                ],
                deadline,
            )
            .map_err(failed)?;
            if (old_done, old_priority) != (task.done, task.priority) {
                conn.execute(
                    "UPDATE taskd.task_counts SET tasks = tasks + CASE \
                     WHEN done = $1 AND priority = $2 THEN -1 ELSE 1 END \
                     WHERE (done = $1 AND priority = $2) OR (done = $3 AND priority = $4)",
                    &[
                        &old_done,
                        &old_priority.name(),
                        &task.done,
                        &task.priority.name(),
                    ],
                    deadline,
                )
                .map_err(failed)?;
            }
            Ok(task)
        })
    }

    fn delete(&self, id: u64, guard: &Guard) -> Result<(), StorageError> {
        self.in_transaction("", |conn, deadline| {
            let (task, _) = locked(conn, id, deadline)?;
            let (_, tag) = EntityTag::of_task(&task);
            holds(guard.check(Some(&tag), None))?;
            let key = key(id).ok_or(StorageError::NotFound { id })?;
            tasks::delete(conn, key, deadline).map_err(failed)?;
            Ok(())
        })?;
        self.sweep();
        Ok(())
    }

    fn attachment(&self, id: u64) -> Result<Download, StorageError> {
        let Some(key) = key(id) else {
            return Err(StorageError::NotFound { id });
        };
        let row = self
            .with_conn(|conn, deadline| rows::task(conn, key, false, deadline).map_err(failed))?;
        let (_, version) = row.ok_or(StorageError::NotFound { id })?;
        let version = version.ok_or(StorageError::NoAttachment { id })?;
        let source = BodySource::Chunks(Arc::new(chunks::Chunks {
            database: self.database.clone(),
            version: version.id,
            chunk_size: version.chunk_size,
            len: version.size,
        }));
        Ok(Download::from_source(
            version.filename,
            version.content_type,
            source,
            version.stored_at,
            version.digest,
        ))
    }

    fn spool(&self) -> &dyn Spool {
        &self.spool
    }

    fn attach(&self, id: u64, upload: Upload, guard: &Guard) -> Result<AttachedTask, StorageError> {
        let content_type = upload
            .content_type
            .unwrap_or_else(|| "text/plain".to_owned());
        let size = match &upload.data {
            crate::storage::Spooled::Memory(bytes) => bytes.len() as u64,
            crate::storage::Spooled::File { size, .. } => *size,
        };
        let stored_size = i64::try_from(size)
            .map_err(|_| StorageError::Internal(format!("an upload of {size} bytes")))?;
        let chunk_size = i32::try_from(chunks::CHUNK_SIZE).unwrap_or(i32::MAX);
        // The one short transaction: the body has already arrived in the spool. The new
        // version's bytes go in first and the task's row is locked only after them, so the
        // lock (which every change to that task, on any instance, waits for) is held for
        // milliseconds, not for as long as a large upload takes to copy in. The guard is
        // still checked against the locked row, in the transaction that makes the change.
        let task = self.in_transaction("", |conn, deadline| {
            let key = key(id).ok_or(StorageError::NotFound { id })?;
            let inserted = conn
                .query(
                    "INSERT INTO taskd.attachments \
                     (task_id, filename, content_type, size, chunk_size, digest, stored_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, now()) RETURNING id",
                    &[
                        &key,
                        &upload.filename.as_bytes(),
                        &content_type.as_bytes(),
                        &stored_size,
                        &chunk_size,
                        &upload.digest.as_bytes().as_slice(),
                    ],
                    deadline,
                )
                .map_err(failed)?;
            let version: i64 = inserted
                .first()
                .and_then(|row| row.try_get(0).ok())
                .ok_or_else(|| StorageError::Internal("no version id".to_owned()))?;
            chunks::write(conn, version, &upload.data, deadline).map_err(failed)?;
            let (mut task, current) = locked(conn, id, deadline)?;
            attachment_guard(guard, current.as_ref())?;
            if let Some(old) = current {
                retire::retire(conn, old.id, deadline).map_err(failed)?;
            }
            conn.execute(
                "UPDATE taskd.tasks SET attachment_id = $2, revision = revision + 1 WHERE id = $1",
                &[&key, &version],
                deadline,
            )
            .map_err(failed)?;
            task.attachment = Some(AttachmentInfo {
                filename: upload.filename.clone(),
                size,
            });
            Ok(task)
        })?;
        self.sweep();
        let etag = EntityTag::for_attachment(upload.digest, size, &content_type, &upload.filename);
        Ok(AttachedTask { task, etag })
    }

    fn detach(&self, id: u64, guard: &Guard) -> Result<(), StorageError> {
        self.in_transaction("", |conn, deadline| {
            let (_, current) = locked(conn, id, deadline)?;
            let current = current.ok_or(StorageError::NoAttachment { id })?;
            attachment_guard(guard, Some(&current))?;
            let key = key(id).ok_or(StorageError::NotFound { id })?;
            conn.execute(
                "UPDATE taskd.tasks SET attachment_id = NULL, revision = revision + 1 \
                 WHERE id = $1",
                &[&key],
                deadline,
            )
            .map_err(failed)?;
            retire::retire(conn, current.id, deadline).map_err(failed)
        })?;
        self.sweep();
        Ok(())
    }

    #[cfg(feature = "test-hooks")]
    fn panic_while_locked(&self) {
        // No lock of this process guards the data: the database's own transactions do.
        panic!("fault injection: panic in the PostgreSQL backend");
    }
}
