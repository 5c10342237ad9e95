//! Attachment uploads (CONTRACT §9): the `file` field of a `multipart/form-data` body, read with
//! multer from a blocking reader under the contract's limits and 400s, plus the checks and the
//! `Content-Disposition` header for serving it back.

mod blocking;
mod disposition;
mod framing;
#[cfg(test)]
mod tests;

use std::io::Read;

use bytes::Bytes;
use url::form_urlencoded;

use self::blocking::{Driver, Mailbox};
use self::disposition::{last_param, split_params, PartHead};
use crate::error::ApiError;

const INVALID: &str = "Invalid multipart data.";
const NO_BOUNDARY: &str = "Missing boundary in multipart.";
const NO_NAME: &str = "The Content-Disposition header field \"name\" must be provided.";
const TEXT_TOO_LARGE: &str = "Part exceeded maximum size of 1024KB.";
const TOO_MANY_FIELDS: &str = "Too many fields. Maximum number of fields is 1000.";
const TOO_MANY_FILES: &str = "Too many files. Maximum number of files is 1000.";
/// FastAPI's cap on one text field, and taskd's on a form-urlencoded body (CONTRACT §4, §9).
const MAX_TEXT_BYTES: u64 = 1024 * 1024;
const MAX_FIELDS: usize = 1000;
const MAX_FILES: usize = 1000;
/// Room for boundaries, part headers and small text fields beside the largest acceptable file,
/// when judging a declared `Content-Length` before reading.
const FRAMING_ALLOWANCE: u64 = 64 * 1024;

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
    let Some(content_type) = content_type else {
        return Ok(FileField::Missing);
    };
    let (media_type, params) = split_params(content_type.as_bytes());
    if media_type.eq_ignore_ascii_case(b"application/x-www-form-urlencoded") {
        return read_form(body);
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
    // told to send it (tiny_http sends `100 Continue` only on the first read).
    if size_hint
        .is_some_and(|length| length > limits.max_file_bytes.saturating_add(FRAMING_ALLOWANCE))
    {
        return Err(too_large(limits));
    }
    read_multipart(body, &String::from_utf8_lossy(boundary), size_hint, limits)
}

/// 413 for a file over the upload limit.
fn too_large(limits: UploadLimits) -> ApiError {
    let limit = limits.max_file_bytes;
    ApiError::PayloadTooLarge(format!("File too large (limit {limit} bytes)"))
}

/// `file=...` from an `application/x-www-form-urlencoded` body (the last `file` wins).
fn read_form(body: impl Read) -> Result<FileField, ApiError> {
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
    Ok(match value {
        Some(text) if !text.is_empty() => FileField::Text(text),
        _ => FileField::Missing,
    })
}

fn read_multipart<R: Read>(
    body: R,
    boundary: &str,
    size_hint: Option<u64>,
    limits: UploadLimits,
) -> Result<FileField, ApiError> {
    let mailbox = Mailbox::default();
    let mut driver = Driver::new(body, &mailbox, boundary);
    let mut multipart = multer::Multipart::new(mailbox.inbox(), boundary);
    let mut parts = Parts::new(size_hint, limits);
    loop {
        let mut field = match driver.block_on(multipart.next_field())? {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return settle(error, driver.at_eof()).map(|()| parts.into_field()),
        };
        driver.progress();
        // A value whose control bytes multer only saw rewritten is read as sent (blocking.rs).
        let sent = driver.sent_headers(field.index());
        let header = |name: &str| field.headers().get(name).map(|value| value.as_bytes());
        let head = PartHead::from_headers(
            sent.disposition
                .as_deref()
                .or_else(|| header("content-disposition")),
            sent.content_type
                .as_deref()
                .or_else(|| header("content-type")),
        )?;
        let mut part = parts.start(head)?;
        loop {
            match driver.block_on(field.chunk())? {
                Ok(Some(chunk)) => {
                    driver.progress();
                    parts.push(&mut part, &chunk)?;
                }
                Ok(None) => break,
                Err(error) => return settle(error, driver.at_eof()).map(|()| parts.into_field()),
            }
        }
        parts.complete(part);
    }
    Ok(parts.into_field())
}

/// Maps a multer error: `Ok` when it only means the body ended inside a part (no closing
/// delimiter), which the contract ignores; the 400, or the reader's own error, otherwise.
fn settle(error: multer::Error, at_eof: bool) -> Result<(), ApiError> {
    match error {
        multer::Error::StreamReadFailed(cause) => Err(match cause.downcast::<ApiError>() {
            Ok(error) => *error,
            Err(other) => ApiError::Internal(format!("multipart input: {other}")),
        }),
        multer::Error::IncompleteFieldData { .. }
        | multer::Error::IncompleteHeaders
        | multer::Error::IncompleteStream
            if at_eof =>
        {
            Ok(())
        }
        multer::Error::LockFailure => Err(ApiError::Internal(
            "multer field used after next_field".into(),
        )),
        _ => Err(ApiError::BadRequest(INVALID.to_owned())),
    }
}

/// The contract's counters across a body, and the last complete `file` part.
struct Parts {
    limits: UploadLimits,
    size_hint: Option<u64>,
    fields: usize,
    files: usize,
    /// Part data seen so far: the rest of `Content-Length` bounds the current part.
    data_bytes: u64,
    /// Only this and the part being read are ever held in memory.
    best: Option<FileField>,
}

/// A part being read.
struct Part {
    head: PartHead,
    size: u64,
    /// The bytes, for a part named `file` only; others are counted and dropped.
    kept: Option<Vec<u8>>,
}

impl Parts {
    fn new(size_hint: Option<u64>, limits: UploadLimits) -> Parts {
        Parts {
            limits,
            size_hint,
            fields: 0,
            files: 0,
            data_bytes: 0,
            best: None,
        }
    }

    /// Counts a new part the way FastAPI does, when its headers are complete.
    fn start(&mut self, head: PartHead) -> Result<Part, ApiError> {
        let (count, max, message) = match head.filename {
            Some(_) => (&mut self.files, MAX_FILES, TOO_MANY_FILES),
            None => (&mut self.fields, MAX_FIELDS, TOO_MANY_FIELDS),
        };
        *count += 1;
        if *count > max {
            return Err(ApiError::BadRequest(message.to_owned()));
        }
        let kept = match (head.name == b"file", &head.filename) {
            (false, _) => None,
            (true, None) => Some(Vec::new()),
            (true, Some(_)) => Some(self.file_buffer()),
        };
        Ok(Part {
            head,
            size: 0,
            kept,
        })
    }

    /// A buffer sized once for the whole file, so a large upload is never re-copied as it
    /// grows: the rest of `Content-Length` bounds the part, the upload limit bounds what we
    /// accept. If the allocator refuses, the buffer grows on demand instead.
    fn file_buffer(&self) -> Vec<u8> {
        let mut buffer = Vec::new();
        let bound = self.size_hint.map(|hint| {
            hint.saturating_sub(self.data_bytes)
                .min(self.limits.max_file_bytes)
        });
        if let Some(Ok(bound)) = bound.map(usize::try_from) {
            let _ = buffer.try_reserve_exact(bound);
        }
        buffer
    }

    /// Adds a data chunk, enforcing the size limits as the bytes arrive.
    fn push(&mut self, part: &mut Part, chunk: &[u8]) -> Result<(), ApiError> {
        let len = chunk.len() as u64;
        self.data_bytes += len;
        part.size += len;
        if part.head.filename.is_none() && part.size > MAX_TEXT_BYTES {
            return Err(ApiError::BadRequest(TEXT_TOO_LARGE.to_owned()));
        }
        let limit = self.limits.max_file_bytes;
        if part.head.filename.is_some() && part.size > limit {
            return Err(too_large(self.limits));
        }
        if let Some(kept) = &mut part.kept {
            kept.extend_from_slice(chunk);
        }
        Ok(())
    }

    /// A part ended with a delimiter; a `file` part replaces the earlier candidate.
    fn complete(&mut self, part: Part) {
        let Some(mut bytes) = part.kept else {
            return;
        };
        self.best = Some(match part.head.filename {
            None if bytes.is_empty() => FileField::Missing,
            None => FileField::Text(String::from_utf8_lossy(&bytes).into_owned()),
            // A browser's "no file chosen": an empty name and no content.
            Some(filename) if filename.is_empty() && bytes.is_empty() => FileField::Missing,
            Some(filename) => {
                // The reservation was for the rest of the body; give back a large unused tail.
                if bytes.capacity() - bytes.len() > bytes.len() / 16 + 64 * 1024 {
                    bytes.shrink_to_fit();
                }
                FileField::File(UploadedFile {
                    filename,
                    content_type: part.head.content_type,
                    bytes: Bytes::from(bytes),
                })
            }
        });
    }

    fn into_field(self) -> FileField {
        self.best.unwrap_or(FileField::Missing)
    }
}

/// Whether a part's `Content-Type` is one taskd accepts (`text/plain`, `image/png`,
/// `image/jpeg`; media type compared case-insensitively, parameters ignored). `None` (no header)
/// counts as `text/plain` (RFC 7578 §4.4). A value with non-ASCII or control characters is refused.
pub fn is_allowed_type(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else {
        return true;
    };
    // Such a value could not be sent back verbatim in the download's Content-Type header.
    if value.bytes().any(|b| !b.is_ascii() || b.is_ascii_control()) {
        return false;
    }
    let media_type = value.split(';').next().unwrap_or_default().trim_ascii();
    ["text/plain", "image/png", "image/jpeg"]
        .iter()
        .any(|allowed| media_type.eq_ignore_ascii_case(allowed))
}

/// The download's `Content-Disposition` value for `filename` (RFC 6266 with an RFC 8187
/// `filename*` when the name is not printable ASCII).
pub fn content_disposition(filename: &str) -> String {
    // RFC 6266 §4.3: `filename` is a quoted-string for clients that ignore `filename*`, so it
    // carries a printable-ASCII stand-in with `\` and `"` escaped.
    let mut value = String::from("attachment; filename=\"");
    let mut printable = true;
    for c in filename.chars() {
        match c {
            '\\' | '"' => value.extend(['\\', c]),
            ' '..='~' => value.push(c),
            _ => {
                value.push('_');
                printable = false;
            }
        }
    }
    value.push('"');
    if !printable {
        // RFC 8187 §3.2.1: everything but `attr-char` is percent-encoded UTF-8.
        value.push_str("; filename*=UTF-8''");
        for byte in filename.bytes() {
            if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
                value.push(char::from(byte));
            } else {
                value.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    value
}
