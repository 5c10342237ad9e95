//! An attachment as the shared state keeps it and as a download gets it: where its bytes are,
//! when it was stored, and the digest its entity tag is made from; and the [`BodySource`] a
//! download's bytes are read from (the shared `Bytes` in memory, or the open blob file).
//!
//! Attachments recorded by taskd 8c73c49 and older have neither a stored time nor a digest.
//! Their `Last-Modified` is their blob file's mtime (a blob is never changed once in place), and
//! their digest is computed the first time a request needs it, outside the store lock, then kept
//! in a cell that the store's copy shares, so it is computed once and the next snapshot records
//! it. Nothing is read at start.

use std::fs::File;
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use super::{Content, StoredFile};
use crate::storage::{BodySource, StorageError};
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
    file: StoredFile,
    /// In durable mode, the blob, opened while it was current, so a concurrent replace or
    /// delete cannot take it away mid-download (an open file outlives its removal).
    opened: Option<File>,
    stored_at: Option<SystemTime>,
    digest: DigestCell,
}

impl Download {
    /// An attachment read from elsewhere (a database's chunks), with its known validators.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn from_source(
        filename: String,
        content_type: String,
        source: BodySource,
        stored_at: SystemTime,
        digest: Digest,
    ) -> Download {
        Download {
            file: StoredFile {
                filename,
                content_type: Some(content_type),
                content: Content::Source(source),
            },
            opened: None,
            stored_at: Some(stored_at),
            digest: DigestCell::known(digest),
        }
    }

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

    /// The stored attachment, for the shared state's tests.
    #[cfg(test)]
    pub(crate) fn stored(&self) -> &StoredFile {
        &self.file
    }

    /// Its filename, as uploaded after path stripping (the `Content-Disposition`).
    pub fn filename(&self) -> &str {
        &self.file.filename
    }

    /// The name of its blob under `DIR/blobs/` (durable mode), for tests that age or damage it.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn blob_name(&self) -> Option<&str> {
        match &self.file.content {
            Content::Blob(blob) => Some(&blob.name),
            Content::Memory(_) | Content::Source(_) => None,
        }
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
    /// `Internal` when an old attachment's blob time cannot be read.
    pub fn last_modified(&self) -> Result<SystemTime, StorageError> {
        let stored = match (self.stored_at, &self.opened) {
            (Some(stored), _) => stored,
            (None, Some(blob)) => blob
                .metadata()
                .and_then(|meta| meta.modified())
                .map_err(|error| unreadable(&self.file, error))?,
            (None, None) => {
                let reason = "an attachment without a stored time";
                return Err(StorageError::Internal(reason.to_owned()));
            }
        };
        Ok(whole_seconds(stored.min(SystemTime::now())))
    }

    /// The digest of its bytes; for an attachment from 8c73c49 or older, computed now from the
    /// blob the first time (reading the whole file, outside the store lock) and kept.
    ///
    /// # Errors
    /// `Internal` when the blob cannot be read.
    pub fn digest(&self) -> Result<Digest, StorageError> {
        self.digest
            .get_or_compute(|| digest_of(&self.file.content, self.opened.as_ref()))
            .map_err(|error| unreadable(&self.file, error))
    }

    /// Its strong `ETag`: digest, size, `Content-Type` as served and filename
    /// ([`EntityTag::for_attachment`]).
    ///
    /// # Errors
    /// As [`Download::digest`].
    pub fn etag(&self) -> Result<EntityTag, StorageError> {
        let digest = self.digest()?;
        Ok(EntityTag::for_attachment(
            digest,
            self.size(),
            self.content_type(),
            &self.file.filename,
        ))
    }

    /// Its bytes as a [`BodySource`] to send whole or in ranges.
    ///
    /// # Errors
    /// `Internal` when a blob attachment has no open file (never, from a backend's
    /// `attachment`).
    pub fn into_source(self) -> Result<BodySource, StorageError> {
        match (self.file.content, self.opened) {
            (Content::Memory(bytes), _) => Ok(BodySource::Memory(bytes)),
            (Content::Source(source), _) => Ok(source),
            (Content::Blob(blob), Some(file)) => Ok(BodySource::File {
                file: Arc::new(file),
                len: blob.size,
            }),
            (Content::Blob(blob), None) => Err(StorageError::Internal(format!(
                "blob {} was not opened",
                blob.name
            ))),
        }
    }
}

/// A blob that could not be read, as a storage error naming it.
fn unreadable(file: &StoredFile, error: io::Error) -> StorageError {
    let name = match &file.content {
        Content::Blob(blob) => blob.name.as_str(),
        Content::Memory(_) => "(memory)",
        Content::Source(_) => "(database)",
    };
    StorageError::Internal(format!("blob {name}: {error}"))
}

/// Reads the whole attachment to compute its digest.
fn digest_of(content: &Content, opened: Option<&File>) -> io::Result<Digest> {
    match (content, opened) {
        (Content::Memory(bytes), _) => Ok(Digest::of(bytes)),
        // A database keeps every version's digest: this is never asked for.
        (Content::Source(_), _) => Err(io::Error::other("a database attachment without a digest")),
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

#[cfg(test)]
#[path = "attachment_tests.rs"]
mod tests;
