//! The routes that need no store: `/healthz`, and the two documents compiled into the binary,
//! `/openapi.json` and `/docs`. Each answer says how a cache may keep it (CONTRACT §10), so a
//! tool such as REDbot finds no heuristic freshness (RFC 9111 §4.2.2) on any of them.

use std::sync::LazyLock;

use serde_json::json;

use super::conditional::{check_read, undated, Fields};
use crate::error::ApiError;
use crate::message::Reply;
use crate::validators::EntityTag;
use http1::Request;

/// The OpenAPI 3.1 document, written by hand and served verbatim.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");
/// The self-contained documentation page; it fetches only `/openapi.json`.
pub const DOCS_HTML: &str = include_str!("../docs.html");

/// The documents' strong tags, computed once: their bytes change only with the binary.
static OPENAPI_TAG: LazyLock<EntityTag> =
    LazyLock::new(|| EntityTag::for_document(OPENAPI_JSON.as_bytes()));
static DOCS_TAG: LazyLock<EntityTag> =
    LazyLock::new(|| EntityTag::for_document(DOCS_HTML.as_bytes()));

/// `GET /healthz`: 200 `{"status":"ok"}` with `Cache-Control: no-store` (RFC 9111 §5.2.2.5):
/// a stored health answer would tell a load balancer about the past. On PostgreSQL, 503
/// `{"status":"database unavailable"}` while the database does not answer (CONTRACT §14), so
/// a load balancer stops sending traffic here then, and not while the instance is merely busy.
pub fn health(healthy: bool) -> Reply {
    let (status, text) = if healthy {
        (200, "ok")
    } else {
        (503, "database unavailable")
    };
    Reply::json(status, &json!({ "status": text })).with_header("Cache-Control", "no-store")
}

/// `GET /openapi.json` (and HEAD): 200 with a strong `ETag` and `Cache-Control: no-cache`, or
/// 304 when `If-None-Match` matches (CONTRACT §11's rules).
///
/// # Errors
/// 412 for an `If-Match` that matches nothing, as on every tagged GET (RFC 9110 §13.1.1).
pub fn openapi(request: &Request<'_>) -> Result<Reply, ApiError> {
    document(request, "application/json", OPENAPI_JSON, &OPENAPI_TAG)
}

/// `GET /docs` (and HEAD): as [`openapi`], for the documentation page.
///
/// # Errors
/// 412, as [`openapi`].
pub fn docs(request: &Request<'_>) -> Result<Reply, ApiError> {
    document(request, "text/html; charset=utf-8", DOCS_HTML, &DOCS_TAG)
}

fn document(
    request: &Request<'_>,
    content_type: &str,
    text: &'static str,
    tag: &EntityTag,
) -> Result<Reply, ApiError> {
    let fields = Fields::read(request);
    if let Some(not_modified) = check_read(request.method(), undated(tag), &fields)? {
        return Ok(not_modified);
    }
    Ok(Reply::static_file(content_type, text).with_validator(tag))
}
