//! One function per operation, named like its OpenAPI operationId. Each takes the shared `App`
//! and typed route values, reads what it needs from the request, and returns a `Reply` or an
//! `ApiError`; none of them writes to the socket.
//!
//! - this file: dispatch and the task operations;
//! - `list`: `GET /tasks`, its query, `X-Total-Count` and `Link`;
//! - `attachment`: download (ranges included) and delete of an attachment; `attach`: its upload;
//! - `conditional`: the precondition and range fields of CONTRACT §11, and their verdicts.

mod attach;
mod attachment;
mod conditional;
mod list;

use http1::Request;
use serde_json::json;

use crate::error::{ApiError, ErrorItem};
use crate::http::{check_json_length, read_json, validate_body, Body, Reply, Validator};
use crate::model::{NewTask, TaskPatch};
use crate::router::{PathId, Route, TaskId};
use crate::store::{Revision, Store, StoreError};
use crate::upload::UploadLimits;

pub use attach::upload_attachment;
pub use attachment::{delete_attachment, download_attachment};
use conditional::{check_change, check_read, tagged, undated, Fields};
pub use list::list_tasks;

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
        Route::ListTasks { query } => list_tasks(app, request, &query),
        Route::CreateTask => create_task(app, request),
        Route::GetTask(id) => get_task(app, request, id),
        Route::UpdateTask(id) => update_task(app, request, id),
        Route::DeleteTask(id) => delete_task(app, request, id),
        Route::DownloadAttachment(id) => download_attachment(app, request, id),
        Route::UploadAttachment(id) => upload_attachment(app, request, id),
        Route::DeleteAttachment(id) => delete_attachment(app, request, id),
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

/// `POST /tasks`: 201 with `Location` (RFC 9110 §15.3.2) and the new task's `ETag`.
/// Precondition fields are ignored: a create does not replace its target, the collection.
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
    let (body, tag) = tagged(&task);
    Ok(Reply::json_bytes(201, body)
        .with_header("Location", location)
        .with_header("ETag", tag.as_str()))
}

/// `GET /tasks/{task_id}` (and HEAD): 200 with `ETag`, or 304 / 412 by its preconditions.
///
/// # Errors
/// 422 bad id, 404 no such task, 412.
pub fn get_task(app: &App, request: &Request<'_>, id: PathId) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    let task = id.as_u64().and_then(|key| app.store.get(key));
    let task = task.ok_or_else(|| id.not_found())?;
    let (body, tag) = tagged(&task);
    let fields = Fields::read(request);
    if let Some(not_modified) = check_read(request.method(), undated(&tag), &fields)? {
        return Ok(not_modified);
    }
    Ok(Reply::json_bytes(200, body).with_validator(&tag))
}

/// `PATCH /tasks/{task_id}`: a partial update; `{}` changes nothing. The 200 carries the
/// task's new `ETag`.
///
/// Without preconditions: the body first (CONTRACT §8's order). With one (§11): 413 by the
/// declared length, 422 for the id, 404, 412, and only then the body, so a refused change
/// never reads it (nor sends `100 Continue`).
///
/// # Errors
/// The body errors of CONTRACT §4, one 422 (id first), 404, 412, then 409.
pub fn update_task(app: &App, request: &mut Request<'_>, id: PathId) -> Result<Reply, ApiError> {
    let fields = Fields::read(request);
    if !fields.is_conditional(false) {
        let (id, id_item) = split_id(id);
        let patch = read_validated(request, id_item, TaskPatch::from_json)?;
        let id = id.expect("a bad id always gives a 422 above");
        let key = id.as_u64().ok_or_else(|| id.not_found())?;
        return patched(app.store.update(key, patch), &id);
    }
    check_json_length(request.content_length())?;
    let id = id.map_err(ApiError::invalid)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    let mut revision = task_precondition(app, &fields, &id, key)?;
    let patch = read_validated(request, None, TaskPatch::from_json)?;
    loop {
        match app.store.update_if(key, patch.clone(), Some(revision)) {
            // Another change came in since the check: check again on what is there now.
            Err(StoreError::Changed) => revision = task_precondition(app, &fields, &id, key)?,
            result => return patched(result, &id),
        }
    }
}

fn patched(result: Result<crate::model::Task, StoreError>, id: &TaskId) -> Result<Reply, ApiError> {
    match result {
        Ok(task) => {
            let (body, tag) = tagged(&task);
            Ok(Reply::json_bytes(200, body).with_validator(&tag))
        }
        Err(StoreError::TitleTaken) => Err(title_taken()),
        Err(StoreError::Storage(reason)) => Err(ApiError::Internal(reason)),
        Err(_) => Err(id.not_found()),
    }
}

/// `DELETE /tasks/{task_id}`: 204 with no body; the attachment goes too. `If-Match` makes it
/// conditional on the task's tag.
///
/// # Errors
/// 422 bad id, 404 no such task, 412.
pub fn delete_task(app: &App, request: &Request<'_>, id: PathId) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    let fields = Fields::read(request);
    let mut expected = None;
    if fields.is_conditional(false) {
        expected = Some(task_precondition(app, &fields, &id, key)?);
    }
    loop {
        match app.store.delete_if(key, expected) {
            Ok(()) => return Ok(Reply::no_content()),
            Err(StoreError::Changed) => {
                expected = Some(task_precondition(app, &fields, &id, key)?);
            }
            Err(StoreError::Storage(reason)) => return Err(ApiError::Internal(reason)),
            Err(_) => return Err(id.not_found()),
        }
    }
}

/// The task's preconditions for a change: 404 when it is not there (whatever they say), 412
/// when they are false; else the revision the change must still find.
fn task_precondition(
    app: &App,
    fields: &Fields<'_>,
    id: &TaskId,
    key: u64,
) -> Result<Revision, ApiError> {
    let (task, revision) = app.store.get_revision(key).ok_or_else(|| id.not_found())?;
    let (_, tag) = tagged(&task);
    check_change(Some(undated(&tag)), fields)?;
    Ok(revision)
}

fn title_taken() -> ApiError {
    ApiError::Conflict("A task with that title already exists".to_owned())
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
