//! The requests every round of `taskd check` builds: a GET, a JSON POST with its keys in the
//! lesson's order, a multipart upload as a browser sends it, the file multipart parsers trip
//! on, and the task a round needs created first. Shared by `script`, `rounds` and
//! `validator_rounds`, so none of them imports another.

use serde_json::{json, Value};

use super::message::Request;
use super::rules;
use super::session::Session;

/// The lesson's upload, `files={"file": ("notes.txt", b"hello fastapi files", "text/plain")}`.
pub const NOTES: &[u8] = b"hello fastapi files";

/// A `GET` of `path` under the server's base path.
pub fn get(session: &Session, path: &str) -> Request {
    Request::new("GET", session.path(path))
}

/// A `POST` of a JSON object with these fields, in this order (as the lesson writes them).
pub fn post_json(session: &Session, path: &str, fields: &[(&str, Value)]) -> Request {
    Request::new("POST", session.path(path)).with_body("application/json", object(fields))
}

/// A JSON object with its keys in the order given.
fn object(fields: &[(&str, Value)]) -> String {
    let fields: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{}: {value}", Value::from(*key)))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

/// A `multipart/form-data` upload with one `file` part, as a browser or `curl -F` sends it.
pub fn upload(
    session: &Session,
    path: &str,
    name: &str,
    kind: Option<&str>,
    content: &[u8],
) -> Request {
    let boundary = &session.boundary;
    let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{quoted}\"\r\n"
    )
    .into_bytes();
    if let Some(kind) = kind {
        body.extend_from_slice(format!("Content-Type: {kind}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let summary = format!(
        "a multipart/form-data upload of {name:?} ({}, {} bytes)",
        kind.map_or("no Content-Type".to_owned(), |kind| format!(
            "Content-Type: {kind}"
        )),
        content.len()
    );
    let form = format!("multipart/form-data; boundary={boundary}");
    Request::new("POST", session.path(path))
        .with_body(&form, body)
        .with_summary(summary)
}

/// A file full of the bytes multipart parsers trip on: CRLFs, a PNG signature, a delimiter
/// line one character off, part headers, the real boundary not preceded by CRLF, a NUL, a
/// byte that is not UTF-8, and a final CRLF that is content, not framing (RFC 2046 §5.1.1).
pub fn tricky_content(boundary: &str) -> Vec<u8> {
    let lookalike = format!("{}X", &boundary[..boundary.len() - 1]);
    let mut content = b"\x89PNG\r\n\x1a\n".to_vec();
    content.extend_from_slice(format!("\r\n--{lookalike}\r\n").as_bytes());
    content.extend_from_slice(b"Content-Type: text/plain\r\n\r\n");
    content.extend_from_slice(format!("tail--{boundary}--\r\n").as_bytes());
    content.extend_from_slice(b"\x00\xff\r\n\r\n");
    content
}

/// Creates a task for a later round; `None` (with a line saying why) if that fails.
pub fn create(session: &mut Session, label: &str) -> Option<(String, String)> {
    let title = format!("{label} ({})", session.tag);
    let request = post_json(session, "/tasks", &[("title", json!(title))]);
    let response = session.setup(&request)?;
    match session.adopt(&response) {
        Some(id) => Some((id, title)),
        None => {
            let name = format!("POST /tasks creates a task for the {label} checks");
            let outcome = rules::created(&response);
            session.record("setup", &name, Some(request.describe()), outcome);
            None
        }
    }
}
