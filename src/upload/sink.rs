//! Where a `file` part's bytes go while they arrive: the [`FileSink`] trait, and [`InMemory`],
//! the sink of memory mode (durable mode's is `durable::Spool`, a temporary file).

use bytes::Bytes;

use crate::error::ApiError;

/// Where the bytes of a `file` part go while the body is read. Only the part being read and the
/// last complete `file` part are ever kept; a superseded one is dropped.
pub trait FileSink {
    /// The open destination while a part is read.
    type Writer;
    /// A finished part's bytes.
    type Data;
    /// Opens a destination; `bound` is the most the part can hold, when known.
    ///
    /// # Errors
    /// 500 when the destination cannot be created.
    fn create(&self, bound: Option<u64>) -> Result<Self::Writer, ApiError>;
    /// Appends a chunk.
    ///
    /// # Errors
    /// 500 when it cannot be stored.
    fn write(&self, writer: &mut Self::Writer, chunk: &[u8]) -> Result<(), ApiError>;
    /// Closes the destination after the part's closing delimiter.
    ///
    /// # Errors
    /// 500 when it cannot be closed.
    fn finish(&self, writer: Self::Writer) -> Result<Self::Data, ApiError>;
}

/// Keeps a file in one buffer, reserved once from `Content-Length`.
#[derive(Debug, Clone, Copy, Default)]
pub struct InMemory;

impl FileSink for InMemory {
    type Writer = Vec<u8>;
    type Data = Bytes;

    /// A buffer sized once for the whole file, so a large upload is never re-copied as it
    /// grows. If the allocator refuses, the buffer grows on demand instead.
    fn create(&self, bound: Option<u64>) -> Result<Vec<u8>, ApiError> {
        let mut buffer = Vec::new();
        if let Some(Ok(bound)) = bound.map(usize::try_from) {
            let _ = buffer.try_reserve_exact(bound);
        }
        Ok(buffer)
    }

    fn write(&self, writer: &mut Vec<u8>, chunk: &[u8]) -> Result<(), ApiError> {
        writer.extend_from_slice(chunk);
        Ok(())
    }

    fn finish(&self, mut bytes: Vec<u8>) -> Result<Bytes, ApiError> {
        // The reservation was for the rest of the body; give back a large unused tail.
        if bytes.capacity() - bytes.len() > bytes.len() / 16 + 64 * 1024 {
            bytes.shrink_to_fit();
        }
        Ok(Bytes::from(bytes))
    }
}
