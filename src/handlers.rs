//! One function per operation, named like its OpenAPI operationId. Each takes the shared `App`
//! and typed route values, reads what it needs from the request, and returns a `Reply` or an
//! `ApiError`; none of them writes to the socket.

use serde_json::{json, Value};

use crate::durable::SpooledFile;
use crate::error::{loc, ApiError, ErrorItem};
use crate::http::{
    check_json_length, read_json, validate_body, Body, Reply, SharedFile, Validator,
};
use crate::http1::Request;
use crate::model::{bool_parsing, parse_lax_bool, NewTask, Priority, TaskPatch, PRIORITY_MESSAGE};
use crate::router::{PathId, Route, TaskId};
use crate::store::{Content, ListQuery, Store, StoreError, StoredFile};
use crate::upload::{self, FileField, FileSink, InMemory, UploadLimits};

/// The OpenAPI 3.1 document, written by hand and served verbatim.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");
/// The self-contained documentation page; it fetches only `/openapi.json`.
pub const DOCS_HTML: &str = include_str!("docs.html");

/// Default page size of the list.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page size of the list.
pub const MAX_LIMIT: u64 = 1000;

/// Everything a handler may use: the store and the limits.
#[derive(Debug)]
pub struct App {
    /// The tasks.
    pub store: Store,
    /// Upload limits.
    pub limits: UploadLimits,
}

/// Runs the handler for `route`.
///
/// # Errors
/// Whatever the handler answers with.
pub fn dispatch(app: &App, request: &mut Request<'_>, route: Route) -> Result<Reply, ApiError> {
    match route {
        Route::ListTasks { query } => list_tasks(app, &query),
        Route::CreateTask => create_task(app, request),
        Route::GetTask(id) => get_task(app, id),
        Route::UpdateTask(id) => update_task(app, request, id),
        Route::DeleteTask(id) => delete_task(app, id),
        Route::DownloadAttachment(id) => download_attachment(app, id),
        Route::UploadAttachment(id) => upload_attachment(app, request, id),
        Route::DeleteAttachment(id) => delete_attachment(app, id),
        Route::Health => Ok(Reply::json(200, &json!({ "status": "ok" }))),
        Route::OpenApi => Ok(Reply::static_file("application/json", OPENAPI_JSON)),
        Route::Docs => Ok(Reply::static_file("text/html; charset=utf-8", DOCS_HTML)),
        // RFC 9110 §9.3.7: OPTIONS describes the communication options, here via Allow.
        Route::Options { allow } => Ok(Reply::no_content().with_header("Allow", allow)),
        // RFC 9110 §15.4.8: 307 keeps the method and body, so a POST stays a POST.
        Route::Redirect { location } => Ok(Reply {
            status: 307,
            headers: vec![("Location", location)],
            body: Body::Empty,
        }),
    }
}

/// `GET /tasks`: filters, then `skip`, then `limit`.
///
/// # Errors
/// 422 with one item per bad query parameter.
pub fn list_tasks(app: &App, query: &str) -> Result<Reply, ApiError> {
    let query = parse_list_query(query)?;
    Ok(Reply::json(200, &app.store.list(&query)))
}

/// `POST /tasks`: 201 with `Location` (RFC 9110 §15.3.2).
///
/// # Errors
/// The body errors of CONTRACT §4, then 409 for a taken title.
pub fn create_task(app: &App, request: &mut Request<'_>) -> Result<Reply, ApiError> {
    let new_task = read_validated(request, None, NewTask::from_json)?;
    let task = app.store.create(new_task).map_err(|error| match error {
        StoreError::Storage(reason) => ApiError::Internal(reason),
        _ => title_taken(),
    })?;
    let location = format!("/tasks/{}", task.id);
    Ok(Reply::json(201, &task).with_header("Location", location))
}

/// `GET /tasks/{task_id}`.
///
/// # Errors
/// 422 bad id, 404 no such task.
pub fn get_task(app: &App, id: PathId) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    let task = id.as_u64().and_then(|key| app.store.get(key));
    task.map(|task| Reply::json(200, &task))
        .ok_or_else(|| id.not_found())
}

/// `PATCH /tasks/{task_id}`: a partial update; `{}` changes nothing.
///
/// # Errors
/// The body errors of CONTRACT §4, one 422 (id first), 404, then 409.
pub fn update_task(app: &App, request: &mut Request<'_>, id: PathId) -> Result<Reply, ApiError> {
    let (id, id_item) = split_id(id);
    let patch = read_validated(request, id_item, TaskPatch::from_json)?;
    let id = id.expect("a bad id always gives a 422 above");
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    match app.store.update(key, patch) {
        Ok(task) => Ok(Reply::json(200, &task)),
        Err(StoreError::TitleTaken) => Err(title_taken()),
        Err(StoreError::Storage(reason)) => Err(ApiError::Internal(reason)),
        Err(_) => Err(id.not_found()),
    }
}

/// `DELETE /tasks/{task_id}`: 204 with no body; the attachment goes too.
///
/// # Errors
/// 422 bad id, 404 no such task.
pub fn delete_task(app: &App, id: PathId) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    match id.as_u64().map(|key| app.store.delete(key)) {
        Some(Ok(())) => Ok(Reply::no_content()),
        Some(Err(StoreError::Storage(reason))) => Err(ApiError::Internal(reason)),
        _ => Err(id.not_found()),
    }
}

/// `POST /tasks/{task_id}/attachment`: reads the whole multipart body first (before the lock;
/// in durable mode into a temporary file), then checks in the contract's order: 422, 404, 400
/// type.
///
/// # Errors
/// 400 / 413 while reading, 422, 404, 400 `Unsupported file type: ...`; 500 when durable
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
            Err(error) => Err(storage_failure(error)),
        }
    }
}

fn storage_failure(error: StoreError) -> ApiError {
    match error {
        StoreError::Storage(reason) => ApiError::Internal(reason),
        other => ApiError::Internal(format!("{other:?}")),
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
    let field =
        upload::read_file_field_into(request.body(), content_type, size_hint, app.limits, sink)?;
    read_epilogue(request)?;
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
            items.push(ErrorItem::value_error(
                file_loc(),
                message,
                Value::from(text),
            ));
            None
        }
    };
    let (Some(id), Some(file)) = (id, file) else {
        return Err(ApiError::Unprocessable(items));
    };
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    if !upload::is_allowed_type(file.content_type.as_deref()) {
        if !app.store.contains(key) {
            return Err(id.not_found());
        }
        let sent = file.content_type.unwrap_or_default();
        return Err(ApiError::BadRequest(format!(
            "Unsupported file type: {sent}"
        )));
    }
    if !app.store.contains(key) {
        // Before the upload is moved into place: a missing task costs no fsync.
        return Err(id.not_found());
    }
    let stored = StoredFile {
        filename: file.filename,
        content_type: file.content_type,
        content: file.bytes.into_content(&app.store)?,
    };
    let blob = match &stored.content {
        Content::Blob(blob) => Some(blob.clone()),
        Content::Memory(_) => None,
    };
    match app.store.attach(key, stored) {
        Ok(task) => Ok(Reply::json(200, &task)),
        Err(StoreError::Storage(reason)) => Err(ApiError::Internal(reason)),
        Err(_) => {
            // The task was deleted meanwhile: nothing refers to the blob.
            if let Some(blob) = blob {
                app.store.discard(&blob);
            }
            Err(id.not_found())
        }
    }
}

/// `GET /tasks/{task_id}/attachment`: the exact bytes, with the type they were sent with.
///
/// # Errors
/// 422 bad id, 404 no such task, 404 no attachment.
pub fn download_attachment(app: &App, id: PathId) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    let download = app
        .store
        .attachment(key)
        .map_err(|error| missing(&id, error))?;
    let file = download.file;
    let disposition = upload::content_disposition(&file.filename);
    // RFC 7578 §4.4: a part without Content-Type is text/plain.
    let content_type = file.content_type.unwrap_or_else(|| "text/plain".to_owned());
    let body = match (file.content, download.opened) {
        (Content::Memory(bytes), _) => Body::File {
            content_type,
            bytes,
        },
        (Content::Blob(blob), Some(opened)) => Body::Stream {
            content_type,
            file: SharedFile(std::sync::Arc::new(opened)),
            len: blob.size,
        },
        (Content::Blob(blob), None) => {
            return Err(ApiError::Internal(format!(
                "blob {} was not opened",
                blob.name
            )))
        }
    };
    Ok(Reply {
        status: 200,
        headers: vec![("Content-Disposition", disposition)],
        body,
    })
}

/// `DELETE /tasks/{task_id}/attachment`: 204, and the task's `attachment` is `null` again.
///
/// # Errors
/// 422 bad id, 404 no such task, 404 no attachment.
pub fn delete_attachment(app: &App, id: PathId) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    app.store.detach(key).map_err(|error| missing(&id, error))?;
    Ok(Reply::no_content())
}

fn missing(id: &TaskId, error: StoreError) -> ApiError {
    match error {
        StoreError::NoAttachment => ApiError::NotFound(format!("Task {id} has no attachment")),
        StoreError::Storage(reason) => ApiError::Internal(reason),
        _ => id.not_found(),
    }
}

fn title_taken() -> ApiError {
    ApiError::Conflict("A task with that title already exists".to_owned())
}

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

fn split_id(id: PathId) -> (Option<TaskId>, Option<ErrorItem>) {
    match id {
        Ok(id) => (Some(id), None),
        Err(item) => (None, Some(item)),
    }
}

/// Reads the JSON body and validates it; a bad path id's item comes first in the 422.
fn read_validated<T>(
    request: &mut Request<'_>,
    id_item: Option<ErrorItem>,
    validate: Validator<T>,
) -> Result<T, ApiError> {
    let content_type = request.header("Content-Type");
    check_json_length(request.content_length())?;
    let body = read_json(request.body(), content_type)?;
    validate_body(body, id_item, validate)
}

/// Parses the list's query: form-encoded, unknown names ignored, the last repeat wins.
fn parse_list_query(query: &str) -> Result<ListQuery, ApiError> {
    let (mut done, mut priority, mut skip, mut limit) = (None, None, None, None);
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "done" => done = Some(value.into_owned()),
            "priority" => priority = Some(value.into_owned()),
            "skip" => skip = Some(value.into_owned()),
            "limit" => limit = Some(value.into_owned()),
            _ => {}
        }
    }
    let mut items = Vec::new();
    let mut query = ListQuery {
        done: None,
        priority: None,
        skip: 0,
        limit: DEFAULT_LIMIT,
    };
    if let Some(text) = done {
        query.done = parse_lax_bool(&text);
        if query.done.is_none() {
            items.push(bool_parsing(loc(["query", "done"]), &Value::from(text)));
        }
    }
    if let Some(text) = priority {
        query.priority = Priority::from_name(&text);
        if query.priority.is_none() {
            let here = loc(["query", "priority"]);
            items.push(ErrorItem::value_error(
                here,
                PRIORITY_MESSAGE,
                Value::from(text),
            ));
        }
    }
    if let Some(text) = skip {
        match parse_bounded("skip", &text, None) {
            Ok(value) => query.skip = value,
            Err(item) => items.push(item),
        }
    }
    if let Some(text) = limit {
        match parse_bounded("limit", &text, Some(MAX_LIMIT)) {
            Ok(value) => query.limit = value as usize,
            Err(item) => items.push(item),
        }
    }
    if items.is_empty() {
        Ok(query)
    } else {
        Err(ApiError::Unprocessable(items))
    }
}

/// A query integer `>= 0` and `<= max`: an optional sign and ASCII digits; huge values saturate.
fn parse_bounded(name: &'static str, text: &str, max: Option<u64>) -> Result<u64, ErrorItem> {
    let here = || loc(["query", name]);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorItem::int_parsing(here(), text));
    }
    let significant = digits.trim_start_matches('0');
    if negative && !significant.is_empty() {
        let msg = "Input should be greater than or equal to 0";
        let item = ErrorItem::new("greater_than_equal", here(), msg, Value::from(text));
        return Err(item.with_ctx(json!({ "ge": 0 })));
    }
    let value = significant
        .parse::<u64>()
        .unwrap_or(if significant.is_empty() { 0 } else { u64::MAX });
    match max {
        Some(max) if value > max => {
            let msg = format!("Input should be less than or equal to {max}");
            let item = ErrorItem::new("less_than_equal", here(), &msg, Value::from(text));
            Err(item.with_ctx(json!({ "le": max })))
        }
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(query: &str) -> Vec<&'static str> {
        match parse_list_query(query) {
            Err(ApiError::Unprocessable(items)) => items.iter().map(|i| i.kind).collect(),
            other => panic!("expected 422 for {query}, got {other:?}"),
        }
    }

    #[test]
    fn list_query_defaults() {
        let query = parse_list_query("").unwrap();
        assert_eq!(
            (query.skip, query.limit, query.done),
            (0, DEFAULT_LIMIT, None)
        );
    }

    #[test]
    fn list_query_errors_come_in_parameter_order() {
        assert_eq!(
            kinds("limit=1001&skip=-1&priority=HIGH&done=maybe"),
            [
                "bool_parsing",
                "value_error",
                "greater_than_equal",
                "less_than_equal"
            ]
        );
    }

    #[test]
    fn list_query_last_repeat_wins_and_unknowns_are_ignored() {
        let query = parse_list_query("done=maybe&done=Off&color=red&limit=5&limit=%2B7").unwrap();
        assert_eq!((query.done, query.limit), (Some(false), 7));
    }

    #[test]
    fn huge_skip_saturates_and_huge_limit_is_too_large() {
        let query = parse_list_query("skip=99999999999999999999999").unwrap();
        assert_eq!(query.skip, u64::MAX);
        assert_eq!(kinds("limit=99999999999999999999999"), ["less_than_equal"]);
        assert_eq!(kinds("skip=1.0&limit=abc"), ["int_parsing", "int_parsing"]);
        assert_eq!(parse_list_query("skip=-0").unwrap().skip, 0);
    }
}
