//! [`BodySource`]: where a download's bytes are read from, as the backend opened them. One type
//! for the whole attachment, one range of it and the slices of a `multipart/byteranges` body;
//! the reply's body refers to it by offset and length, so no attachment is ever copied.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;

/// An attachment's bytes, opened by a storage backend for one download. Cheap to clone.
///
/// The connection layer's body can carry each kind as it is: `Memory` as bytes, `File` as a
/// stretch of an open file (`sendfile`), `Chunks` as a streamed body.
#[derive(Debug, Clone)]
pub enum BodySource {
    /// In memory, shared with the store.
    Memory(Bytes),
    /// An open file and its recorded length: a blob under `DIR/blobs/`, opened while it was
    /// current, so a concurrent replace or delete cannot take it away mid-download (an open
    /// file outlives its removal).
    File {
        /// The file, shared by every clone.
        file: Arc<File>,
        /// Its length in bytes.
        len: u64,
    },
    /// Chunks fetched on demand from a database (CONTRACT §14), each with a short statement of
    /// its own: a range reads only the chunks it overlaps, and no transaction is held between
    /// them.
    Chunks(Arc<dyn ChunkSource>),
}

/// An attachment whose bytes are read in pieces as they are sent (a database's chunks).
pub trait ChunkSource: Send + Sync + fmt::Debug {
    /// Its length in bytes.
    fn len(&self) -> u64;

    /// Whether it has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A reader of exactly `len` bytes from `start` (within the attachment). A read error
    /// (the database went away, the version was removed after its grace period) cuts the
    /// download short: the connection closes, never with bytes of something else.
    fn reader(&self, start: u64, len: u64) -> Box<dyn Read + Send>;
}

impl BodySource {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            BodySource::Memory(bytes) => bytes.len() as u64,
            BodySource::File { len, .. } => *len,
            BodySource::Chunks(chunks) => chunks.len(),
        }
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sources compare by what they are: equal bytes, or the very same open file.
impl PartialEq for BodySource {
    fn eq(&self, other: &BodySource) -> bool {
        match (self, other) {
            (BodySource::Memory(a), BodySource::Memory(b)) => a == b,
            (BodySource::File { file: a, len: x }, BodySource::File { file: b, len: y }) => {
                Arc::ptr_eq(a, b) && x == y
            }
            (BodySource::Chunks(a), BodySource::Chunks(b)) => {
                std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
            }
            _ => false,
        }
    }
}
