//! Attachment uploads: reading a `multipart/form-data` body with `multer` from a blocking reader,
//! the contract's limits and 400s, Content-Disposition parsing, and the download header.
//!
//! STUB: the interface below is fixed; the implementation is being written.

use std::io::Read;

use bytes::Bytes;

use crate::error::ApiError;

/// A file part that was read completely: the attachment to store.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedFile {
    /// The client's filename after CONTRACT §9's decoding and path stripping (may be empty).
    pub filename: String,
    /// The part's `Content-Type` header value exactly as sent (lossy UTF-8), `None` when absent.
    pub content_type: Option<String>,
    /// The file's bytes.
    pub bytes: Bytes,
}

/// What the body held under the name `file` (the last part so named wins).
#[derive(Debug, Clone, PartialEq)]
pub enum FileField {
    /// No `file` part, an empty `file` text field, a "no file chosen" part, or a body that is not
    /// multipart / form-urlencoded at all: 422 `missing`.
    Missing,
    /// A non-empty text field named `file`: 422 `value_error` with this value as `input`.
    Text(String),
    /// A file part.
    File(UploadedFile),
}

/// Limits applied while reading an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest accepted file part in bytes; one more byte is a 413.
    pub max_file_bytes: u64,
}

/// Reads a whole upload body and returns its `file` field.
///
/// `content_type` is the request's `Content-Type` header, `size_hint` its `Content-Length`.
///
/// # Errors
/// The contract's 400s (`Missing boundary in multipart.`, `Invalid multipart data.`, ...) and
/// 413 `File too large (limit N bytes)`; I/O errors as 500.
pub fn read_file_field<R: Read + Send>(
    _body: R,
    _content_type: Option<&str>,
    _size_hint: Option<u64>,
    _limits: UploadLimits,
) -> Result<FileField, ApiError> {
    Ok(FileField::Missing)
}

/// Whether a part's `Content-Type` is one taskd accepts (`text/plain`, `image/png`,
/// `image/jpeg`; media type compared case-insensitively, parameters ignored). `None` (no header)
/// counts as `text/plain` (RFC 7578 §4.4). A value with non-ASCII or control characters is refused.
pub fn is_allowed_type(_content_type: Option<&str>) -> bool {
    true
}

/// The download's `Content-Disposition` value for `filename` (RFC 6266 with an RFC 8187
/// `filename*` when the name is not printable ASCII).
pub fn content_disposition(filename: &str) -> String {
    format!("attachment; filename=\"{filename}\"")
}
