//! One stderr line for each of a newcomer's common mistakes, printed next to the access log
//! and never on the wire: the answers keep CONTRACT's exact bodies, which the lesson's clients
//! read, and the person at the terminal gets the sentence that teaches the fix.
//!
//! The mistakes are read off each finished exchange (the request's method, target and headers,
//! and the reply's status, body and `ETag`), so the handlers stay as they are. Each kind is
//! hinted once per process, like the CORS hints (`cors/hints.rs`), and never more than
//! [`MAX_HINTS`] lines in all; `--quiet` turns them off with the access log.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use crate::message::{Body, Reply};
use crate::upload::is_allowed_type;
use http1::Request;

/// Most hint lines one process prints, whatever the kinds: the log is the operator's first.
pub const MAX_HINTS: usize = 16;

/// Upload tags remembered to recognise one sent back as `If-Match` on the task; older ones are
/// forgotten first, so the memory is bounded whatever the traffic.
const REMEMBERED_UPLOAD_TAGS: usize = 64;

/// The mistakes that get a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    JsonWithoutType,
    UploadNotMultipart,
    UploadTypeRefused,
    StaleIfMatch,
    UploadTagOnTask,
    RootRequested,
}

/// What one exchange tells the hints: read by the server from the request it answered.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// The method.
    pub method: &'a str,
    /// The request target, query included.
    pub target: &'a str,
    /// `Content-Type`.
    pub content_type: Option<&'a str>,
    /// `If-Match`.
    pub if_match: Option<&'a str>,
}

/// What `request` tells the hints.
pub fn asked<'a>(request: &'a Request<'_>) -> Asked<'a> {
    Asked {
        method: request.method(),
        target: request.target(),
        content_type: request.header("Content-Type"),
        if_match: request.header("If-Match"),
    }
}

#[derive(Debug, Default)]
struct State {
    /// Kinds hinted so far, in order.
    hinted: Vec<Kind>,
    /// `ETag`s of recent successful uploads (the attachments' tags).
    upload_tags: VecDeque<String>,
}

/// The hints of one server: which kinds were printed, and the upload tags seen.
#[derive(Debug, Default)]
pub struct MistakeHints {
    state: Mutex<State>,
}

impl MistakeHints {
    /// Nothing hinted yet.
    pub fn new() -> MistakeHints {
        MistakeHints::default()
    }

    /// The stderr line for this exchange, if it shows a mistake not hinted before.
    pub fn hint(&self, asked: &Asked<'_>, reply: &Reply) -> Option<String> {
        let path = asked.target.split('?').next().unwrap_or_default();
        let route = Route::of(path);
        // A poisoned lock still holds a consistent list: pushes and pops cannot half-happen.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if route == Route::Attachment && asked.method == "POST" && reply.status == 200 {
            if let Some(tag) = header(reply, "ETag") {
                if state.upload_tags.len() == REMEMBERED_UPLOAD_TAGS {
                    state.upload_tags.pop_front();
                }
                state.upload_tags.push_back(tag.to_owned());
            }
            return None;
        }
        let (kind, line) = mistake(asked, path, route, reply, &state.upload_tags)?;
        if state.hinted.len() >= MAX_HINTS || state.hinted.contains(&kind) {
            return None;
        }
        state.hinted.push(kind);
        Some(format!("taskd: hint: {line}"))
    }
}

/// The routes of the API, as far as the hints care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Root,
    Collection,
    Task,
    Attachment,
    Other,
}

impl Route {
    fn of(path: &str) -> Route {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            [""] => Route::Root,
            ["tasks"] => Route::Collection,
            ["tasks", id] if !id.is_empty() => Route::Task,
            ["tasks", id, "attachment"] if !id.is_empty() => Route::Attachment,
            _ => Route::Other,
        }
    }
}

/// Which mistake this exchange shows, and its sentence.
fn mistake(
    asked: &Asked<'_>,
    path: &str,
    route: Route,
    reply: &Reply,
    upload_tags: &VecDeque<String>,
) -> Option<(Kind, String)> {
    let media = asked.content_type.map(media_type);
    let label = media
        .as_deref()
        .map_or("no Content-Type".to_owned(), printable);
    let request = format!("{} {}", asked.method, printable(path));
    let path = printable(path);
    match (route, asked.method, reply.status) {
        (Route::Root, "GET" | "HEAD", 404) => Some((
            Kind::RootRequested,
            "GET / has nothing here (404): the API is under /tasks; read it at /docs \
             (the page) or /openapi.json (the document)"
                .to_owned(),
        )),
        (Route::Collection, "POST", 422) | (Route::Task, "PATCH", 422) if !is_json(&media) => {
            Some((
                Kind::JsonWithoutType,
                format!(
                    "{request} sent a body with {label}, not Content-Type: application/json, so \
                     it was not read as JSON (422); send the header: curl -H 'Content-Type: \
                     application/json', or requests/httpx json=..."
                ),
            ))
        }
        (Route::Attachment, "POST", 422 | 400)
            if media.as_deref() != Some("multipart/form-data") =>
        {
            Some((
                Kind::UploadNotMultipart,
                format!(
                    "{request} sent {label}, not multipart/form-data, so it holds no file part \
                     ({}); send the file as the form field `file`: curl -F file=@notes.txt, or \
                     requests/httpx files={{\"file\": open(\"notes.txt\", \"rb\")}}",
                    reply.status
                ),
            ))
        }
        (Route::Attachment, "POST", 400) => refused_type(reply).map(|refused| {
            (
                Kind::UploadTypeRefused,
                format!(
                    "an upload typed {refused} was refused (400); the file part's Content-Type \
                     must be text/plain, image/png or image/jpeg (no Content-Type counts as \
                     text/plain)"
                ),
            )
        }),
        (Route::Task | Route::Attachment, _, 412) => {
            let sent = printable(asked.if_match?);
            let task = path.trim_end_matches("/attachment");
            if route == Route::Task
                && sent_tags(asked.if_match?).any(|tag| upload_tags.contains(&tag))
            {
                return Some((
                    Kind::UploadTagOnTask,
                    format!(
                        "{request} sent If-Match: {sent}, the ETag of an upload's answer: that \
                         is the attachment's tag, not the task's (412); the task's current tag \
                         is the ETag of GET {task}"
                    ),
                ));
            }
            Some((
                Kind::StaleIfMatch,
                format!(
                    "{request} sent If-Match: {sent}, which is not the current tag (412): \
                     someone changed it since, or the tag is from elsewhere; GET {path} and \
                     send its ETag back as If-Match"
                ),
            ))
        }
        _ => None,
    }
}

/// A client's bytes as they may appear in a log line: printable ASCII, the rest escaped, and
/// at most 80 characters, so a request cannot forge or flood a line (like the access log).
fn printable(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| {
            let shown = if c == ' ' || c.is_ascii_graphic() {
                c.to_string()
            } else {
                c.escape_default().to_string()
            };
            shown.chars().collect::<Vec<_>>()
        })
        .collect();
    if escaped.chars().count() > 80 {
        format!("{}...", escaped.chars().take(80).collect::<String>())
    } else {
        escaped
    }
}

/// The type the contract's `Unsupported file type: X` body names (the refusal's only source).
fn refused_type(reply: &Reply) -> Option<String> {
    let Body::Json(bytes) = &reply.body else {
        return None;
    };
    let body: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let detail = body.get("detail")?.as_str()?;
    let refused = detail.strip_prefix("Unsupported file type: ")?;
    // The value was refused because it is not an allowed type; it was also checked to be
    // printable before it could be echoed (CONTRACT §9), so it cannot forge a log line.
    (!is_allowed_type(Some(refused)) && !refused.chars().any(char::is_control))
        .then(|| refused.to_owned())
}

/// The tags of an `If-Match` list (RFC 9110 §13.1.1), without `W/`-less parsing subtleties:
/// a comma never occurs inside taskd's tags, which are hex digests.
fn sent_tags(field: &str) -> impl Iterator<Item = String> + '_ {
    field.split(',').map(|tag| tag.trim().to_owned())
}

/// `Content-Type`'s media type, lower-cased, without parameters (RFC 9110 §8.3.1).
fn media_type(value: &str) -> String {
    let essence = value.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

/// What CONTRACT §4 reads as JSON: `application/json` or `application/*+json`.
fn is_json(media: &Option<String>) -> bool {
    media.as_deref().is_some_and(|kind| {
        kind == "application/json" || (kind.starts_with("application/") && kind.ends_with("+json"))
    })
}

fn header<'r>(reply: &'r Reply, name: &str) -> Option<&'r str> {
    reply
        .headers
        .iter()
        .find(|(field, _)| field.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked<'a>(method: &'a str, target: &'a str) -> Asked<'a> {
        Asked {
            method,
            target,
            content_type: None,
            if_match: None,
        }
    }

    fn status(code: u16) -> Reply {
        Reply::json(code, &serde_json::json!({"detail": "x"}))
    }

    #[test]
    fn each_kind_is_hinted_once() {
        let hints = MistakeHints::new();
        assert!(hints.hint(&asked("GET", "/"), &status(404)).is_some());
        assert_eq!(hints.hint(&asked("GET", "/"), &status(404)), None);
        assert_eq!(hints.hint(&asked("GET", "/tasks"), &status(200)), None);
    }

    #[test]
    fn client_bytes_are_escaped_and_shortened() {
        assert_eq!(printable("\"abc\"\n\u{1b}"), "\"abc\"\\n\\u{1b}");
        assert_eq!(printable(&"x".repeat(100)).len(), 83);
    }

    #[test]
    fn the_routes() {
        assert_eq!(Route::of("/"), Route::Root);
        assert_eq!(Route::of("/tasks"), Route::Collection);
        assert_eq!(Route::of("/tasks/7"), Route::Task);
        assert_eq!(Route::of("/tasks/7/attachment"), Route::Attachment);
        assert_eq!(Route::of("/tasks/"), Route::Other);
        assert_eq!(Route::of("/docs"), Route::Other);
    }

    #[test]
    fn json_with_a_json_type_is_no_mistake() {
        let hints = MistakeHints::new();
        let mut json = asked("POST", "/tasks");
        json.content_type = Some("application/merge-patch+json; charset=utf-8");
        assert_eq!(hints.hint(&json, &status(422)), None);
        json.content_type = Some("text/plain");
        assert!(hints.hint(&json, &status(422)).is_some());
    }

    #[test]
    fn an_allowed_type_in_a_400_is_not_called_refused() {
        let reply = Reply::json(
            400,
            &serde_json::json!({"detail": "Invalid multipart data."}),
        );
        let mut upload = asked("POST", "/tasks/1/attachment");
        upload.content_type = Some("multipart/form-data; boundary=x");
        assert_eq!(MistakeHints::new().hint(&upload, &reply), None);
    }
}
