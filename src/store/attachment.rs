//! An attachment as the store keeps it and as a download gets it: where its bytes are, when it
//! was stored, and the digest its entity tag is made from; and reading any byte range of it,
//! from the shared `Bytes` in memory or from the open blob file with positioned reads.
//!
//! Attachments recorded by taskd 8c73c49 and older have neither a stored time nor a digest.
//! Their `Last-Modified` is their blob file's mtime (a blob is never changed once in place), and
//! their digest is computed the first time a request needs it, outside the store lock, then kept
//! in a cell that the store's copy shares, so it is computed once and the next snapshot records
//! it. Nothing is read at start.

use std::fs::File;
use std::io;
#[cfg(any(test, feature = "test-hooks"))]
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;

use super::{Content, StoredFile};
#[cfg(any(test, feature = "test-hooks"))]
use crate::validators::Segment;
use crate::validators::{whole_seconds, Digest, Digester, EntityTag};

/// Bytes read at a time from a blob file, for a range or a digest.
const CHUNK: usize = 256 * 1024;

/// An attachment's digest: known from its upload or its record, or found on first use. Clones
/// share the cell, so what one request computes, the store and later requests see.
#[derive(Debug, Clone, Default)]
pub(crate) struct DigestCell(Arc<OnceLock<Digest>>);

impl DigestCell {
    /// A cell that already holds `digest`.
    pub(crate) fn known(digest: Digest) -> DigestCell {
        DigestCell(Arc::new(OnceLock::from(digest)))
    }

    /// The digest, if known.
    pub(crate) fn get(&self) -> Option<Digest> {
        self.0.get().copied()
    }

    /// The digest, computing it now (and keeping it) when unknown. Two first uses at once may
    /// both compute it; both get the same value.
    fn get_or_compute(&self, compute: impl FnOnce() -> io::Result<Digest>) -> io::Result<Digest> {
        if let Some(digest) = self.get() {
            return Ok(digest);
        }
        let digest = compute()?;
        Ok(*self.0.get_or_init(|| digest))
    }
}

/// Cells compare by what they hold.
impl PartialEq for DigestCell {
    fn eq(&self, other: &DigestCell) -> bool {
        self.get() == other.get()
    }
}

/// An attachment in the store: the file and its validators.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attached {
    /// Name, type and bytes.
    pub(crate) file: StoredFile,
    /// When it was stored, whole seconds; `None` when recorded by 8c73c49 or older.
    pub(crate) stored_at: Option<SystemTime>,
    /// Its bytes' digest.
    pub(crate) digest: DigestCell,
}

impl Attached {
    /// A rough size of its snapshot record, for the compaction trigger.
    pub(crate) fn cost(&self) -> u64 {
        self.file.cost() + 64
    }
}

/// An attachment ready to be sent: its details, its bytes and its validators.
#[derive(Debug)]
pub struct Download {
    /// The stored attachment.
    pub file: StoredFile,
    /// In durable mode, the blob, opened while it was current, so a concurrent replace or
    /// delete cannot take it away mid-download (an open file outlives its removal).
    pub opened: Option<File>,
    stored_at: Option<SystemTime>,
    digest: DigestCell,
}

impl Download {
    pub(crate) fn new(attached: Attached, opened: Option<File>) -> Download {
        Download {
            file: attached.file,
            opened,
            stored_at: attached.stored_at,
            digest: attached.digest,
        }
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.file.size()
    }

    /// The `Content-Type` it is served with: as uploaded, or `text/plain` when the part had
    /// none (RFC 7578 §4.4).
    pub fn content_type(&self) -> &str {
        self.file.content_type.as_deref().unwrap_or("text/plain")
    }

    /// Its `Last-Modified`: when it was stored (for attachments from 8c73c49 and older, the
    /// blob's mtime), in whole seconds, and never later than now (RFC 9110 §8.8.2.1).
    ///
    /// # Errors
    /// When an old attachment's blob time cannot be read.
    pub fn last_modified(&self) -> io::Result<SystemTime> {
        let stored = match (self.stored_at, &self.opened) {
            (Some(stored), _) => stored,
            (None, Some(blob)) => blob.metadata()?.modified()?,
            (None, None) => return Err(io::Error::other("an attachment without a stored time")),
        };
        Ok(whole_seconds(stored.min(SystemTime::now())))
    }

    /// The digest of its bytes; for an attachment from 8c73c49 or older, computed now from the
    /// blob the first time (reading the whole file, outside the store lock) and kept.
    ///
    /// # Errors
    /// When the blob cannot be read.
    pub fn digest(&self) -> io::Result<Digest> {
        self.digest
            .get_or_compute(|| digest_of(&self.file.content, self.opened.as_ref()))
    }

    /// Its strong `ETag`: digest, size, `Content-Type` as served and filename
    /// ([`EntityTag::for_attachment`]).
    ///
    /// # Errors
    /// As [`Download::digest`].
    pub fn etag(&self) -> io::Result<EntityTag> {
        let digest = self.digest()?;
        Ok(EntityTag::for_attachment(
            digest,
            self.size(),
            self.content_type(),
            &self.file.filename,
        ))
    }

    /// Its bytes as a [`ByteSource`] to read ranges from.
    ///
    /// # Errors
    /// When a blob attachment has no open file (never, from [`super::Store::attachment`]).
    pub fn into_source(self) -> io::Result<ByteSource> {
        match (self.file.content, self.opened) {
            (Content::Memory(bytes), _) => Ok(ByteSource::Memory(bytes)),
            (Content::Blob(blob), Some(file)) => Ok(ByteSource::File {
                file: Arc::new(file),
                len: blob.size,
            }),
            (Content::Blob(blob), None) => Err(io::Error::other(format!(
                "blob {} was not opened",
                blob.name
            ))),
        }
    }
}

/// Reads the whole attachment to compute its digest.
fn digest_of(content: &Content, opened: Option<&File>) -> io::Result<Digest> {
    match (content, opened) {
        (Content::Memory(bytes), _) => Ok(Digest::of(bytes)),
        (Content::Blob(blob), Some(file)) => {
            let mut digester = Digester::new();
            let mut buffer = vec![0u8; CHUNK];
            for_each_chunk(file, 0, blob.size, &mut buffer, |chunk| {
                digester.update(chunk);
                Ok(())
            })?;
            Ok(digester.finish())
        }
        (Content::Blob(blob), None) => Err(io::Error::other(format!(
            "blob {} was not opened",
            blob.name
        ))),
    }
}

/// Calls `each` with consecutive chunks of `len` bytes of `file` from `start`, read with
/// positioned reads (no shared cursor moves, so concurrent readers of one file do not collide).
fn for_each_chunk(
    file: &File,
    start: u64,
    len: u64,
    buffer: &mut [u8],
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut offset = start;
    let end = start + len;
    while offset < end {
        let want =
            usize::try_from(end - offset).map_or(buffer.len(), |rest| rest.min(buffer.len()));
        let read = read_at(file, &mut buffer[..want], offset)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the blob ends at byte {offset}, before its recorded size {end}"),
            ));
        }
        each(&buffer[..read])?;
        offset += read as u64;
    }
    Ok(())
}

/// A positioned read: the file's cursor, which a streamed 200 uses, stays where it is.
#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buffer, offset)
}

/// A positioned read (on Windows it moves the cursor; taskd reads one file in one place).
#[cfg(windows)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buffer, offset)
}

/// Where a download's bytes are read from, for a range or a whole: cheap to clone, never copies
/// the attachment.
#[derive(Debug, Clone)]
pub enum ByteSource {
    /// In memory, shared with the store.
    Memory(Bytes),
    /// The open blob file (durable mode) and its recorded length.
    File {
        /// The file, shared by every clone.
        file: Arc<File>,
        /// Its length in bytes.
        len: u64,
    },
}

impl ByteSource {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            ByteSource::Memory(bytes) => bytes.len() as u64,
            ByteSource::File { len, .. } => *len,
        }
    }

    /// Whether it has no bytes.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `len` bytes from `start` without copying, for memory; `None` for a file or a range past
    /// the end.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn slice(&self, start: u64, len: u64) -> Option<Bytes> {
        let ByteSource::Memory(bytes) = self else {
            return None;
        };
        let start = usize::try_from(start).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        (end <= bytes.len()).then(|| bytes.slice(start..end))
    }

    /// Reads bytes from `offset` into `buffer` like `pread`: returns how many (0 at the end),
    /// and moves no shared cursor, so clones can read different ranges at once.
    ///
    /// # Errors
    /// The file's read errors.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn read_at(&self, offset: u64, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            ByteSource::Memory(bytes) => {
                let start = usize::try_from(offset).map_or(bytes.len(), |o| o.min(bytes.len()));
                let count = buffer.len().min(bytes.len() - start);
                buffer[..count].copy_from_slice(&bytes[start..start + count]);
                Ok(count)
            }
            ByteSource::File { file, len } => {
                let rest = len.saturating_sub(offset);
                let want = usize::try_from(rest).map_or(buffer.len(), |r| r.min(buffer.len()));
                read_at(file, &mut buffer[..want], offset)
            }
        }
    }

    /// Writes `len` bytes from `start` to `out`: from memory directly, from a file in chunks
    /// with positioned reads.
    ///
    /// # Errors
    /// `InvalidInput` for a range past the end, `UnexpectedEof` when the file is shorter than
    /// recorded, and `out`'s errors.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn copy_range(&self, start: u64, len: u64, out: &mut dyn Write) -> io::Result<()> {
        if start.checked_add(len).is_none_or(|end| end > self.len()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bytes {start}+{len} are past the end ({})", self.len()),
            ));
        }
        match self {
            ByteSource::Memory(_) => {
                let slice = self.slice(start, len).expect("checked above");
                out.write_all(&slice)
            }
            ByteSource::File { file, .. } => {
                let mut buffer = vec![0u8; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK))];
                for_each_chunk(file, start, len, &mut buffer, |chunk| out.write_all(chunk))
            }
        }
    }

    /// Writes a laid-out `multipart/byteranges` body (see `validators::byteranges`).
    ///
    /// # Errors
    /// As [`ByteSource::copy_range`].
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn write_segments(&self, segments: &[Segment], out: &mut dyn Write) -> io::Result<()> {
        for segment in segments {
            match segment {
                Segment::Literal(bytes) => out.write_all(bytes)?,
                Segment::Slice { start, len } => self.copy_range(*start, *len, out)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "attachment_tests.rs"]
mod tests;
