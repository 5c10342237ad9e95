//! Receiving an upload: a backend's [`Spool`] makes a [`SpoolWriter`] for each file part, the
//! multipart reader pushes the part's bytes into it as they arrive, and the finished
//! [`Spooled`] upload goes back to the backend's `attach`. The backend decides where the bytes
//! wait: in one buffer (memory), or in a temporary file (durable mode: no upload is ever held
//! in memory, and the file is renamed into `blobs/` once every check passed).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use bytes::Bytes;

use super::faults::Faults;
use super::StorageError;

/// Where a backend receives uploads.
pub trait Spool: Send + Sync + fmt::Debug {
    /// A destination for one file part; `bound` is the most it can hold, when known.
    ///
    /// # Errors
    /// `Internal` when it cannot be created.
    fn create(&self, bound: Option<u64>) -> Result<SpoolWriter, StorageError>;
}

/// Receives uploads into one buffer per part.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemorySpool;

impl Spool for MemorySpool {
    fn create(&self, bound: Option<u64>) -> Result<SpoolWriter, StorageError> {
        Ok(SpoolWriter::memory(bound))
    }
}

/// One upload being received.
#[derive(Debug)]
pub struct SpoolWriter(Writing);

#[derive(Debug)]
enum Writing {
    Memory(Vec<u8>),
    File {
        temp: TempFile,
        size: u64,
        faults: Faults,
    },
}

impl SpoolWriter {
    /// A buffer sized once for the whole file (`bound`), so a large upload is never re-copied
    /// as it grows. If the allocator refuses, the buffer grows on demand instead.
    pub fn memory(bound: Option<u64>) -> SpoolWriter {
        let mut buffer = Vec::new();
        if let Some(Ok(bound)) = bound.map(usize::try_from) {
            let _ = buffer.try_reserve_exact(bound);
        }
        SpoolWriter(Writing::Memory(buffer))
    }

    /// A new file at `path` (which must not exist), removed again unless it is kept.
    pub(crate) fn file(path: PathBuf, faults: Faults) -> Result<SpoolWriter, StorageError> {
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|error| {
                StorageError::Internal(format!("cannot create {}: {error}", path.display()))
            })?;
        let temp = TempFile {
            path,
            file,
            kept: false,
        };
        Ok(SpoolWriter(Writing::File {
            temp,
            size: 0,
            faults,
        }))
    }

    /// A new file at `path` (which must not exist) that is unlinked at once, readable and
    /// writable through its handle alone: nothing is left on disk however the process ends
    /// (`kill -9` mid-upload included), for a backend that reads the upload back rather than
    /// renaming it into place. Its [`TempFile::path`] names where it was, for messages.
    pub(crate) fn unlinked_file(path: PathBuf) -> Result<SpoolWriter, StorageError> {
        let cannot = |error: std::io::Error| {
            StorageError::Internal(format!("cannot create {}: {error}", path.display()))
        };
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(cannot)?;
        fs::remove_file(&path).map_err(cannot)?;
        // Already gone: nothing for the drop to remove.
        let temp = TempFile {
            path,
            file,
            kept: true,
        };
        Ok(SpoolWriter(Writing::File {
            temp,
            size: 0,
            faults: Faults::default(),
        }))
    }

    /// Appends a chunk.
    ///
    /// # Errors
    /// `Internal` when it cannot be stored.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), StorageError> {
        match &mut self.0 {
            Writing::Memory(buffer) => buffer.extend_from_slice(chunk),
            Writing::File { temp, size, faults } => {
                let written = faults.check().and_then(|()| temp.file.write_all(chunk));
                written.map_err(|error| {
                    StorageError::Internal(format!("cannot write {}: {error}", temp.path.display()))
                })?;
                *size += chunk.len() as u64;
            }
        }
        Ok(())
    }

    /// Closes the destination after the part's closing delimiter.
    pub fn finish(self) -> Spooled {
        match self.0 {
            Writing::Memory(mut bytes) => {
                // The reservation was for the rest of the body; give back a large unused tail.
                if bytes.capacity() - bytes.len() > bytes.len() / 16 + 64 * 1024 {
                    bytes.shrink_to_fit();
                }
                Spooled::Memory(Bytes::from(bytes))
            }
            Writing::File { temp, size, .. } => Spooled::File { temp, size },
        }
    }
}

/// A received upload, not yet stored.
#[derive(Debug)]
pub enum Spooled {
    /// In one buffer.
    Memory(Bytes),
    /// In a temporary file (removed when dropped, unless a backend keeps it).
    File {
        /// The file.
        temp: TempFile,
        /// Its length in bytes.
        size: u64,
    },
}

/// A temporary file that is removed when dropped, unless it was moved into place.
#[derive(Debug)]
pub struct TempFile {
    pub(crate) path: PathBuf,
    pub(crate) file: File,
    pub(crate) kept: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}
