//! One function per operation, named like its OpenAPI operationId. Each takes the shared `App`
//! and typed route values, reads what it needs from the request, and returns a `Reply` or an
//! `ApiError`; none of them writes to the socket.
//!
//! - this file: dispatch and the task operations;
//! - `list`: `GET /tasks`, its query, `X-Total-Count` and `Link`;
//! - `attachment`: download (ranges included) and delete of an attachment; `attach`: its upload;
//! - `documents`: `/healthz`, `/openapi.json` and `/docs`, with their caching fields;
//! - `conditional`: the precondition and range fields of CONTRACT §11, and their verdicts.

mod attach;
mod attachment;
mod conditional;
mod documents;
mod list;

use http1::Request;

use crate::error::ApiError;
use crate::message::{check_json_length, read_json, validate_body, Body, Reply, Validator};
use crate::model::{NewTask, TaskPatch};
use crate::router::{PathId, Route, TaskId};
use crate::storage::Storage;
use crate::upload::UploadLimits;
use crate::validation::ErrorItem;

pub use attach::upload_attachment;
pub use attachment::{delete_attachment, download_attachment};
use conditional::{check_early, check_read, tagged, undated, Fields};
pub use list::list_tasks;

#[cfg(test)]
pub use documents::OPENAPI_JSON;

/// Default page size of the list.
pub const DEFAULT_LIMIT: u64 = 100;
/// Largest page size of the list.
pub const MAX_LIMIT: u64 = 1000;

/// Everything a handler may use: the storage backend and the limits.
#[derive(Debug)]
pub struct App {
    /// The tasks and their attachments, in whichever backend the server was started with.
    pub storage: Box<dyn Storage>,
    /// Upload limits.
    pub limits: UploadLimits,
    /// The counters `GET /metrics` shows.
    pub metrics: crate::metrics::Metrics,
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
        Route::Health => Ok(documents::health(app.storage.is_healthy())),
        Route::OpenApi => documents::openapi(request),
        Route::Docs => documents::docs(request),
        Route::Metrics => Ok(crate::metrics::reply(&app.metrics, app.storage.as_ref())),
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
    let task = app.storage.create(new_task)?;
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
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    let task = app.storage.task(key)?;
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
    let guard = fields.guard();
    if !fields.is_conditional(false) {
        let (id, id_item) = split_id(id);
        let patch = read_validated(request, id_item, TaskPatch::from_json)?;
        let id = id.expect("a bad id always gives a 422 above");
        let key = id.as_u64().ok_or_else(|| id.not_found())?;
        return patched(app.storage.update(key, patch, &guard)?);
    }
    check_json_length(request.content_length())?;
    let id = id.map_err(ApiError::invalid)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    // 404, then 412, before the body is read; the storage checks the guard again with the
    // change, so a change that came in meanwhile is not overwritten.
    let (_, tag) = tagged(&app.storage.task(key)?);
    check_early(&guard, Some(&tag), None)?;
    let patch = read_validated(request, None, TaskPatch::from_json)?;
    patched(app.storage.update(key, patch, &guard)?)
}

/// The 200 of a PATCH, with the task's new tag.
fn patched(task: crate::model::Task) -> Result<Reply, ApiError> {
    let (body, tag) = tagged(&task);
    Ok(Reply::json_bytes(200, body).with_validator(&tag))
}

/// `DELETE /tasks/{task_id}`: 204 with no body; the attachment goes too. `If-Match` makes it
/// conditional on the task's tag, which the storage checks with the delete.
///
/// # Errors
/// 422 bad id, 404 no such task, 412.
pub fn delete_task(app: &App, request: &Request<'_>, id: PathId) -> Result<Reply, ApiError> {
    let id = id.map_err(ApiError::invalid)?;
    let key = id.as_u64().ok_or_else(|| id.not_found())?;
    app.storage.delete(key, &Fields::read(request).guard())?;
    Ok(Reply::no_content())
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
