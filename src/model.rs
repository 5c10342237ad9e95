//! The task model and its validation: what a client may send (`NewTask`, `TaskPatch`), what it
//! gets back (`Task`), and the pydantic-compatible rules of CONTRACT.md §5. No HTTP, no locks.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{loc, ErrorItem};

/// Longest title, in Unicode code points (pydantic counts code points, not bytes or graphemes).
pub const MAX_TITLE_CHARS: usize = 100;

/// The message of the priority validator, as the lesson's `sorted(allowed)` prints it.
pub const PRIORITY_MESSAGE: &str = "priority must be one of ['high', 'low', 'medium']";

/// A task's priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// `low`
    Low,
    /// `medium`, the default.
    #[default]
    Medium,
    /// `high`
    High,
}

impl Priority {
    /// Parses the exact, case-sensitive names `low`, `medium`, `high`.
    pub fn from_name(name: &str) -> Option<Priority> {
        match name {
            "low" => Some(Priority::Low),
            "medium" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            _ => None,
        }
    }

    /// Its name, as [`Priority::from_name`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
}

/// What a client sees of an attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentInfo {
    /// The uploaded file's name, path components removed.
    pub filename: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A task as the API returns it; the field order is the JSON key order of the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    /// Server-assigned: 1, 2, 3, ..., never reused.
    pub id: u64,
    /// 1 to 100 code points, unique among tasks.
    pub title: String,
    /// `low`, `medium` or `high`.
    pub priority: Priority,
    /// Whether the task is finished.
    pub done: bool,
    /// The attachment's details, `null` until a file is uploaded.
    pub attachment: Option<AttachmentInfo>,
}

/// A validated create body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    /// The title, verbatim.
    pub title: String,
    /// Defaults to `medium`.
    pub priority: Priority,
    /// Defaults to `false`.
    pub done: bool,
}

/// A validated PATCH body: `None` leaves the field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskPatch {
    /// A new title.
    pub title: Option<String>,
    /// A new priority.
    pub priority: Option<Priority>,
    /// A new done flag.
    pub done: Option<bool>,
}

impl NewTask {
    /// Validates a create body: `title` required, the others defaulted.
    ///
    /// # Errors
    /// The items of CONTRACT §5, in the order `title`, `priority`, `done`.
    pub fn from_json(body: &Map<String, Value>) -> Result<NewTask, Vec<ErrorItem>> {
        let mut errors = Vec::new();
        let title = match body.get("title") {
            None => {
                errors.push(ErrorItem::missing(loc(["body", "title"])));
                None
            }
            Some(value) => collect(validate_title(value), &mut errors),
        };
        let priority = body.get("priority").map(validate_priority);
        let priority = priority.map_or(Some(Priority::default()), |r| collect(r, &mut errors));
        let done = body.get("done").map(validate_done);
        let done = done.map_or(Some(false), |r| collect(r, &mut errors));
        match (title, priority, done) {
            (Some(title), Some(priority), Some(done)) if errors.is_empty() => Ok(NewTask {
                title,
                priority,
                done,
            }),
            _ => Err(errors),
        }
    }
}

impl TaskPatch {
    /// Validates a PATCH body: every field optional; `null` is the field's type error.
    ///
    /// # Errors
    /// The items of CONTRACT §5, in the order `title`, `priority`, `done`.
    pub fn from_json(body: &Map<String, Value>) -> Result<TaskPatch, Vec<ErrorItem>> {
        let mut errors = Vec::new();
        let patch = TaskPatch {
            title: body
                .get("title")
                .and_then(|v| collect(validate_title(v), &mut errors)),
            priority: body
                .get("priority")
                .and_then(|v| collect(validate_priority(v), &mut errors)),
            done: body
                .get("done")
                .and_then(|v| collect(validate_done(v), &mut errors)),
        };
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(errors)
        }
    }
}

fn collect<T>(result: Result<T, ErrorItem>, errors: &mut Vec<ErrorItem>) -> Option<T> {
    result.map_err(|item| errors.push(item)).ok()
}

fn validate_title(value: &Value) -> Result<String, ErrorItem> {
    let here = || loc(["body", "title"]);
    let Some(title) = value.as_str() else {
        return Err(string_type(here(), value));
    };
    let chars = title.chars().count();
    if chars == 0 {
        Err(ErrorItem::new(
            "string_too_short",
            here(),
            "String should have at least 1 character",
            value.clone(),
        )
        .with_ctx(json!({ "min_length": 1 })))
    } else if chars > MAX_TITLE_CHARS {
        Err(ErrorItem::new(
            "string_too_long",
            here(),
            "String should have at most 100 characters",
            value.clone(),
        )
        .with_ctx(json!({ "max_length": MAX_TITLE_CHARS })))
    } else {
        Ok(title.to_owned())
    }
}

fn validate_priority(value: &Value) -> Result<Priority, ErrorItem> {
    let here = || loc(["body", "priority"]);
    let Some(name) = value.as_str() else {
        return Err(string_type(here(), value));
    };
    Priority::from_name(name)
        .ok_or_else(|| ErrorItem::value_error(here(), PRIORITY_MESSAGE, value.clone()))
}

fn string_type(loc: Vec<Value>, input: &Value) -> ErrorItem {
    ErrorItem::new(
        "string_type",
        loc,
        "Input should be a valid string",
        input.clone(),
    )
}

fn validate_done(value: &Value) -> Result<bool, ErrorItem> {
    let here = || loc(["body", "done"]);
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) => parse_lax_bool(text).ok_or_else(|| bool_parsing(here(), value)),
        Value::Number(number) => match number_as_whole_i64(number) {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            Some(_) => Err(bool_parsing(here(), value)),
            None => Err(bool_type(here(), value)),
        },
        Value::Null | Value::Array(_) | Value::Object(_) => Err(bool_type(here(), value)),
    }
}

/// A JSON number as an `i64` when it is a whole number within `i64` (`2.0` is 2); else `None`.
fn number_as_whole_i64(number: &serde_json::Number) -> Option<i64> {
    if let Some(whole) = number.as_i64() {
        return Some(whole);
    }
    if number.is_u64() {
        return None; // above i64::MAX
    }
    let float = number.as_f64()?;
    // i64::MAX is not representable as f64; 2^63 is the first float outside the range.
    let bound = (1u64 << 63) as f64;
    let in_range = (-bound..bound).contains(&float);
    (float.fract() == 0.0 && in_range).then_some(float as i64)
}

/// pydantic's lax string-to-bool table: exact (no trimming), any letter case.
pub fn parse_lax_bool(text: &str) -> Option<bool> {
    const TRUE: [&str; 6] = ["1", "true", "t", "yes", "y", "on"];
    const FALSE: [&str; 6] = ["0", "false", "f", "no", "n", "off"];
    if TRUE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(true)
    } else if FALSE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(false)
    } else {
        None
    }
}

/// `bool_parsing` at `loc`: a value of the right family that does not read as a boolean.
pub fn bool_parsing(loc: Vec<Value>, input: &Value) -> ErrorItem {
    ErrorItem::new(
        "bool_parsing",
        loc,
        "Input should be a valid boolean, unable to interpret input",
        input.clone(),
    )
}

fn bool_type(loc: Vec<Value>, input: &Value) -> ErrorItem {
    ErrorItem::new(
        "bool_type",
        loc,
        "Input should be a valid boolean",
        input.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).expect("test JSON is an object")
    }

    fn kinds(result: Result<NewTask, Vec<ErrorItem>>) -> Vec<(&'static str, Value)> {
        let errors = result.expect_err("expected validation errors");
        errors
            .into_iter()
            .map(|e| (e.kind, e.loc[1].clone()))
            .collect()
    }

    fn done_of(raw: &str) -> Result<bool, &'static str> {
        let body = object(&format!(r#"{{"title":"t","done":{raw}}}"#));
        NewTask::from_json(&body)
            .map(|task| task.done)
            .map_err(|errors| errors[0].kind)
    }

    #[test]
    fn defaults_apply_when_only_title_is_given() {
        let task = NewTask::from_json(&object(r#"{"title":"Buy milk"}"#)).unwrap();
        assert_eq!(task.priority, Priority::Medium);
        assert!(!task.done);
    }

    #[test]
    fn title_length_counts_code_points() {
        let emoji = "😀".repeat(100);
        assert!(NewTask::from_json(&object(&format!(r#"{{"title":"{emoji}"}}"#))).is_ok());
        let combining = "e\u{301}".repeat(51);
        let errors = kinds(NewTask::from_json(&object(&format!(
            r#"{{"title":"{combining}"}}"#
        ))));
        assert_eq!(errors, [("string_too_long", json!("title"))]);
    }

    #[test]
    fn errors_come_in_field_order_whatever_the_body_order() {
        let body = object(r#"{"done":"maybe","priority":"urgent","title":""}"#);
        let errors = kinds(NewTask::from_json(&body));
        assert_eq!(
            errors,
            [
                ("string_too_short", json!("title")),
                ("value_error", json!("priority")),
                ("bool_parsing", json!("done")),
            ]
        );
    }

    #[test]
    fn title_of_wrong_type_is_string_type() {
        for raw in ["1", "true", "null", "[]", "{}"] {
            let body = object(&format!(r#"{{"title":{raw}}}"#));
            assert_eq!(
                kinds(NewTask::from_json(&body))[0].0,
                "string_type",
                "{raw}"
            );
        }
    }

    #[test]
    fn priority_is_case_sensitive_and_untrimmed() {
        for raw in [r#""HIGH""#, r#"" high""#, r#""""#, r#""urgent""#] {
            let body = object(&format!(r#"{{"title":"t","priority":{raw}}}"#));
            assert_eq!(
                kinds(NewTask::from_json(&body))[0].0,
                "value_error",
                "{raw}"
            );
        }
        let body = object(r#"{"title":"t","priority":null}"#);
        assert_eq!(kinds(NewTask::from_json(&body))[0].0, "string_type");
    }

    #[test]
    fn done_follows_the_lax_boolean_table() {
        for (raw, expected) in [
            ("true", Ok(true)),
            ("false", Ok(false)),
            ("0", Ok(false)),
            ("1", Ok(true)),
            ("-0", Ok(false)),
            ("0.0", Ok(false)),
            ("1.0", Ok(true)),
            ("1e0", Ok(true)),
            ("2", Err("bool_parsing")),
            ("-1", Err("bool_parsing")),
            ("2.0", Err("bool_parsing")),
            ("0.5", Err("bool_type")),
            ("1e20", Err("bool_type")),
            ("9223372036854775808", Err("bool_type")),
            (r#""YES""#, Ok(true)),
            (r#""Off""#, Ok(false)),
            (r#""t""#, Ok(true)),
            (r#""n""#, Ok(false)),
            (r#"" true""#, Err("bool_parsing")),
            (r#""1.0""#, Err("bool_parsing")),
            (r#""""#, Err("bool_parsing")),
            ("null", Err("bool_type")),
            ("[]", Err("bool_type")),
            ("{}", Err("bool_type")),
        ] {
            assert_eq!(done_of(raw), expected, "done: {raw}");
        }
    }

    #[test]
    fn patch_fields_are_optional_but_null_is_a_type_error() {
        assert_eq!(
            TaskPatch::from_json(&object("{}")),
            Ok(TaskPatch::default())
        );
        let errors = TaskPatch::from_json(&object(r#"{"done":null,"priority":null,"title":null}"#))
            .unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["string_type", "string_type", "bool_type"]);
    }

    #[test]
    fn missing_title_has_null_input() {
        let errors = NewTask::from_json(&object("{}")).unwrap_err();
        assert_eq!(errors, [ErrorItem::missing(loc(["body", "title"]))]);
    }
}
