//! Attachment uploads (CONTRACT §9): the `file` field of a `multipart/form-data` body, read with
//! multer from a blocking reader under the contract's limits and 400s, plus the checks and the
//! `Content-Disposition` header for serving it back. A [`FileSink`] decides where the file's
//! bytes go while they arrive: memory ([`InMemory`]) or, in durable mode, a temporary file;
//! [`Hashing`] around either digests them on the way (the attachment's `ETag`).
//!
//! This file holds the entry points and what they return; each job has its own file:
//!
//! ```text
//! fields.rs       the parts of a multipart body: counting, bounding, keeping the `file` part
//! limits.rs       the size and count limits, their 400 and 413 refusals
//! sink.rs         where the file's bytes go: FileSink, InMemory
//! hashing.rs      Hashing: digests the bytes on their way into another sink
//! blocking.rs     multer (async) driven from a blocking reader
//! framing.rs      the raw part heads, as sent, for what multer rewrites
//! disposition.rs  a part's Content-Disposition and Content-Type
//! download.rs     serving it back: the accepted types, the download's Content-Disposition
//! ```

mod blocking;
mod disposition;
mod download;
mod fields;
mod framing;
mod hashing;
mod limits;
mod sink;
#[cfg(test)]
mod tests;

use std::io::Read;

use bytes::Bytes;
use url::form_urlencoded;

use self::disposition::{last_param, split_params};
pub use self::download::{content_disposition, is_allowed_type};
use self::fields::{read_multipart, Parts};
pub use self::hashing::{Hashed, Hashing};
pub use self::limits::{check_declared_length, UploadLimits};
use self::limits::{declared_too_long, too_large, MAX_TEXT_BYTES};
pub use self::sink::{FileSink, InMemory};
use crate::error::ApiError;

const INVALID: &str = "Invalid multipart data.";
const NO_BOUNDARY: &str = "Missing boundary in multipart.";
const NO_NAME: &str = "The Content-Disposition header field \"name\" must be provided.";

/// A file part that was read completely: the attachment to store. `D` is where its bytes are:
/// `Bytes` in memory, or what another [`FileSink`] made of them.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedFile<D = Bytes> {
    /// The client's filename after CONTRACT §9's decoding and path stripping (may be empty).
    pub filename: String,
    /// The part's `Content-Type` header value exactly as sent (lossy UTF-8), `None` when absent.
    pub content_type: Option<String>,
    /// The file's bytes.
    pub bytes: D,
}

/// What the body held under the name `file` (the last part so named wins).
#[derive(Debug, Clone, PartialEq)]
pub enum FileField<D = Bytes> {
    /// No `file` part, an empty `file` text field, a "no file chosen" part, or a body that is not
    /// multipart / form-urlencoded at all: 422 `missing`.
    Missing,
    /// A non-empty text field named `file`: 422 `value_error` with this value as `input`.
    Text(String),
    /// A file part.
    File(UploadedFile<D>),
}

/// Reads a whole upload body and returns its `file` field.
///
/// `content_type` is the request's `Content-Type` header, `size_hint` its `Content-Length`.
/// A body that is neither `multipart/form-data` nor form-urlencoded is not read at all.
///
/// # Errors
/// The contract's 400s (`Missing boundary in multipart.`, `Invalid multipart data.`, ...) and
/// 413 `File too large (limit N bytes)`; I/O errors as 500.
pub fn read_file_field<R: Read + Send>(
    body: R,
    content_type: Option<&str>,
    size_hint: Option<u64>,
    limits: UploadLimits,
) -> Result<FileField, ApiError> {
    read_file_field_into(body, content_type, size_hint, limits, &InMemory)
}

/// [`read_file_field`], with the file's bytes going to `sink` as they arrive.
///
/// # Errors
/// As [`read_file_field`], and the sink's 500s.
pub fn read_file_field_into<R: Read + Send, S: FileSink>(
    body: R,
    content_type: Option<&str>,
    size_hint: Option<u64>,
    limits: UploadLimits,
    sink: &S,
) -> Result<FileField<S::Data>, ApiError> {
    let Some(content_type) = content_type else {
        return Ok(FileField::Missing);
    };
    let (media_type, params) = split_params(content_type.as_bytes());
    if media_type.eq_ignore_ascii_case(b"application/x-www-form-urlencoded") {
        return read_form(body).map(|text| text.map_or(FileField::Missing, FileField::Text));
    }
    // RFC 9110 §8.3.1: media types are case-insensitive. multipart/mixed and others are not
    // forms, so they hold no `file` field.
    if !media_type.eq_ignore_ascii_case(b"multipart/form-data") {
        return Ok(FileField::Missing);
    }
    let boundary = last_param(&params, "boundary")
        .ok_or_else(|| ApiError::BadRequest(NO_BOUNDARY.to_owned()))?;
    // An empty boundary frames nothing; a CR or LF (impossible in a header) would break the
    // delimiter search, which relies on the delimiter's only CR being its first byte.
    if boundary.is_empty() || boundary.iter().any(|&b| b == b'\r' || b == b'\n') {
        return Err(ApiError::BadRequest(INVALID.to_owned()));
    }
    // A body declared larger than the biggest acceptable file plus room for the framing cannot
    // succeed: refuse it before reading a byte, so an `Expect: 100-continue` client is never
    // told to send it (`100 Continue` goes out only on the body's first read).
    if declared_too_long(size_hint, limits) {
        return Err(too_large(limits));
    }
    let boundary = String::from_utf8_lossy(boundary);
    read_multipart(body, &boundary, Parts::new(size_hint, limits, sink))
}

/// `file=...` from an `application/x-www-form-urlencoded` body (the last `file` wins), when
/// it is not empty.
fn read_form(body: impl Read) -> Result<Option<String>, ApiError> {
    let mut bytes = Vec::new();
    body.take(MAX_TEXT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_TEXT_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "Request body too large (limit {MAX_TEXT_BYTES} bytes)"
        )));
    }
    let value = form_urlencoded::parse(&bytes)
        .filter(|(key, _)| key == "file")
        .last()
        .map(|(_, value)| value.into_owned());
    Ok(value.filter(|text| !text.is_empty()))
}
