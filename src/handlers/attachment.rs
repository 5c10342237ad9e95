//! The attachment of a task (CONTRACT §9, §11): upload, download and delete, with the
//! attachment's validators (`ETag`, `Last-Modified`), its preconditions, and byte ranges.
//!
//! An upload's target is the attachment, so its preconditions compare against the attachment's
//! tag (none when the task has no attachment yet: `If-Match` fails, `If-None-Match: *` holds),
//! and its 200 carries the attachment's new tag, although its body is the task.

use std::time::SystemTime;

use serde_json::Value;

use super::conditional::{check_change, check_read, Fields};
use super::{split_id, App};
use crate::durable::SpooledFile;
use crate::error::{loc, ApiError, ErrorItem};
use crate::http::{http_date, Body, Reply, SharedFile, Source};
use crate::http1::Request;
use crate::router::{PathId, TaskId};
use crate::store::{ByteSource, Content, Download, Revision, Store, StoreError, StoredFile};
use crate::upload::{self, FileField, FileSink, Hashed, Hashing, InMemory, UploadedFile};
use crate::validators::{
    boundary_for, select_ranges, ByteRange, ByteRangesBody, Current, Digest, EntityTag, Ranges,
};

/// An attachment's validators, computed outside the store lock (an attachment stored by an
/// older taskd has its digest computed here, once).
struct Validators {
    tag: EntityTag,
    last_modified: SystemTime,
}

impl Validators {
    fn of(download: &Download) -> Result<Validators, ApiError> {
        let unreadable = |error: std::io::Error| ApiError::Internal(format!("blob: {error}"));
        Ok(Validators {
            tag: download.etag().map_err(unreadable)?,
            last_modified: download.last_modified().map_err(unreadable)?,
        })
    }

    fn current(&self) -> Current<'_> {
        Current {
            tag: &self.tag,
            last_modified: Some(self.last_modified),
        }
    }
}

/// `GET /tasks/{task_id}/attachment` (and HEAD): the exact bytes with their type, validators
/// and `Accept-Ranges`; 304 / 412 by the preconditions; then, for GET only, `Range`.
///
/// # Errors
/// 422 bad id, 404 no such task, 404 no attachment, 412, 416.
pub fn download_attachment(
    app: &App,
    request: &Request<'_>,
    id: PathId,
) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    let download = app
        .store
        .attachment(key)
        .map_err(|error| missing(&id, error))?;
    let validators = Validators::of(&download)?;
    let fields = Fields::read(request);
    if let Some(not_modified) = check_read(request.method(), validators.current(), &fields)? {
        return Ok(not_modified);
    }
    // CONTRACT §3, §11: HEAD is GET's head except that `Range` is ignored.
    let ranges = match request.method() {
        "GET" => select_ranges(
            fields.range(),
            fields.if_range(),
            &validators.current(),
            // At or before the `Date` the layer will send, as If-Range's strong-date rule needs.
            SystemTime::now(),
            download.size(),
        ),
        _ => Ranges::Ignore,
    };
    let mut headers = download_headers(&download, &validators);
    let content_type = download.content_type().to_owned();
    let source = download
        .into_source()
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let (status, body) = match ranges {
        Ranges::Ignore => (200, whole(content_type, source)),
        Ranges::Unsatisfiable => return Err(ApiError::RangeNotSatisfiable { size: source.len() }),
        Ranges::Satisfiable(ranges) => {
            if let [range] = ranges.as_slice() {
                // §15.3.7.1: one part, described by Content-Range in the header section.
                headers.push(("Content-Range", range.content_range(source.len())));
            }
            (206, partial(content_type, source, &validators, &ranges))
        }
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// The fields of a 200, and of a 206 beside its own (RFC 9110 §15.3.7: a 206 carries what the
/// 200 would, `ETag` and `Cache-Control` included).
fn download_headers(download: &Download, validators: &Validators) -> Vec<(&'static str, String)> {
    vec![
        (
            "Content-Disposition",
            upload::content_disposition(&download.file.filename),
        ),
        ("ETag", validators.tag.as_str().to_owned()),
        ("Cache-Control", "no-cache".to_owned()),
        ("Last-Modified", http_date(validators.last_modified)),
        // RFC 9110 §14.3: tells a client it may ask for byte ranges (to resume, say).
        ("Accept-Ranges", "bytes".to_owned()),
    ]
}

/// The whole attachment: the shared bytes, or the open file streamed with `sendfile`.
fn whole(content_type: String, source: ByteSource) -> Body {
    match source {
        ByteSource::Memory(bytes) => Body::File {
            content_type,
            bytes,
        },
        ByteSource::File { file, len } => Body::Stream {
            content_type,
            file: SharedFile(file),
            len,
        },
    }
}

/// A 206 body: one range as it is (RFC 9110 §15.3.7.1), several as `multipart/byteranges`
/// (§15.3.7.2). Either way only the ranges' bytes are read, when they are sent.
fn partial(
    content_type: String,
    source: ByteSource,
    validators: &Validators,
    ranges: &[ByteRange],
) -> Body {
    let size = source.len();
    let source = match source {
        ByteSource::Memory(bytes) => Source::Memory(bytes),
        ByteSource::File { file, .. } => Source::File(SharedFile(file)),
    };
    if let [range] = ranges {
        return single_range(content_type, source, *range);
    }
    let boundary = boundary_for(&validators.tag, ranges);
    let layout = ByteRangesBody::new(&boundary, &content_type, ranges, size);
    Body::ByteRanges {
        content_type: layout.content_type(),
        source,
        layout,
    }
}

fn single_range(content_type: String, source: Source, range: ByteRange) -> Body {
    match source {
        Source::Memory(bytes) => {
            let bounds = usize::try_from(range.first)
                .ok()
                .zip(usize::try_from(range.last).ok());
            let (first, last) = bounds.expect("a range of bytes in memory fits in usize");
            Body::File {
                content_type,
                bytes: bytes.slice(first..=last),
            }
        }
        Source::File(file) => Body::FileRange {
            content_type,
            file,
            offset: range.first,
            len: range.len(),
        },
    }
}

/// `DELETE /tasks/{task_id}/attachment`: 204, and the task's `attachment` is `null` again.
/// Preconditions compare against the attachment's tag.
///
/// # Errors
/// 422 bad id, 404 no such task, 404 no attachment, 412.
pub fn delete_attachment(app: &App, request: &Request<'_>, id: PathId) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    let fields = Fields::read(request);
    let conditional = fields.is_conditional(true);
    let mut expected = None;
    loop {
        if conditional {
            // CONTRACT §11: an attachment that is not there is a 404 whatever the preconditions.
            let (download, revision) = existing_attachment(app, &id, key)?;
            check_change(Some(Validators::of(&download)?.current()), &fields)?;
            expected = Some(revision);
        }
        match app.store.detach_if(key, expected) {
            Ok(()) => return Ok(Reply::no_content()),
            Err(StoreError::Changed) => continue,
            Err(error) => return Err(missing(&id, error)),
        }
    }
}

fn existing_attachment(app: &App, id: &TaskId, key: u64) -> Result<(Download, Revision), ApiError> {
    match app.store.attachment_revision(key) {
        Ok((Some(download), revision)) => Ok((download, revision)),
        Ok((None, _)) => Err(missing(id, StoreError::NoAttachment)),
        Err(error) => Err(missing(id, error)),
    }
}

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

fn missing(id: &TaskId, error: StoreError) -> ApiError {
    match error {
        StoreError::NoAttachment => ApiError::NotFound(format!("Task {id} has no attachment")),
        StoreError::Storage(reason) => ApiError::Internal(reason),
        _ => id.not_found(),
    }
}
