//! The router: a pure function from a method and a request target to a typed `Route`, or to the
//! 404 / 405 / 307 answers of CONTRACT.md §3. Handlers never see raw path strings.

use std::fmt;

use crate::error::ApiError;
use crate::validation::{loc, ErrorItem};

/// `Allow` for `/tasks`.
pub const ALLOW_TASKS: &str = "GET, HEAD, POST, OPTIONS";
/// `Allow` for `/tasks/{task_id}`.
pub const ALLOW_TASK: &str = "GET, HEAD, PATCH, DELETE, OPTIONS";
/// `Allow` for `/tasks/{task_id}/attachment`.
pub const ALLOW_ATTACHMENT: &str = "GET, HEAD, POST, DELETE, OPTIONS";
/// `Allow` for the read-only service routes.
pub const ALLOW_READ_ONLY: &str = "GET, HEAD, OPTIONS";
/// `Allow` for `OPTIONS *`: every method the server supports anywhere.
pub const ALLOW_SERVER: &str = "GET, HEAD, POST, PATCH, DELETE, OPTIONS";

/// Every path the router knows, as OpenAPI path templates (CONTRACT §2); `{task_id}` is any
/// non-empty segment. A unit test holds `src/openapi.json` to exactly these paths.
#[cfg(test)]
pub const ROUTE_TEMPLATES: &[&str] = &[
    "/tasks",
    "/tasks/{task_id}",
    "/tasks/{task_id}/attachment",
    "/healthz",
    "/openapi.json",
    "/docs",
    "/metrics",
];

/// A task id from the path, already in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskId {
    /// An id that could belong to a task.
    Number(u64),
    /// A well-formed integer no task can have (negative, or beyond `u64`), kept canonical
    /// (no `+`, no leading zeros) for the 404 message.
    OutOfRange(String),
}

impl TaskId {
    /// Parses an optional `+`/`-` then ASCII digits (leading zeros allowed).
    ///
    /// # Errors
    /// The `int_parsing` item, `loc ["path", "task_id"]`, for anything else.
    pub fn parse(segment: &str) -> Result<TaskId, ErrorItem> {
        let (negative, digits) = match segment.as_bytes().first() {
            Some(b'+') => (false, &segment[1..]),
            Some(b'-') => (true, &segment[1..]),
            _ => (false, segment),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ErrorItem::int_parsing(loc(["path", "task_id"]), segment));
        }
        let significant = digits.trim_start_matches('0');
        if significant.is_empty() {
            return Ok(TaskId::Number(0)); // `-0` is 0
        }
        match (negative, significant.parse::<u64>()) {
            (false, Ok(number)) => Ok(TaskId::Number(number)),
            (false, Err(_)) => Ok(TaskId::OutOfRange(significant.to_owned())),
            (true, _) => Ok(TaskId::OutOfRange(format!("-{significant}"))),
        }
    }

    /// The id as a store key, `None` when no task can have it.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            TaskId::Number(number) => Some(*number),
            TaskId::OutOfRange(_) => None,
        }
    }

    /// 404 `Task N not found`.
    pub fn not_found(&self) -> ApiError {
        ApiError::NotFound(format!("Task {self} not found"))
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskId::Number(number) => write!(f, "{number}"),
            TaskId::OutOfRange(text) => f.write_str(text),
        }
    }
}

/// The `{task_id}` path segment: parsed, or the 422 item for it. Parsing is the handler's
/// business because the item joins the body's items in one 422 (CONTRACT §4).
pub type PathId = Result<TaskId, ErrorItem>;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// `GET /tasks` with its raw query string.
    ListTasks {
        /// The query string after `?`, still form-encoded.
        query: String,
    },
    /// `POST /tasks`
    CreateTask,
    /// `GET /tasks/{task_id}`
    GetTask(PathId),
    /// `PATCH /tasks/{task_id}`
    UpdateTask(PathId),
    /// `DELETE /tasks/{task_id}`
    DeleteTask(PathId),
    /// `GET /tasks/{task_id}/attachment`
    DownloadAttachment(PathId),
    /// `POST /tasks/{task_id}/attachment`
    UploadAttachment(PathId),
    /// `DELETE /tasks/{task_id}/attachment`
    DeleteAttachment(PathId),
    /// `GET /healthz`
    Health,
    /// `GET /openapi.json`
    OpenApi,
    /// `GET /docs`
    Docs,
    /// `GET /metrics`
    Metrics,
    /// `OPTIONS` on a known path, or `OPTIONS *`: 204 with this `Allow`.
    Options {
        /// The `Allow` value to send.
        allow: &'static str,
    },
    /// A known path with trailing slashes: 307 to this relative `Location`.
    Redirect {
        /// The path without its trailing slashes, re-encoded, plus the query.
        location: String,
    },
}

/// The resource a decoded path names, with its `{task_id}` segment.
enum Resource<'a> {
    Tasks,
    Task(&'a str),
    Attachment(&'a str),
    Health,
    OpenApi,
    Docs,
    Metrics,
}

impl Resource<'_> {
    fn allow(&self) -> &'static str {
        match self {
            Resource::Tasks => ALLOW_TASKS,
            Resource::Task(_) => ALLOW_TASK,
            Resource::Attachment(_) => ALLOW_ATTACHMENT,
            Resource::Health | Resource::OpenApi | Resource::Docs | Resource::Metrics => {
                ALLOW_READ_ONLY
            }
        }
    }

    /// The OpenAPI path template (CONTRACT §2).
    fn template(&self) -> &'static str {
        match self {
            Resource::Tasks => "/tasks",
            Resource::Task(_) => "/tasks/{task_id}",
            Resource::Attachment(_) => "/tasks/{task_id}/attachment",
            Resource::Health => "/healthz",
            Resource::OpenApi => "/openapi.json",
            Resource::Docs => "/docs",
            Resource::Metrics => "/metrics",
        }
    }
}

/// The resource a decoded path names. Allocation-free: `/metrics` classifies every request
/// with it (through [`template`]).
fn resource(path: &str) -> Option<Resource<'_>> {
    let mut segments = path.strip_prefix('/')?.split('/');
    let parts = (segments.next(), segments.next(), segments.next());
    if segments.next().is_some() {
        return None;
    }
    match parts {
        (Some("tasks"), None, None) => Some(Resource::Tasks),
        (Some("tasks"), Some(id), None) if !id.is_empty() => Some(Resource::Task(id)),
        (Some("tasks"), Some(id), Some("attachment")) if !id.is_empty() => {
            Some(Resource::Attachment(id))
        }
        (Some("healthz"), None, None) => Some(Resource::Health),
        (Some("openapi.json"), None, None) => Some(Resource::OpenApi),
        (Some("docs"), None, None) => Some(Resource::Docs),
        (Some("metrics"), None, None) => Some(Resource::Metrics),
        _ => None,
    }
}

/// The OpenAPI path template `target` is routed under (a trailing-slash redirect counts under
/// the path it redirects to), `"*"` for `OPTIONS *`, `None` for a path no route knows: the
/// `route` label of `/metrics`. Allocates only for a path with a percent-escape.
pub fn template(target: &str) -> Option<&'static str> {
    if target == "*" {
        return Some("*");
    }
    let raw_path = target.split_once('?').map_or(target, |(path, _)| path);
    let path = origin_path(raw_path);
    let trimmed = match path.trim_end_matches('/') {
        "" => path,
        trimmed => trimmed,
    };
    if trimmed.contains('%') {
        let decoded = decode_path(trimmed)?;
        let decoded = decoded.trim_end_matches('/');
        return resource(decoded).map(|found| found.template());
    }
    resource(trimmed).map(|found| found.template())
}

/// Routes a request. `method` is case-sensitive (RFC 9110 §9.1); `HEAD` is routed as `GET`
/// (RFC 9110 §9.3.2) and the connection layer sends no body.
///
/// # Errors
/// 404 `Not Found` for a path no route matches, 405 with the route's `Allow` for a method it
/// does not support (decided before the id is parsed).
pub fn route(method: &str, target: &str) -> Result<Route, ApiError> {
    if target == "*" {
        return match method {
            "OPTIONS" => Ok(Route::Options {
                allow: ALLOW_SERVER,
            }),
            _ => Err(ApiError::no_route()),
        };
    }
    let (raw_path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = decode_path(origin_path(raw_path)).ok_or_else(ApiError::no_route)?;
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        return match resource(trimmed) {
            Some(_) => Ok(Route::Redirect {
                location: redirect_location(trimmed, query),
            }),
            None => Err(ApiError::no_route()),
        };
    }
    let resource = resource(&path).ok_or_else(ApiError::no_route)?;
    let method = if method == "HEAD" { "GET" } else { method };
    let id = |segment: &str| TaskId::parse(segment);
    let route = match (method, &resource) {
        ("OPTIONS", _) => Route::Options {
            allow: resource.allow(),
        },
        ("GET", Resource::Tasks) => Route::ListTasks {
            query: query.to_owned(),
        },
        ("POST", Resource::Tasks) => Route::CreateTask,
        ("GET", Resource::Task(seg)) => Route::GetTask(id(seg)),
        ("PATCH", Resource::Task(seg)) => Route::UpdateTask(id(seg)),
        ("DELETE", Resource::Task(seg)) => Route::DeleteTask(id(seg)),
        ("GET", Resource::Attachment(seg)) => Route::DownloadAttachment(id(seg)),
        ("POST", Resource::Attachment(seg)) => Route::UploadAttachment(id(seg)),
        ("DELETE", Resource::Attachment(seg)) => Route::DeleteAttachment(id(seg)),
        ("GET", Resource::Health) => Route::Health,
        ("GET", Resource::OpenApi) => Route::OpenApi,
        ("GET", Resource::Docs) => Route::Docs,
        ("GET", Resource::Metrics) => Route::Metrics,
        _ => {
            return Err(ApiError::MethodNotAllowed {
                allow: resource.allow(),
            })
        }
    };
    Ok(route)
}

/// The path of an absolute-form target (`http://host/tasks/3`, RFC 9112 §3.2.2), or the target.
fn origin_path(raw_path: &str) -> &str {
    let lower_prefix = |prefix: &str| {
        raw_path
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let authority_start = if lower_prefix("http://") {
        7
    } else if lower_prefix("https://") {
        8
    } else {
        return raw_path;
    };
    match raw_path[authority_start..].find('/') {
        Some(slash) => &raw_path[authority_start + slash..],
        None => "/",
    }
}

/// Percent-decodes the whole path; `None` for a malformed escape or non-UTF-8 result.
fn decode_path(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            decoded.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// A relative `Location` for a decoded path: every byte that is not an RFC 3986 `pchar` or `/`
/// is percent-encoded, and so is every query byte outside visible ASCII (existing `%XX` escapes
/// stay as sent). The connection layer admits only visible ASCII in a target (a lone LF ends the
/// request line), but the router does not rely on it: no CR, LF or NUL it is given may reach the
/// header, where it would split the response (found by fuzzing on the tiny_http server, which
/// ended the request line only at CRLF).
fn redirect_location(decoded_path: &str, query: &str) -> String {
    const PCHAR_EXTRA: &[u8] = b"-._~!$&'()*+,;=:@/";
    let mut location = String::with_capacity(decoded_path.len() + query.len() + 1);
    for byte in decoded_path.bytes() {
        if byte.is_ascii_alphanumeric() || PCHAR_EXTRA.contains(&byte) {
            location.push(char::from(byte));
        } else {
            location.push_str(&format!("%{byte:02X}"));
        }
    }
    if !query.is_empty() {
        location.push('?');
        for byte in query.bytes() {
            if byte.is_ascii_graphic() {
                location.push(char::from(byte));
            } else {
                location.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    location
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod validators_doc_tests;
