//! Attachment bytes in the database (CONTRACT §14): an upload written as fixed-size chunks of an
//! immutable version inside the attach's one transaction, by one `COPY` (no round trip per
//! chunk: the request's 5 s deadline is spent on the database's own work), and a download
//! read back chunk by chunk, each with a short statement on a pooled connection that is given
//! back at once, so no transaction (and no connection) is held while a slow client reads. A
//! range fetches only the chunks it overlaps.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use tokio_postgres::types::{ToSql, Type};

use crate::pg::conn::{Deadline, PgConn};
use crate::pg::error::PgError;
use crate::pg::options::REQUEST_DEADLINE;
use crate::pg::start::Database;
use crate::storage::{ChunkSource, Spooled};

/// Bytes per chunk: large enough that a 32 MiB upload is 128 rows, small enough that a
/// 1 MiB range reads at most five chunks and a download holds one chunk in memory.
pub(crate) const CHUNK_SIZE: usize = 256 * 1024;

/// Copies the chunks in: one `COPY`, whose rows stream without a round trip each.
const COPY_CHUNKS: &str =
    "COPY taskd.attachment_chunks (attachment_id, seq, bytes) FROM STDIN (FORMAT binary)";

/// Writes `upload` as version `version`'s chunks, in the caller's transaction, holding one
/// chunk at a time (a spooled file is read back a chunk at a time).
pub(super) fn write(
    conn: &mut PgConn,
    version: i64,
    upload: &Spooled,
    deadline: Deadline,
) -> Result<(), PgError> {
    let mut pieces = match upload {
        Spooled::Memory(bytes) => Pieces::Memory(bytes.clone()),
        // The spool is unlinked: read it back through its own handle, from the start.
        Spooled::File { temp, .. } => {
            let rewound = temp
                .file
                .try_clone()
                .and_then(|mut file| file.seek(SeekFrom::Start(0)).map(|_| file));
            Pieces::File(rewound.map_err(|error| spool_error(&error))?)
        }
    };
    copy_in(conn, version, || pieces.next(), deadline).map(drop)
}

/// Copies the chunks `next_chunk` makes, in order from `seq` 0, in as version `version`'s with
/// one `COPY`, in the caller's transaction; the number of chunks. An upload and `taskd import`
/// both write through here.
pub(crate) fn copy_in(
    conn: &mut PgConn,
    version: i64,
    mut next_chunk: impl FnMut() -> Result<Option<Vec<u8>>, PgError>,
    deadline: Deadline,
) -> Result<u64, PgError> {
    let mut seq: i32 = 0;
    let next_row = || -> Result<Option<Vec<Box<dyn ToSql + Sync + Send>>>, PgError> {
        let Some(bytes) = next_chunk()? else {
            return Ok(None);
        };
        let row: Vec<Box<dyn ToSql + Sync + Send>> =
            vec![Box::new(version), Box::new(seq), Box::new(bytes)];
        seq = seq.checked_add(1).ok_or_else(|| PgError::Statement {
            code: None,
            message: "more chunks than a version holds".to_owned(),
        })?;
        Ok(Some(row))
    };
    let types = [Type::INT8, Type::INT4, Type::BYTEA];
    conn.copy_in_binary(COPY_CHUNKS, &types, next_row, deadline)
}

/// An upload's bytes, a chunk at a time.
enum Pieces {
    /// What is left of an upload spooled in memory.
    Memory(Bytes),
    File(File),
}

impl Pieces {
    /// The next chunk ([`CHUNK_SIZE`] bytes, fewer for the last), or `None` at the end.
    fn next(&mut self) -> Result<Option<Vec<u8>>, PgError> {
        match self {
            Pieces::Memory(rest) => {
                let take = rest.len().min(CHUNK_SIZE);
                Ok((take > 0).then(|| rest.split_to(take).to_vec()))
            }
            Pieces::File(file) => {
                let mut buffer = vec![0u8; CHUNK_SIZE];
                let filled = fill(file, &mut buffer).map_err(|error| spool_error(&error))?;
                buffer.truncate(filled);
                Ok((filled > 0).then_some(buffer))
            }
        }
    }
}

/// Reads until `buffer` is full or the file ends; the number of bytes read.
fn fill(file: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
}

fn spool_error(error: &io::Error) -> PgError {
    PgError::Statement {
        code: None,
        message: format!("cannot read the spooled upload: {error}"),
    }
}

/// One version's chunks, readable for as long as the version exists.
pub(super) struct Chunks {
    pub(super) database: Arc<Database>,
    pub(super) version: i64,
    pub(super) chunk_size: u64,
    pub(super) len: u64,
}

impl std::fmt::Debug for Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chunks(version {}, {} bytes)", self.version, self.len)
    }
}

impl ChunkSource for Chunks {
    fn len(&self) -> u64 {
        self.len
    }

    fn reader(&self, start: u64, len: u64) -> Box<dyn Read + Send> {
        Box::new(ChunkReader {
            database: self.database.clone(),
            version: self.version,
            chunk_size: self.chunk_size.max(1),
            position: start,
            end: start.saturating_add(len).min(self.len),
            chunk: Bytes::new(),
            chunk_start: 0,
        })
    }
}

/// Reads a stretch of a version, one chunk fetched at a time.
struct ChunkReader {
    database: Arc<Database>,
    version: i64,
    chunk_size: u64,
    position: u64,
    end: u64,
    /// The chunk fetched last and where it starts.
    chunk: Bytes,
    chunk_start: u64,
}

impl ChunkReader {
    /// Fetches the chunk holding `position`, with a deadline of its own: each is a short
    /// statement on a connection borrowed for it alone.
    fn fetch(&mut self) -> io::Result<()> {
        let seq = i32::try_from(self.position / self.chunk_size)
            .map_err(|_| io::Error::other("a chunk number past the format's range"))?;
        let deadline = Deadline::after(REQUEST_DEADLINE);
        let fetched = self.database.pool.get(deadline).and_then(|mut conn| {
            conn.query(
                "SELECT bytes FROM taskd.attachment_chunks WHERE attachment_id = $1 AND seq = $2",
                &[&self.version, &seq],
                deadline,
            )
        });
        let rows = fetched.map_err(|error| io::Error::other(error.to_string()))?;
        // A version removed after its grace period ends the download: never other bytes.
        let row = rows.first().ok_or_else(|| {
            io::Error::other(format!("chunk {seq} of version {} is gone", self.version))
        })?;
        let bytes: Vec<u8> = row
            .try_get(0)
            .map_err(|error| io::Error::other(error.to_string()))?;
        self.chunk_start = u64::from(seq.unsigned_abs()) * self.chunk_size;
        self.chunk = Bytes::from(bytes);
        Ok(())
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.position >= self.end || buffer.is_empty() {
            return Ok(0);
        }
        let chunk_end = self.chunk_start + self.chunk.len() as u64;
        if self.position < self.chunk_start || self.position >= chunk_end {
            self.fetch()?;
        }
        let offset = usize::try_from(self.position - self.chunk_start).map_err(io::Error::other)?;
        let available = &self.chunk[offset.min(self.chunk.len())..];
        if available.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("version {} ends before its size", self.version),
            ));
        }
        let wanted = usize::try_from(self.end - self.position).unwrap_or(usize::MAX);
        let count = available.len().min(buffer.len()).min(wanted);
        buffer[..count].copy_from_slice(&available[..count]);
        self.position += count as u64;
        Ok(count)
    }
}
