//! Attachment uploads (CONTRACT §9): the `file` field of a `multipart/form-data` body, read with
//! multer from a blocking reader under the contract's limits and 400s, plus the checks and the
//! `Content-Disposition` header for serving it back. A [`FileSink`] decides where the file's
//! bytes go while they arrive: memory ([`InMemory`]) or, in durable mode, a temporary file;
//! [`Hashing`] around either digests them on the way (the attachment's `ETag`).

mod blocking;
mod disposition;
mod framing;
mod hashing;
#[cfg(test)]
mod tests;

use std::io::Read;

use bytes::Bytes;
use url::form_urlencoded;

use self::blocking::{Driver, Mailbox};
use self::disposition::{last_param, split_params, PartHead};
pub use self::hashing::{Hashed, Hashing};
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
    if size_hint
        .is_some_and(|length| length > limits.max_file_bytes.saturating_add(FRAMING_ALLOWANCE))
    {
        return Err(too_large(limits));
    }
    let boundary = String::from_utf8_lossy(boundary);
    read_multipart(body, &boundary, Parts::new(size_hint, limits, sink))
}

/// The 413 that [`read_file_field_into`] answers from the declared length alone, for a
/// `multipart/form-data` body declared larger than the largest acceptable file plus room for
/// its framing. A conditional upload needs it on its own: CONTRACT §11 refuses by the declared
/// length, then by the preconditions, and only then reads the body.
///
/// # Errors
/// 413 `File too large (limit N bytes)`.
pub fn check_declared_length(
    content_type: Option<&str>,
    size_hint: Option<u64>,
    limits: UploadLimits,
) -> Result<(), ApiError> {
    let is_form = content_type.is_some_and(|value| {
        let (media_type, _) = split_params(value.as_bytes());
        media_type.eq_ignore_ascii_case(b"multipart/form-data")
    });
    let too_long = size_hint
        .is_some_and(|length| length > limits.max_file_bytes.saturating_add(FRAMING_ALLOWANCE));
    if is_form && too_long {
        return Err(too_large(limits));
    }
    Ok(())
}

/// 413 for a file over the upload limit.
fn too_large(limits: UploadLimits) -> ApiError {
    let limit = limits.max_file_bytes;
    ApiError::PayloadTooLarge(format!("File too large (limit {limit} bytes)"))
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

fn read_multipart<R: Read, S: FileSink>(
    body: R,
    boundary: &str,
    mut parts: Parts<'_, S>,
) -> Result<FileField<S::Data>, ApiError> {
    let mailbox = Mailbox::default();
    let mut driver = Driver::new(body, &mailbox, boundary);
    let mut multipart = multer::Multipart::new(mailbox.inbox(), boundary);
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
        parts.complete(part)?;
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
struct Parts<'s, S: FileSink> {
    sink: &'s S,
    limits: UploadLimits,
    size_hint: Option<u64>,
    fields: usize,
    files: usize,
    /// Part data seen so far: the rest of `Content-Length` bounds the current part.
    data_bytes: u64,
    /// Only this and the part being read are ever kept.
    best: Option<FileField<S::Data>>,
}

/// A part being read.
struct Part<W> {
    head: PartHead,
    size: u64,
    /// The bytes, for a part named `file` only; others are counted and dropped.
    kept: Option<Kept<W>>,
}

/// Where a `file` part's bytes go: a text field's into memory (at most 1 MiB), a file's into
/// the sink.
enum Kept<W> {
    Text(Vec<u8>),
    File(W),
}

impl<'s, S: FileSink> Parts<'s, S> {
    fn new(size_hint: Option<u64>, limits: UploadLimits, sink: &'s S) -> Self {
        Parts {
            sink,
            limits,
            size_hint,
            fields: 0,
            files: 0,
            data_bytes: 0,
            best: None,
        }
    }

    /// Counts a new part the way FastAPI does, when its headers are complete.
    fn start(&mut self, head: PartHead) -> Result<Part<S::Writer>, ApiError> {
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
            (true, None) => Some(Kept::Text(Vec::new())),
            (true, Some(_)) => Some(Kept::File(self.sink.create(self.file_bound())?)),
        };
        Ok(Part {
            head,
            size: 0,
            kept,
        })
    }

    /// The most the next file part can hold: the rest of `Content-Length` bounds the part,
    /// the upload limit bounds what we accept.
    fn file_bound(&self) -> Option<u64> {
        self.size_hint.map(|hint| {
            hint.saturating_sub(self.data_bytes)
                .min(self.limits.max_file_bytes)
        })
    }

    /// Adds a data chunk, enforcing the size limits as the bytes arrive.
    fn push(&mut self, part: &mut Part<S::Writer>, chunk: &[u8]) -> Result<(), ApiError> {
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
        match &mut part.kept {
            Some(Kept::Text(text)) => text.extend_from_slice(chunk),
            Some(Kept::File(writer)) => self.sink.write(writer, chunk)?,
            None => {}
        }
        Ok(())
    }

    /// A part ended with a delimiter; a `file` part replaces the earlier candidate.
    fn complete(&mut self, part: Part<S::Writer>) -> Result<(), ApiError> {
        let Some(kept) = part.kept else {
            return Ok(());
        };
        // The earlier candidate goes first, so at most one finished file is ever kept.
        self.best = None;
        self.best = Some(match (kept, part.head.filename) {
            (Kept::Text(text), _) if text.is_empty() => FileField::Missing,
            (Kept::Text(text), _) => FileField::Text(String::from_utf8_lossy(&text).into_owned()),
            // A browser's "no file chosen": an empty name and no content.
            (Kept::File(_), Some(filename)) if filename.is_empty() && part.size == 0 => {
                FileField::Missing
            }
            (Kept::File(writer), filename) => FileField::File(UploadedFile {
                filename: filename.unwrap_or_default(),
                content_type: part.head.content_type,
                bytes: self.sink.finish(writer)?,
            }),
        });
        Ok(())
    }

    fn into_field(self) -> FileField<S::Data> {
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
    // RFC 9110 §8.3.1: the type and subtype are case-insensitive; parameters do not matter.
    let media_type = crate::http::media_type(value);
    ["text/plain", "image/png", "image/jpeg"].contains(&media_type.as_str())
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
