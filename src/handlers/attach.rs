//! Uploading a task's attachment (CONTRACT §9, §11): the multipart body read with its file
//! digested as it arrives, the checks in the contract's order, and the attachment's
//! preconditions. The upload's target is the attachment, so its preconditions compare against
//! the attachment's tag (none when the task has no attachment yet: `If-Match` fails,
//! `If-None-Match: *` holds), and its 200 carries the attachment's new tag, although its body is
//! the task.

use http1::Request;
use serde_json::Value;

use super::attachment::{missing, Validators};
use super::conditional::{check_change, Fields};
use super::{split_id, App};
use crate::durable::SpooledFile;
use crate::error::{loc, ApiError, ErrorItem};
use crate::http::Reply;
use crate::router::{PathId, TaskId};
use crate::store::{Content, Revision, Store, StoreError, StoredFile};
use crate::upload::{self, FileField, FileSink, Hashed, Hashing, InMemory, UploadedFile};
use crate::validators::Digest;

/// The preconditions of an upload, against the attachment there now (if any): 404 when the
/// task is not there, 412 when they are false; else the revision the upload must still find.
fn upload_precondition(
    app: &App,
    fields: &Fields<'_>,
    id: &TaskId,
    key: u64,
) -> Result<Revision, ApiError> {
    let (download, revision) = app
        .store
        .attachment_revision(key)
        .map_err(|error| missing(id, error))?;
    let validators = download.as_ref().map(Validators::of).transpose()?;
    check_change(validators.as_ref().map(Validators::current), fields)?;
    Ok(revision)
}

/// `POST /tasks/{task_id}/attachment`: reads the whole multipart body first (before the lock;
/// in durable mode into a temporary file), digesting the file as it arrives, then checks in
/// the contract's order: 422, 404, 400 type. With a precondition (CONTRACT §11): 413 by the
/// declared length, 422 for the id, 404 and 412 come first, before `100 Continue`.
///
/// # Errors
/// 400 / 413 while reading, 422, 404, 412, 400 `Unsupported file type: ...`; 500 when durable
/// storage fails.
pub fn upload_attachment(
    app: &App,
    request: &mut Request<'_>,
    id: PathId,
) -> Result<Reply, ApiError> {
    match app.store.spool() {
        None => upload_into(app, request, id, &InMemory),
        Some(spool) => upload_into(app, request, id, spool),
    }
}

/// Turns a received file into stored content.
trait IntoContent {
    fn into_content(self, store: &Store) -> Result<Content, ApiError>;
}

impl IntoContent for bytes::Bytes {
    fn into_content(self, _store: &Store) -> Result<Content, ApiError> {
        Ok(Content::Memory(self))
    }
}

impl IntoContent for SpooledFile {
    /// Only now, after every check passed, does the upload move into `blobs/`.
    fn into_content(self, store: &Store) -> Result<Content, ApiError> {
        match store.persist(self) {
            Ok(blob) => Ok(Content::Blob(blob)),
            Err(StoreError::Storage(reason)) => Err(ApiError::Internal(reason)),
            Err(other) => Err(ApiError::Internal(format!("{other:?}"))),
        }
    }
}

fn upload_into<S: FileSink>(
    app: &App,
    request: &mut Request<'_>,
    id: PathId,
    sink: &S,
) -> Result<Reply, ApiError>
where
    S::Data: IntoContent,
{
    let content_type = request.header("Content-Type");
    let size_hint = request.content_length();
    let fields = Fields::read(request);
    let mut expected = None;
    let id = if fields.is_conditional(true) {
        upload::check_declared_length(content_type, size_hint, app.limits)?;
        let id = id.map_err(ApiError::invalid)?;
        let key = id.as_u64().ok_or_else(|| id.not_found())?;
        expected = Some(upload_precondition(app, &fields, &id, key)?);
        Ok(id)
    } else {
        id
    };
    let field = upload::read_file_field_into(
        request.body(),
        content_type,
        size_hint,
        app.limits,
        &Hashing(sink),
    )?;
    read_epilogue(request)?;
    let (id, file) = checked_file(id, field)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    check_type(app, &id, key, file.content_type.as_deref())?;
    let Hashed { data, digest } = file.bytes;
    let stored = StoredFile {
        filename: file.filename,
        content_type: file.content_type,
        content: data.into_content(&app.store)?,
    };
    attach(app, &fields, (&id, key), stored, digest, expected)
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
    if !app.store.contains(key) {
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

/// Stores the attachment if the task is still at `expected` (re-checking the preconditions
/// when another change came in between); the 200 carries the attachment's new tag.
fn attach(
    app: &App,
    fields: &Fields<'_>,
    (id, key): (&TaskId, u64),
    stored: StoredFile,
    digest: Digest,
    mut expected: Option<Revision>,
) -> Result<Reply, ApiError> {
    let refused = |error: ApiError| {
        // Nothing refers to the blob: the task was deleted, or the preconditions now fail.
        if let Content::Blob(blob) = &stored.content {
            app.store.discard(blob);
        }
        Err(error)
    };
    loop {
        match app
            .store
            .attach_digested(key, stored.clone(), digest, expected)
        {
            Ok(attached) => {
                let reply = Reply::json(200, &attached.task);
                return Ok(reply.with_validator(&attached.etag));
            }
            Err(StoreError::Changed) => match upload_precondition(app, fields, id, key) {
                Ok(revision) => expected = Some(revision),
                Err(error) => return refused(error),
            },
            Err(StoreError::Storage(reason)) => return Err(ApiError::Internal(reason)),
            Err(_) => return refused(id.not_found()),
        }
    }
}
