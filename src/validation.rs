//! `ErrorItem`, one 422 validation problem (CONTRACT.md §1: `{"type", "loc", "msg", "input"}`
//! plus `"ctx"`), and `loc`, the path that names where it is. Validation (model, router, query
//! and upload parsing) produces them; `error::ApiError::Unprocessable` only carries them to the
//! wire. They live here, apart from the HTTP mapper, so that the model need not import the
//! error module, which imports the storage, which imports the model.

use serde::Serialize;
use serde_json::{json, Value};

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
