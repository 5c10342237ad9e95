//! Uploading a task's attachment (CONTRACT §9, §11): the multipart body read with its file
//! digested as it arrives, the checks in the contract's order, and the attachment's
//! preconditions. The upload's target is the attachment, so its preconditions compare against
//! the attachment's tag (none when the task has no attachment yet: `If-Match` fails,
//! `If-None-Match: *` holds), and its 200 carries the attachment's new tag, although its body is
//! the task.

use http1::Request;
use serde_json::Value;

use super::attachment::Validators;
use super::conditional::{check_early, Fields};
use super::{split_id, App};
use crate::error::ApiError;
use crate::message::Reply;
use crate::router::{PathId, TaskId};
use crate::storage::{Guard, Spool, SpoolWriter, Spooled, StorageError, Upload};
use crate::upload::{self, FileField, FileSink, Hashed, Hashing, UploadedFile};
use crate::validation::{loc, ErrorItem};

/// The multipart reader's sink for a storage backend's spool: the file part's bytes go where
/// the backend wants them (memory, or a temporary file in durable mode).
struct SpoolSink<'s>(&'s dyn Spool);

impl FileSink for SpoolSink<'_> {
    type Writer = SpoolWriter;
    type Data = Spooled;

    fn create(&self, bound: Option<u64>) -> Result<SpoolWriter, ApiError> {
        Ok(self.0.create(bound)?)
    }

    fn write(&self, writer: &mut SpoolWriter, chunk: &[u8]) -> Result<(), ApiError> {
        Ok(writer.write(chunk)?)
    }

    fn finish(&self, writer: SpoolWriter) -> Result<Spooled, ApiError> {
        Ok(writer.finish())
    }
}

/// The early check of an upload's preconditions, against the attachment there now (none when
/// the task has none): 404 when the task is not there, 412 when they are false. The storage
/// checks the same guard again when it stores the upload.
fn check_upload_early(app: &App, guard: &Guard, key: u64) -> Result<(), ApiError> {
    match app.storage.attachment(key) {
        Ok(download) => {
            let validators = Validators::of(&download)?;
            check_early(guard, Some(&validators.tag), Some(validators.last_modified))
        }
        Err(StorageError::NoAttachment { .. }) => check_early(guard, None, None),
        Err(error) => Err(error.into()),
    }
}

/// `POST /tasks/{task_id}/attachment`: reads the whole multipart body first (before the lock;
/// where the storage backend spools it), digesting the file as it arrives, then checks in
/// the contract's order: 422, 404, 400 type. With a precondition (CONTRACT §11): 413 by the
/// declared length, 422 for the id, 404 and 412 come first, before `100 Continue`.
///
/// # Errors
/// 400 / 413 while reading, 422, 404, 412, 400 `Unsupported file type: ...`; 500 when the
/// storage fails.
pub fn upload_attachment(
    app: &App,
    request: &mut Request<'_>,
    id: PathId,
) -> Result<Reply, ApiError> {
    let content_type = request.header("Content-Type");
    let size_hint = request.content_length();
    let fields = Fields::read(request);
    let guard = fields.guard();
    let id = if fields.is_conditional(true) {
        upload::check_declared_length(content_type, size_hint, app.limits)?;
        let id = id.map_err(ApiError::invalid)?;
        let key = id.as_u64().ok_or_else(|| id.not_found())?;
        check_upload_early(app, &guard, key)?;
        Ok(id)
    } else {
        id
    };
    let sink = SpoolSink(app.storage.spool());
    let field = upload::read_file_field_into(
        request.body(),
        content_type,
        size_hint,
        app.limits,
        &Hashing(&sink),
    )?;
    read_epilogue(request)?;
    let (id, file) = checked_file(id, field)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    check_type(app, &id, key, file.content_type.as_deref())?;
    let Hashed { data, digest } = file.bytes;
    let upload = Upload {
        filename: file.filename,
        content_type: file.content_type,
        data,
        digest,
    };
    // The 200's body is the task; its `ETag` is the attachment's new tag.
    let attached = app.storage.attach(key, upload, &guard)?;
    Ok(Reply::json(200, &attached.task).with_validator(&attached.etag))
}

/// CONTRACT §9's 422s: the path id's item first, then the `file` item.
/// The most of a multipart epilogue (what follows the closing delimiter) read before storing;
/// past it the connection layer drains or closes as for any unread body.
const EPILOGUE_LIMIT: u64 = 64 * 1024;

/// RFC 9112 §8: a request whose body ends before its framing says is incomplete, and an
/// incomplete request changes nothing (CONTRACT §13). multer stops at the closing delimiter, so
/// read on to the end of the body before the upload is stored; a body that ends early is the
/// connection layer's to settle (no answer at all).
fn read_epilogue(request: &mut Request<'_>) -> Result<(), ApiError> {
    let mut epilogue = std::io::Read::take(request.body(), EPILOGUE_LIMIT);
    std::io::copy(&mut epilogue, &mut std::io::sink())?;
    Ok(())
}

fn checked_file<D>(id: PathId, field: FileField<D>) -> Result<(TaskId, UploadedFile<D>), ApiError> {
    let (id, mut items) = match split_id(id) {
        (id, Some(item)) => (id, vec![item]),
        (id, None) => (id, Vec::new()),
    };
    let file_loc = || loc(["body", "file"]);
    let file = match field {
        FileField::File(file) => Some(file),
        FileField::Missing => {
            items.push(ErrorItem::missing(file_loc()));
            None
        }
        FileField::Text(text) => {
            let message = "Expected UploadFile, received: <class 'str'>";
            let item = ErrorItem::value_error(file_loc(), message, Value::from(text));
            items.push(item);
            None
        }
    };
    match (id, file) {
        (Some(id), Some(file)) => Ok((id, file)),
        _ => Err(ApiError::Unprocessable(items)),
    }
}

/// 404 before the type's 400 (CONTRACT §9), and before the upload is moved into place: a
/// missing task costs no fsync.
fn check_type(
    app: &App,
    id: &TaskId,
    key: u64,
    content_type: Option<&str>,
) -> Result<(), ApiError> {
    if !app.storage.contains(key)? {
        return Err(id.not_found());
    }
    if !upload::is_allowed_type(content_type) {
        let sent = content_type.unwrap_or_default();
        return Err(ApiError::BadRequest(format!(
            "Unsupported file type: {sent}"
        )));
    }
    Ok(())
}
