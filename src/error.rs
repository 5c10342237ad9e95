//! `ApiError`, the one place where an outcome becomes an HTTP status, and the JSON error bodies
//! of CONTRACT.md §1: `{"detail": "<text>"}`, or for 422 `{"detail": [item, ...]}`.

use std::fmt;

use http1::Refusal;
use serde::Serialize;
use serde_json::{json, Value};

use crate::storage::StorageError;

/// Every way a request can fail. `status()` is the status-code mapper.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 400: the body could not be read as what the route needs (bad encoding, bad multipart,
    /// a disallowed upload type). The text is the contract's `detail`.
    BadRequest(String),
    /// 401: a bearer token is configured and the request lacks it.
    Unauthorized,
    /// 403: a CORS preflight refused (CONTRACT §12); the text says which check failed.
    Forbidden(String),
    /// 404: the text is the contract's `detail` (`Not Found`, `Task 7 not found`, ...).
    NotFound(String),
    /// 405: RFC 9110 §15.5.6 — the response MUST carry `Allow`, listing every supported method.
    MethodNotAllowed {
        /// The route's `Allow` value from CONTRACT.md §2.
        allow: &'static str,
    },
    /// 409: the request clashes with the current state (a duplicate title).
    Conflict(String),
    /// 412: a precondition (`If-Match`, `If-Unmodified-Since`, or `If-None-Match` on a method
    /// other than GET and HEAD) is false; nothing was changed (RFC 9110 §13.2.2, §15.5.13).
    PreconditionFailed,
    /// 416: no range of a `Range` field is satisfiable; carries `Content-Range: bytes */size`
    /// (RFC 9110 §15.5.17).
    RangeNotSatisfiable {
        /// The attachment's length.
        size: u64,
    },
    /// 413: a body or file over its limit; the text names the limit.
    PayloadTooLarge(String),
    /// 422: validation problems, in the order the contract lists them.
    Unprocessable(Vec<ErrorItem>),
    /// 500: something went wrong on our side. The reason goes to stderr, never to the client.
    Internal(String),
    /// 408: the head, or the body, came too slowly (`--request-timeout`, `--io-timeout`).
    RequestTimeout,
    /// 414: the request line is over 8 KiB.
    UriTooLong,
    /// 417: an `Expect` other than `100-continue` (RFC 9110 §10.1.1).
    ExpectationFailed,
    /// 431: the header section is over 64 KiB or 100 field lines.
    HeaderFieldsTooLarge,
    /// 501: a transfer coding taskd cannot decode (RFC 9112 §6.1).
    NotImplemented,
    /// 503: the connection cap is reached and no connection is idle; carries `Retry-After`.
    ServiceUnavailable,
    /// 503 `Database unavailable` with `Retry-After` (CONTRACT §14): the storage backend cannot
    /// be reached now. The reason goes to stderr, never to the client.
    StorageUnavailable(String),
    /// 505: a major protocol version other than 1 (RFC 9110 §2.5).
    VersionNotSupported,
}

impl ApiError {
    /// 404 `Not Found` for a path that matches no route.
    pub fn no_route() -> ApiError {
        ApiError::NotFound("Not Found".to_owned())
    }

    /// A 422 with a single item.
    pub fn invalid(item: ErrorItem) -> ApiError {
        ApiError::Unprocessable(vec![item])
    }

    /// The status code for this error: the single status-code mapper.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Conflict(_) => 409,
            ApiError::PreconditionFailed => 412,
            ApiError::RangeNotSatisfiable { .. } => 416,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::Unprocessable(_) => 422,
            ApiError::Internal(_) => 500,
            ApiError::RequestTimeout => 408,
            ApiError::UriTooLong => 414,
            ApiError::ExpectationFailed => 417,
            ApiError::HeaderFieldsTooLarge => 431,
            ApiError::NotImplemented => 501,
            ApiError::ServiceUnavailable | ApiError::StorageUnavailable(_) => 503,
            ApiError::VersionNotSupported => 505,
        }
    }

    /// The JSON body the contract gives this error.
    pub fn to_json(&self) -> Vec<u8> {
        /// Serialized straight from the items so their keys keep the contract's order.
        #[derive(Serialize)]
        struct Detail<'a, T: Serialize + ?Sized> {
            detail: &'a T,
        }
        let text = match self {
            ApiError::BadRequest(text)
            | ApiError::Forbidden(text)
            | ApiError::NotFound(text)
            | ApiError::Conflict(text)
            | ApiError::PayloadTooLarge(text) => text.as_str(),
            ApiError::Unauthorized => "Not authenticated",
            ApiError::MethodNotAllowed { .. } => "Method Not Allowed",
            ApiError::Internal(_) => "Internal Server Error",
            ApiError::StorageUnavailable(_) => "Database unavailable",
            // CONTRACT §1: errors without a text of their own say their reason phrase.
            ApiError::RequestTimeout
            | ApiError::PreconditionFailed
            | ApiError::RangeNotSatisfiable { .. }
            | ApiError::UriTooLong
            | ApiError::ExpectationFailed
            | ApiError::HeaderFieldsTooLarge
            | ApiError::NotImplemented
            | ApiError::ServiceUnavailable
            | ApiError::VersionNotSupported => http1::reason_phrase(self.status()),
            ApiError::Unprocessable(items) => {
                return serde_json::to_vec(&Detail {
                    detail: items.as_slice(),
                })
                .expect("error items always serialize");
            }
        };
        serde_json::to_vec(&Detail { detail: text }).expect("a string always serializes")
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Internal(reason) => write!(f, "500 Internal Server Error: {reason}"),
            ApiError::StorageUnavailable(reason) => {
                write!(f, "503 Service Unavailable: storage unavailable: {reason}")
            }
            other => write!(
                f,
                "{} {}",
                other.status(),
                String::from_utf8_lossy(&other.to_json())
            ),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::BadRequest => ApiError::BadRequest("Bad Request".to_owned()),
            Refusal::RequestTimeout => ApiError::RequestTimeout,
            Refusal::UriTooLong => ApiError::UriTooLong,
            Refusal::FieldsTooLarge => ApiError::HeaderFieldsTooLarge,
            Refusal::ExpectationFailed => ApiError::ExpectationFailed,
            Refusal::NotImplemented => ApiError::NotImplemented,
            Refusal::ServiceUnavailable => ApiError::ServiceUnavailable,
            Refusal::VersionNotSupported => ApiError::VersionNotSupported,
        }
    }
}

/// The one place a storage outcome becomes an HTTP status (CONTRACT §8, §9, §11, §14).
impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> ApiError {
        match error {
            StorageError::NotFound { id } => ApiError::NotFound(format!("Task {id} not found")),
            StorageError::NoAttachment { id } => {
                ApiError::NotFound(format!("Task {id} has no attachment"))
            }
            StorageError::TitleTaken => {
                ApiError::Conflict("A task with that title already exists".to_owned())
            }
            StorageError::PreconditionFailed => ApiError::PreconditionFailed,
            StorageError::Unavailable(reason) => ApiError::StorageUnavailable(reason),
            StorageError::Internal(reason) => ApiError::Internal(reason),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(err: std::io::Error) -> ApiError {
        ApiError::Internal(format!("I/O error: {err}"))
    }
}

/// One pydantic-style validation problem: `{"type", "loc", "msg", "input"}` plus `"ctx"`.
///
/// Clients rely on `type` and `loc`, so both are fixed by the contract's tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorItem {
    /// The machine-readable kind, e.g. `missing`, `string_too_long`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where the problem is: `["body", "title"]`, `["path", "task_id"]`, `["body", 17]`.
    pub loc: Vec<Value>,
    /// The human-readable message from the contract's table.
    pub msg: String,
    /// The offending value, `null` when absent.
    pub input: Value,
    /// Extra facts for some kinds (`{"max_length": 100}`); boxed because it is rare and an
    /// item travels inside `Result`s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Box<Value>>,
}

impl ErrorItem {
    /// An item without `ctx`.
    pub fn new(kind: &'static str, loc: Vec<Value>, msg: &str, input: Value) -> ErrorItem {
        ErrorItem {
            kind,
            loc,
            msg: msg.to_owned(),
            input,
            ctx: None,
        }
    }

    /// Adds the `ctx` object.
    pub fn with_ctx(mut self, ctx: Value) -> ErrorItem {
        self.ctx = Some(Box::new(ctx));
        self
    }

    /// `missing` / `Field required` at `loc`, input `null`.
    pub fn missing(loc: Vec<Value>) -> ErrorItem {
        ErrorItem::new("missing", loc, "Field required", Value::Null)
    }

    /// `value_error` with pydantic's `Value error, ` prefix and an empty `error` context.
    pub fn value_error(loc: Vec<Value>, message: &str, input: Value) -> ErrorItem {
        ErrorItem::new(
            "value_error",
            loc,
            &format!("Value error, {message}"),
            input,
        )
        .with_ctx(json!({ "error": {} }))
    }

    /// `int_parsing` for a path or query value that is not an optionally signed integer.
    pub fn int_parsing(loc: Vec<Value>, input: &str) -> ErrorItem {
        ErrorItem::new(
            "int_parsing",
            loc,
            "Input should be a valid integer, unable to parse string as an integer",
            Value::from(input),
        )
    }
}

/// Builds a `loc` from its parts: `loc(["body", "title"])`.
pub fn loc<const N: usize>(parts: [&str; N]) -> Vec<Value> {
    parts.iter().map(|part| Value::from(*part)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_its_status() {
        let cases = [
            (ApiError::BadRequest("x".into()), 400),
            (ApiError::Unauthorized, 401),
            (ApiError::Forbidden("x".into()), 403),
            (ApiError::no_route(), 404),
            (ApiError::MethodNotAllowed { allow: "GET" }, 405),
            (ApiError::Conflict("x".into()), 409),
            (ApiError::PreconditionFailed, 412),
            (ApiError::RangeNotSatisfiable { size: 3 }, 416),
            (ApiError::PayloadTooLarge("x".into()), 413),
            (ApiError::Unprocessable(vec![]), 422),
            (ApiError::Internal("disk on fire".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(error.status(), status, "{error:?}");
        }
    }

    #[test]
    fn internal_error_body_reveals_nothing() {
        let body = ApiError::Internal("secret path /var/x".into()).to_json();
        assert_eq!(body, br#"{"detail":"Internal Server Error"}"#);
    }

    /// CONTRACT §1: errors without a text of their own say their reason phrase.
    #[test]
    fn validator_errors_say_their_reason_phrase() {
        assert_eq!(
            ApiError::PreconditionFailed.to_json(),
            br#"{"detail":"Precondition Failed"}"#
        );
        assert_eq!(
            ApiError::RangeNotSatisfiable { size: 3 }.to_json(),
            br#"{"detail":"Range Not Satisfiable"}"#
        );
    }

    #[test]
    fn item_keys_come_in_contract_order() {
        let item = ErrorItem::new("string_too_short", loc(["body", "title"]), "m", json!(""))
            .with_ctx(json!({"min_length": 1}));
        let text = String::from_utf8(ApiError::invalid(item).to_json()).unwrap();
        assert_eq!(
            text,
            r#"{"detail":[{"type":"string_too_short","loc":["body","title"],"msg":"m","input":"","ctx":{"min_length":1}}]}"#
        );
    }
}
