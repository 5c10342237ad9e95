//! `json_body`: `taskd::fuzzing::check_json_length` and `read_json`, then `NewTask::from_json` / `TaskPatch::from_json`,
//! combined the way the handlers combine them (a bad path id's item first, CONTRACT §4).
//!
//! Input: one byte choosing the request `Content-Type` from [`CONTENT_TYPES`], then the body.
//! Oracles:
//! - nothing panics; every error is a 400, 413 or 422 (never a 500: the reader cannot fail);
//!   a 413 only for a body or declared length over 1 MiB, a 400 only for a JSON media type;
//! - a known `Content-Length` and a chunked body (no length) give the same answer, and a
//!   declared length over 1 MiB is a 413 before anything is read;
//! - a leading UTF-8 BOM changes nothing but the `json_invalid` offset, which moves by 3;
//! - every error serializes to the contract's JSON shape; each 422 item has a known `type`, a
//!   `loc` under `body` (or `path` for the id) and a `json_invalid` offset within the body;
//! - `NewTask` and `TaskPatch` agree: the same items in the same order, plus `missing` title
//!   for a create without one; an accepted create is an accepted patch with the same values.

use serde_json::{json, Map, Value};
use taskd::fuzzing::ApiError;
use taskd::fuzzing::{
    check_json_length, is_json_media_type, read_json, validate_body, JsonBody, Reply, Validator,
    MAX_JSON_BYTES,
};
use taskd::fuzzing::{loc, ErrorItem};
use taskd::fuzzing::{NewTask, Priority, TaskPatch, MAX_TITLE_CHARS};

/// The request `Content-Type` choices, picked by the first input byte.
pub const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    None,
    Some("application/json; charset=utf-8"),
    Some("APPLICATION/Json ;charset=utf-16"),
    Some("application/merge-patch+json"),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some(""),
    Some("application/jsonx"),
    Some(" application/json "),
];

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The 422 item kinds a JSON body can produce (CONTRACT §1, §4, §5).
const KINDS: &[&str] = &[
    "missing",
    "model_attributes_type",
    "json_invalid",
    "string_type",
    "string_too_short",
    "string_too_long",
    "value_error",
    "bool_type",
    "bool_parsing",
    "int_parsing",
];

/// What `handlers::read_validated` does before validation: the declared length, then the body.
fn read(
    body: &[u8],
    content_type: Option<&str>,
    declared: Option<u64>,
) -> Result<JsonBody, ApiError> {
    check_json_length(declared)?;
    let mut reader = body;
    read_json(&mut reader, content_type)
}

/// Runs every JSON body oracle on one input.
pub fn check(data: &[u8]) {
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(choice) % CONTENT_TYPES.len()];
    let is_json = content_type.is_some_and(is_json_media_type);

    let sized = read(body, content_type, Some(body.len() as u64));
    let chunked = read(body, content_type, None);
    assert_eq!(sized, chunked, "Content-Length vs chunked");
    let declared_over = read(body, content_type, Some(MAX_JSON_BYTES + 1));
    assert!(
        matches!(&declared_over, Err(ApiError::PayloadTooLarge(_))),
        "declared length over the limit: {declared_over:?}"
    );

    match &sized {
        Ok(JsonBody::Object(_)) => assert!(is_json, "an object from a non-JSON type"),
        Ok(JsonBody::Unusable(item)) => check_item(item, body.len()),
        Err(error) => {
            check_error(error, body.len());
            match error.status() {
                413 => assert!(
                    body.len() as u64 > MAX_JSON_BYTES,
                    "413 for {} bytes",
                    body.len()
                ),
                400 => assert!(is_json, "400 for a non-JSON type"),
                _ => {}
            }
        }
    }

    if is_json && !body.is_empty() && !body.starts_with(BOM) {
        check_bom(body, content_type, &sized);
    }

    let bad_id = ErrorItem::int_parsing(loc(["path", "task_id"]), "abc");
    for id_item in [None, Some(bad_id)] {
        let create = validated(&sized, id_item.clone(), NewTask::from_json);
        let patch = validated(&sized, id_item.clone(), TaskPatch::from_json);
        for error in [create.as_ref().err(), patch.as_ref().err()]
            .into_iter()
            .flatten()
        {
            check_error(error, body.len());
            // Steps 1, 4, 5, 6 answer alone; every other 422 starts with the id's item.
            if let (Some(_), Ok(_), ApiError::Unprocessable(items)) = (&id_item, &sized, error) {
                assert_eq!(items[0].loc[0], json!("path"), "the id's item comes first");
            }
        }
        if let Ok(task) = &create {
            let chars = task.title.chars().count();
            assert!(
                (1..=MAX_TITLE_CHARS).contains(&chars),
                "title of {chars} chars"
            );
        }
    }
    if let Ok(JsonBody::Object(object)) = &sized {
        check_create_vs_patch(object);
    }
}

/// What `handlers::read_validated` does with a body and a path id's item.
fn validated<T>(
    body: &Result<JsonBody, ApiError>,
    id_item: Option<ErrorItem>,
    validate: Validator<T>,
) -> Result<T, ApiError> {
    validate_body(body.clone()?, id_item, validate)
}

fn check_error(error: &ApiError, body_len: usize) {
    let status = error.status();
    assert!(
        matches!(status, 400 | 413 | 422),
        "a JSON body may only give 400, 413 or 422, got {error:?}"
    );
    match error {
        ApiError::BadRequest(detail) => assert_eq!(detail, "There was an error parsing the body"),
        ApiError::PayloadTooLarge(detail) => {
            assert_eq!(detail, "Request body too large (limit 1048576 bytes)");
        }
        ApiError::Unprocessable(items) => {
            assert!(!items.is_empty(), "a 422 without items");
            for item in items {
                check_item(item, body_len);
            }
        }
        _ => {}
    }
    let wire: Value = serde_json::from_slice(&error.to_json()).expect("error bodies are JSON");
    let detail = &wire["detail"];
    assert!(detail.is_string() || detail.as_array().is_some_and(|items| !items.is_empty()));
    assert_eq!(Reply::from(error.clone()).status, status);
}

fn check_item(item: &ErrorItem, body_len: usize) {
    assert!(
        KINDS.contains(&item.kind),
        "unexpected item type {:?}",
        item.kind
    );
    assert!(!item.msg.is_empty());
    match item.loc.first().and_then(Value::as_str) {
        Some("body") => {}
        Some("path") => assert_eq!(item.loc, [json!("path"), json!("task_id")]),
        _ => panic!("bad loc {:?}", item.loc),
    }
    if item.kind == "json_invalid" {
        let offset = item.loc.get(1).and_then(Value::as_u64);
        assert!(
            item.loc.len() == 2 && offset.is_some_and(|at| at <= body_len as u64),
            "json_invalid loc {:?} for a body of {body_len} bytes",
            item.loc
        );
        assert!(item
            .ctx
            .as_deref()
            .is_some_and(|ctx| ctx["error"].is_string()));
    }
    let serialized = serde_json::to_value(item).expect("items serialize");
    assert_eq!(serialized["type"], json!(item.kind));
}

/// Offsets of `json_invalid` items moved by `shift`.
fn shifted(result: &Result<JsonBody, ApiError>, shift: u64) -> Result<JsonBody, ApiError> {
    let mut result = result.clone();
    if let Err(ApiError::Unprocessable(items)) = &mut result {
        for item in items.iter_mut().filter(|item| item.kind == "json_invalid") {
            let offset = item.loc[1].as_u64().expect("offset") + shift;
            item.loc[1] = json!(offset);
        }
    }
    result
}

fn check_bom(body: &[u8], content_type: Option<&str>, plain: &Result<JsonBody, ApiError>) {
    let with_bom = [BOM, body].concat();
    let result = read(&with_bom, content_type, Some(with_bom.len() as u64));
    assert_eq!(
        result,
        shifted(plain, BOM.len() as u64),
        "with a leading BOM"
    );
}

fn check_create_vs_patch(object: &Map<String, Value>) {
    let create = NewTask::from_json(object);
    let patch = TaskPatch::from_json(object);
    let missing_title = || ErrorItem::missing(loc(["body", "title"]));
    match (&create, &patch) {
        (Ok(task), Ok(patch)) => {
            assert_eq!(patch.title.as_ref(), Some(&task.title));
            assert_eq!(patch.priority.unwrap_or(Priority::Medium), task.priority);
            assert_eq!(patch.done.unwrap_or(false), task.done);
        }
        (Err(items), Ok(patch)) => {
            assert!(patch.title.is_none() && !object.contains_key("title"));
            assert_eq!(items, &[missing_title()], "create vs patch");
        }
        (Ok(_), Err(items)) => panic!("a valid create is an invalid patch: {items:?}"),
        (Err(create_items), Err(patch_items)) => {
            let mut expected = Vec::new();
            if !object.contains_key("title") {
                expected.push(missing_title());
            }
            expected.extend(patch_items.iter().cloned());
            assert_eq!(create_items, &expected, "create vs patch items");
        }
    }
}
