//! The import's one transaction: under the advisory lock that schema changes take (so instances
//! starting meanwhile wait), check that the schema has never given out an id, write every row
//! as `migrations/0001_init.sql` documents it, then read the rows back and check the counts,
//! the counter and every attachment's bytes against its digest before committing. Any failure
//! rolls everything back: the database is then as it was.

use std::time::Duration;

use crate::model::Priority;
use crate::pg::conn::{Deadline, PgConn};
use crate::pg::error::PgError;
use crate::pg::schema::ADVISORY_LOCK_KEY;
use crate::storage::durable::{DataDirImage, ImageAttachment};
use crate::storage::postgres::chunks::{self, CHUNK_SIZE};
use crate::validators::{Digest, Digester};

/// Each statement's limit. Per statement rather than for the whole copy, so a large directory
/// takes as long as it needs while a silent network still ends the import.
const STATEMENT_DEADLINE: Duration = Duration::from_secs(120);

/// What was copied, for the summary line.
#[derive(Debug)]
pub(crate) struct Copied {
    pub(crate) tasks: u64,
    pub(crate) attachments: u64,
    pub(crate) bytes: u64,
}

/// Copies `image` in one transaction; the error is one line. BEGIN and COMMIT by hand rather
/// than through `PgConn::transaction`, whose one deadline would have to cover the whole copy.
pub(super) fn copy_into(conn: &mut PgConn, image: &DataDirImage) -> Result<Copied, String> {
    conn.batch("BEGIN", step())
        .map_err(db("cannot begin the import"))?;
    match copy_rows(conn, image) {
        Ok(copied) => {
            conn.batch("COMMIT", step()).map_err(db(
                "cannot commit the import (it may or may not have happened)",
            ))?;
            Ok(copied)
        }
        Err(reason) => {
            // Dropping the connection rolls back too, should the ROLLBACK itself fail.
            let _ = conn.batch("ROLLBACK", step());
            Err(reason)
        }
    }
}

fn step() -> Deadline {
    Deadline::after(STATEMENT_DEADLINE)
}

fn db(what: &str) -> impl FnOnce(PgError) -> String + '_ {
    move |error| format!("{what}: {error}")
}

fn priority_name(priority: Priority) -> &'static str {
    match priority {
        Priority::Low => "low",
        Priority::Medium => "medium",
        Priority::High => "high",
    }
}

fn copy_rows(conn: &mut PgConn, image: &DataDirImage) -> Result<Copied, String> {
    // The server's statement_timeout (5 s, for requests) must not cut a large copy.
    conn.batch(
        &format!(
            "SET LOCAL statement_timeout = {}",
            STATEMENT_DEADLINE.as_millis()
        ),
        step(),
    )
    .map_err(db("cannot set the statement timeout"))?;
    conn.query(
        "SELECT pg_advisory_xact_lock($1)",
        &[&ADVISORY_LOCK_KEY],
        step(),
    )
    .map_err(db("cannot take the advisory lock"))?;
    check_never_used(conn)?;
    let mut copied = Copied {
        tasks: 0,
        attachments: 0,
        bytes: 0,
    };
    let mut counts = [[0i64; 3]; 2];
    let mut attachments = Vec::new();
    for task in &image.tasks {
        let id = i64::try_from(task.id).map_err(|_| format!("task id {} too large", task.id))?;
        let attachment_id = match &task.attachment {
            Some(attachment) => {
                let (row_id, digest) = copy_attachment(conn, id, attachment)?;
                copied.attachments += 1;
                copied.bytes += attachment.size;
                attachments.push((task.id, row_id, attachment.size, digest));
                Some(row_id)
            }
            None => None,
        };
        let priority = priority_name(task.priority);
        conn.execute(
            "INSERT INTO taskd.tasks (id, title, priority, done, attachment_id) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &id,
                &task.title.as_bytes(),
                &priority,
                &task.done,
                &attachment_id,
            ],
            step(),
        )
        .map_err(db(&format!("cannot insert task {}", task.id)))?;
        counts[usize::from(task.done)][task.priority as usize] += 1;
        copied.tasks += 1;
    }
    for (done, row) in counts.iter().enumerate() {
        for priority in [Priority::Low, Priority::Medium, Priority::High] {
            let tasks = row[priority as usize];
            conn.execute(
                "UPDATE taskd.task_counts SET tasks = $3 WHERE done = $1 AND priority = $2",
                &[&(done == 1), &priority_name(priority), &tasks],
                step(),
            )
            .map_err(db("cannot set the task counts"))?;
        }
    }
    let next_id = i64::try_from(image.next_id).map_err(|_| "next id too large".to_owned())?;
    conn.execute(
        "UPDATE taskd.id_counter SET next_id = $1",
        &[&next_id],
        step(),
    )
    .map_err(db("cannot set the id counter"))?;
    verify(conn, image, &counts, &attachments)?;
    Ok(copied)
}

/// Refuses a database whose taskd schema has given out an id (or holds anything).
fn check_never_used(conn: &mut PgConn) -> Result<(), String> {
    let rows = conn
        .query(
            "SELECT (SELECT next_id FROM taskd.id_counter FOR UPDATE), \
                    EXISTS (SELECT 1 FROM taskd.tasks), \
                    EXISTS (SELECT 1 FROM taskd.attachments)",
            &[],
            step(),
        )
        .map_err(db("cannot read the id counter"))?;
    let row = rows.first().ok_or("the id counter is missing")?;
    let (next_id, has_tasks, has_attachments): (Option<i64>, bool, bool) =
        (row.get(0), row.get(1), row.get(2));
    if next_id != Some(1) || has_tasks || has_attachments {
        return Err(format!(
            "the database's taskd schema has already given out ids (next id {}): import needs one that never has; nothing was changed",
            next_id.map_or_else(|| "missing".to_owned(), |id| id.to_string())
        ));
    }
    Ok(())
}

/// Inserts the attachment's row and its chunks, reading the blob once; returns the row's id and
/// the digest of the bytes read (checked against the recorded one when there is one).
fn copy_attachment(
    conn: &mut PgConn,
    task_id: i64,
    attachment: &ImageAttachment,
) -> Result<(i64, Digest), String> {
    let blob = &attachment.blob_name;
    let read_error = |error: std::io::Error| format!("cannot read blob {blob}: {error}");
    // The digest first, in a pass of its own: the row needs it, and a blob that does not match
    // its record must stop the import before anything of it is written.
    let mut digester = Digester::new();
    let mut pass = BlobChunks::new(attachment);
    while let Some(chunk) = pass.next().map_err(read_error)? {
        digester.update(&chunk);
    }
    let digest = digester.finish();
    if attachment.digest.is_some_and(|recorded| recorded != digest) {
        return Err(format!(
            "blob {blob} does not match its recorded digest: restore the data directory from a backup"
        ));
    }
    // The type as served: a part sent without one is `text/plain` (RFC 7578 §4.4), which is
    // what the data dir answers and what its ETag is made from.
    let content_type = attachment.content_type.as_deref().unwrap_or("text/plain");
    let size = i64::try_from(attachment.size).map_err(|_| format!("blob {blob} too large"))?;
    let chunk_size = CHUNK_SIZE as i32;
    let rows = conn
        .query(
            "INSERT INTO taskd.attachments \
                 (task_id, filename, content_type, size, chunk_size, digest, stored_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &task_id,
                &attachment.filename.as_bytes(),
                &content_type.as_bytes(),
                &size,
                &chunk_size,
                &&digest.as_bytes()[..],
                &attachment.stored_at,
            ],
            step(),
        )
        .map_err(db(&format!(
            "cannot insert the attachment of task {task_id}"
        )))?;
    let row_id: i64 = rows.first().ok_or("no attachment id returned")?.get(0);
    // The bytes again, streamed in as the upload path writes them: one COPY, so the whole blob
    // has one statement's deadline (120 s, 2 MB/s for a 256 MiB blob). `verify` reads them
    // back against the digest.
    let mut pass = BlobChunks::new(attachment);
    let mut unreadable = None;
    let next_chunk = || {
        pass.next().map_err(|error| {
            unreadable = Some(read_error(error));
            PgError::Statement {
                code: None,
                message: "the blob could not be read".to_owned(),
            }
        })
    };
    let copied = chunks::copy_in(conn, row_id, next_chunk, step());
    if let Some(reason) = unreadable {
        return Err(reason);
    }
    copied.map_err(db(&format!("cannot copy the chunks of blob {blob}")))?;
    Ok((row_id, digest))
}

/// A blob's bytes in chunks of [`CHUNK_SIZE`] (the last one shorter), from its start: exactly
/// its recorded size, or an error.
struct BlobChunks<'a> {
    attachment: &'a ImageAttachment,
    offset: u64,
}

impl<'a> BlobChunks<'a> {
    fn new(attachment: &'a ImageAttachment) -> BlobChunks<'a> {
        BlobChunks {
            attachment,
            offset: 0,
        }
    }

    fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let remaining = self.attachment.size - self.offset;
        if remaining == 0 {
            return Ok(None);
        }
        let want = usize::try_from(remaining).map_or(CHUNK_SIZE, |left| left.min(CHUNK_SIZE));
        let mut chunk = vec![0u8; want];
        read_exact_at(&self.attachment.blob, &mut chunk, self.offset)?;
        self.offset += want as u64;
        Ok(Some(chunk))
    }
}

/// A positioned read of exactly `buffer.len()` bytes (the blob is read twice).
fn read_exact_at(file: &std::fs::File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buffer)
    }
}

/// Reads back what was written, in the same transaction: the counter, the task count, the
/// counts per done × priority (kept and recounted), and every attachment's bytes against its
/// digest and size.
fn verify(
    conn: &mut PgConn,
    image: &DataDirImage,
    counts: &[[i64; 3]; 2],
    attachments: &[(u64, i64, u64, Digest)],
) -> Result<(), String> {
    let mismatch = |what: String| format!("verification failed, nothing was imported: {what}");
    let rows = conn
        .query(
            "SELECT (SELECT next_id FROM taskd.id_counter), (SELECT count(*) FROM taskd.tasks)",
            &[],
            step(),
        )
        .map_err(db("cannot verify"))?;
    let row = rows.first().ok_or("cannot verify: no row")?;
    let (next_id, tasks): (i64, i64) = (row.get(0), row.get(1));
    if u64::try_from(next_id).ok() != Some(image.next_id)
        || u64::try_from(tasks).ok() != Some(image.tasks.len() as u64)
    {
        return Err(mismatch(format!("next id {next_id}, {tasks} tasks")));
    }
    let rows = conn
        .query(
            "SELECT c.done, c.priority, c.tasks, \
                    (SELECT count(*) FROM taskd.tasks t WHERE t.done = c.done AND t.priority = c.priority) \
             FROM taskd.task_counts c",
            &[],
            step(),
        )
        .map_err(db("cannot verify the counts"))?;
    for row in rows {
        let (done, priority, kept, recounted): (bool, String, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let expected = Priority::from_name(&priority)
            .map(|p| counts[usize::from(done)][p as usize])
            .unwrap_or(0);
        if kept != expected || recounted != expected {
            return Err(mismatch(format!(
                "{kept} tasks counted and {recounted} found for done={done} priority={priority}, {expected} expected"
            )));
        }
    }
    for &(task_id, row_id, size, digest) in attachments {
        let mut digester = Digester::new();
        let mut read = 0u64;
        let mut seq = 0i32;
        while read < size {
            let rows = conn
                .query(
                    "SELECT bytes FROM taskd.attachment_chunks WHERE attachment_id = $1 AND seq = $2",
                    &[&row_id, &seq],
                    step(),
                )
                .map_err(db("cannot verify an attachment"))?;
            let Some(row) = rows.first() else {
                return Err(mismatch(format!(
                    "task {task_id}'s attachment lacks chunk {seq}"
                )));
            };
            let bytes: &[u8] = row.get(0);
            digester.update(bytes);
            read += bytes.len() as u64;
            seq += 1;
        }
        if read != size || digester.finish() != digest {
            return Err(mismatch(format!(
                "task {task_id}'s attachment reads back differently"
            )));
        }
    }
    Ok(())
}
