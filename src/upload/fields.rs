//! The parts of a `multipart/form-data` body: multer driven from the blocking reader, each
//! part counted and bounded the way FastAPI does (CONTRACT §9), and the last complete part
//! named `file` kept, as a text value or as a file in the [`FileSink`].

use std::io::Read;

use super::blocking::{Driver, Mailbox};
use super::disposition::PartHead;
use super::limits::{
    too_large, MAX_FIELDS, MAX_FILES, MAX_TEXT_BYTES, TEXT_TOO_LARGE, TOO_MANY_FIELDS,
    TOO_MANY_FILES,
};
use super::{FileField, FileSink, UploadLimits, UploadedFile, INVALID};
use crate::error::ApiError;

pub(super) fn read_multipart<R: Read, S: FileSink>(
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
            Err(error) => {
                return multer_outcome(error, driver.at_eof()).map(|()| parts.into_field())
            }
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
                Err(error) => {
                    return multer_outcome(error, driver.at_eof()).map(|()| parts.into_field())
                }
            }
        }
        parts.complete(part)?;
    }
    Ok(parts.into_field())
}

/// Maps a multer error: `Ok` when it only means the body ended inside a part (no closing
/// delimiter), which the contract ignores; the 400, or the reader's own error, otherwise.
fn multer_outcome(error: multer::Error, at_eof: bool) -> Result<(), ApiError> {
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
pub(super) struct Parts<'s, S: FileSink> {
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
    pub(super) fn new(size_hint: Option<u64>, limits: UploadLimits, sink: &'s S) -> Self {
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
