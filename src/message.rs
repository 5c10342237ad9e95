//! HTTP values shared by the handlers: the `Reply` a handler returns (its `Body` is in `body`;
//! `server::response` turns it into the connection layer's `http1::Response`), reading a JSON
//! body in the order of CONTRACT.md §4, and `Content-Type` checks.

use std::io::Read;

use bytes::Bytes;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::validation::{loc, ErrorItem};
use crate::validators::{self, EntityTag};

mod body;
pub use body::{Body, SharedFile};
/// The `Date` format (RFC 9110 §5.6.7) is the connection layer's, which sends `Date` itself.
pub use http1::http_date;

/// Largest JSON body accepted (exactly this many bytes is fine).
pub const MAX_JSON_BYTES: u64 = 1024 * 1024;

/// What a handler answers; `server::response` hands it to the connection layer (`http1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Extra headers; `Content-Type` and `Content-Length` come from the body.
    pub headers: Vec<(&'static str, String)>,
    /// The payload.
    pub body: Body,
}

impl Reply {
    /// A JSON reply.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Reply {
        let body = serde_json::to_vec(value).expect("API values always serialize to JSON");
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Json(body),
        }
    }

    /// A JSON body already serialized (so its entity tag could be computed from these bytes).
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Json(body),
        }
    }

    /// 304 Not Modified (RFC 9110 §15.4.5): the tag and `Cache-Control` a 200 would carry; no
    /// body and, so, no `Content-Type`, `Content-Length` or `Last-Modified`.
    pub fn not_modified(tag: &EntityTag) -> Reply {
        Reply {
            status: 304,
            headers: Vec::new(),
            body: Body::Empty,
        }
        .with_validator(tag)
    }

    /// Adds `ETag` and `Cache-Control: no-cache` (CONTRACT §11): a cache may keep the answer
    /// but must revalidate it first (RFC 9111 §5.2.2.4), which the tag makes cheap.
    pub fn with_validator(self, tag: &EntityTag) -> Reply {
        self.with_header("ETag", tag.as_str())
            .with_header("Cache-Control", "no-cache")
    }

    /// 200 with a document compiled into the binary.
    pub fn static_file(content_type: &str, text: &'static str) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: Body::File {
                content_type: content_type.to_owned(),
                bytes: Bytes::from_static(text.as_bytes()),
            },
        }
    }

    /// 204 No Content.
    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

impl From<ApiError> for Reply {
    fn from(error: ApiError) -> Reply {
        let mut headers = Vec::new();
        match &error {
            // RFC 9110 §15.5.6: a 405 MUST carry Allow.
            ApiError::MethodNotAllowed { allow } => headers.push(("Allow", (*allow).to_owned())),
            // RFC 9110 §11.6.1: a 401 MUST carry a challenge.
            ApiError::Unauthorized => headers.push(("WWW-Authenticate", "Bearer".to_owned())),
            // RFC 9110 §10.2.3: when to try again; a connection frees up in about that long.
            ApiError::ServiceUnavailable | ApiError::StorageUnavailable(_) => {
                headers.push(("Retry-After", "1".to_owned()))
            }
            // RFC 9110 §15.5.17: a 416 to a byte range says how long the representation is.
            ApiError::RangeNotSatisfiable { size } => headers.push((
                "Content-Range",
                validators::unsatisfied_content_range(*size),
            )),
            _ => {}
        }
        Reply {
            status: error.status(),
            headers,
            body: Body::Json(error.to_json()),
        }
    }
}

/// A JSON body after the transport-level checks (§4 steps 1, 4, 5, 6 have passed).
#[derive(Debug, Clone, PartialEq)]
pub enum JsonBody {
    /// An object, ready for field validation.
    Object(Map<String, Value>),
    /// Steps 2, 3 or 7: a 422 item that joins the path id's item, if any.
    Unusable(ErrorItem),
}

/// `NewTask::from_json` or `TaskPatch::from_json`.
pub type Validator<T> = fn(&Map<String, Value>) -> Result<T, Vec<ErrorItem>>;

/// Validates a read body; a bad path id's item comes first in the one 422 (CONTRACT §4).
///
/// # Errors
/// 422 with the path id's item, then the body's items.
pub fn validate_body<T>(
    body: JsonBody,
    id_item: Option<ErrorItem>,
    validate: Validator<T>,
) -> Result<T, ApiError> {
    let mut items: Vec<ErrorItem> = id_item.into_iter().collect();
    match body {
        JsonBody::Unusable(item) => items.push(item),
        JsonBody::Object(object) => match validate(&object) {
            Ok(value) if items.is_empty() => return Ok(value),
            Ok(_) => {}
            Err(body_items) => items.extend(body_items),
        },
    }
    Err(ApiError::Unprocessable(items))
}

/// Refuses a JSON body whose declared `Content-Length` is over the limit. Call it before the
/// body is touched: `100 Continue` goes out as soon as the body is read, and a client that sent
/// `Expect: 100-continue` must not be told to send a body we will refuse.
///
/// # Errors
/// 413 `Request body too large (limit 1048576 bytes)`.
pub fn check_json_length(declared_length: Option<u64>) -> Result<(), ApiError> {
    match declared_length {
        Some(length) if length > MAX_JSON_BYTES => Err(json_too_large()),
        _ => Ok(()),
    }
}

fn json_too_large() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "Request body too large (limit {MAX_JSON_BYTES} bytes)"
    ))
}

/// Reads and parses a JSON request body in the order of CONTRACT §4 (after
/// [`check_json_length`]), enforcing the limit while reading for chunked bodies.
///
/// # Errors
/// 413 over the limit, 400 for non-UTF-8 or too-deep nesting, 422 `json_invalid` for bad JSON,
/// 500 when the socket fails.
pub fn read_json(body: &mut dyn Read, content_type: Option<&str>) -> Result<JsonBody, ApiError> {
    let mut bytes = Vec::new();
    body.take(MAX_JSON_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_JSON_BYTES {
        return Err(json_too_large());
    }
    if bytes.is_empty() {
        return Ok(JsonBody::Unusable(ErrorItem::missing(loc(["body"]))));
    }
    if !content_type.is_some_and(is_json_media_type) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        return Ok(JsonBody::Unusable(not_an_object(Value::from(text))));
    }
    let bom_len = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let text = std::str::from_utf8(&bytes[bom_len..]).map_err(|_| parse_failure())?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(JsonBody::Object(object)),
        Ok(other) => Ok(JsonBody::Unusable(not_an_object(other))),
        Err(error) if error.to_string().starts_with("recursion limit exceeded") => {
            Err(parse_failure())
        }
        Err(error) => Err(ApiError::invalid(json_invalid(text, &error, bom_len))),
    }
}

fn parse_failure() -> ApiError {
    ApiError::BadRequest("There was an error parsing the body".to_owned())
}

fn not_an_object(input: Value) -> ErrorItem {
    ErrorItem::new(
        "model_attributes_type",
        loc(["body"]),
        "Input should be a valid dictionary or object to extract fields from",
        input,
    )
}

/// The `json_invalid` item, located at the byte offset where the parser stopped.
fn json_invalid(text: &str, error: &serde_json::Error, bom_len: usize) -> ErrorItem {
    // serde_json reports a 1-based line and a 1-based byte column of the offending byte; at the
    // end of the input, parsing stopped at its length.
    let line_start: usize = text
        .split_inclusive('\n')
        .take(error.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let offset = match error.classify() {
        serde_json::error::Category::Eof => bom_len + text.len(),
        _ => bom_len + line_start + error.column().saturating_sub(1),
    };
    let message = error.to_string();
    let reason = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(reason, _)| reason);
    ErrorItem::new(
        "json_invalid",
        vec![Value::from("body"), Value::from(offset)],
        "JSON decode error",
        json!({}),
    )
    .with_ctx(json!({ "error": reason }))
}

/// `application/json` or `application/*+json`, case-insensitive, parameters ignored.
pub fn is_json_media_type(content_type: &str) -> bool {
    let media_type = media_type(content_type);
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

/// The media type of a `Content-Type` value: before `;`, trimmed, lower case.
pub fn media_type(content_type: &str) -> String {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &[u8], content_type: Option<&str>) -> Result<JsonBody, ApiError> {
        check_json_length(Some(body.len() as u64))?;
        read_json(&mut &body[..], content_type)
    }

    fn json_invalid_offset(body: &[u8]) -> Value {
        match read(body, Some("application/json")) {
            Err(ApiError::Unprocessable(items)) => items[0].loc[1].clone(),
            other => panic!("expected json_invalid, got {other:?}"),
        }
    }

    #[test]
    fn json_media_types() {
        for accepted in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json_media_type(accepted), "{accepted}");
        }
        for refused in ["text/plain", "application/jsonx", "text/json", ""] {
            assert!(!is_json_media_type(refused), "{refused}");
        }
    }

    #[test]
    fn body_checks_run_in_contract_order() {
        let missing = read(b"", Some("application/json")).unwrap();
        assert!(matches!(missing, JsonBody::Unusable(item) if item.kind == "missing"));
        let text = read(b"\xff{", Some("text/plain")).unwrap();
        assert!(matches!(text, JsonBody::Unusable(item) if item.kind == "model_attributes_type"));
        assert_eq!(
            read(b"\xff{", Some("application/json")),
            Err(parse_failure())
        );
        let utf16 = b"\xff\xfe{\x00}\x00";
        assert_eq!(read(utf16, Some("application/json")), Err(parse_failure()));
        let array = read(b"[1]", Some("application/json")).unwrap();
        assert!(matches!(array, JsonBody::Unusable(item) if item.kind == "model_attributes_type"));
    }

    #[test]
    fn nesting_limit_is_127_levels() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let at_limit = read(nested(127).as_bytes(), Some("application/json")).unwrap();
        assert!(matches!(at_limit, JsonBody::Unusable(_)));
        let too_deep = read(nested(128).as_bytes(), Some("application/json"));
        assert_eq!(too_deep, Err(parse_failure()));
    }

    #[test]
    fn json_invalid_reports_byte_offsets() {
        assert_eq!(json_invalid_offset(b"{\"title\": 'x'}"), json!(10));
        assert_eq!(json_invalid_offset(b"{\n  \"a\": 1,\n}"), json!(12));
        assert_eq!(json_invalid_offset(b"  "), json!(2));
    }

    #[test]
    fn strictness_rejects_what_python_accepts() {
        for body in [
            &b"{\"done\": NaN}"[..],
            b"{\"x\": Infinity}",
            b"{\"title\": \"\\ud800\"}",
            b"{\"\\udc00\": 1}",
            b"{\"x\": 1e400}",
            b"{\"title\": \"a\",}",
            b"{} x",
        ] {
            let result = read(body, Some("application/json"));
            assert!(
                matches!(&result, Err(ApiError::Unprocessable(items)) if items[0].kind == "json_invalid"),
                "{} gave {result:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn limit_is_inclusive() {
        let mut exact = b"{\"title\":\"".to_vec();
        exact.resize(MAX_JSON_BYTES as usize - 2, b'a');
        exact.extend_from_slice(b"\"}");
        assert!(read(&exact, Some("application/json")).is_ok());
        exact.insert(10, b'a');
        assert!(matches!(
            read(&exact, Some("application/json")),
            Err(ApiError::PayloadTooLarge(_))
        ));
    }
}
