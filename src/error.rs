//! `ApiError`, the one place where an outcome becomes an HTTP status, and the JSON error bodies
//! of CONTRACT.md §1: `{"detail": "<text>"}`, or for 422 `{"detail": [item, ...]}`.

use std::fmt;

use http1::Refusal;
use serde::Serialize;

use crate::storage::StorageError;
use crate::validation::ErrorItem;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validation::loc;

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
