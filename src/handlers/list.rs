//! `GET /tasks`: the query (CONTRACT §7), the page, and its navigation and validator (§11):
//! `X-Total-Count`, RFC 8288 `Link`, and an `ETag` that covers the body and both fields.

use http1::Request;
use serde_json::{json, Value};

use super::conditional::{check_read, undated, Fields};
use super::{App, DEFAULT_LIMIT, MAX_LIMIT};
use crate::error::ApiError;
use crate::message::Reply;
use crate::model::{bool_parsing, parse_lax_bool, Priority, PRIORITY_MESSAGE};
use crate::validation::{loc, ErrorItem};
use crate::validators::{EntityTag, ListQuery};

/// `GET /tasks`: filters, then `skip`, then `limit`; the total before `skip` and `limit` comes
/// from counters, so it costs the same for any page (O(1)).
///
/// # Errors
/// 422 with one item per bad query parameter; 412 for a false `If-Match`.
pub fn list_tasks(app: &App, request: &Request<'_>, query: &str) -> Result<Reply, ApiError> {
    let query = parse_list_query(query)?;
    let page = app.storage.list(&query)?;
    let body = serde_json::to_vec(&page.tasks).expect("tasks always serialize");
    let link = query.link(page.total);
    let tag = EntityTag::for_list_page(&body, page.total, &link);
    let fields = Fields::read(request);
    if let Some(not_modified) = check_read(request.method(), undated(&tag), &fields)? {
        return Ok(not_modified);
    }
    Ok(Reply::json_bytes(200, body)
        .with_header("X-Total-Count", page.total.to_string())
        .with_header("Link", link)
        .with_validator(&tag))
}

/// Parses the list's query: form-encoded, unknown names ignored, the last repeat wins.
fn parse_list_query(query: &str) -> Result<ListQuery, ApiError> {
    let (mut done, mut priority, mut skip, mut limit) = (None, None, None, None);
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "done" => done = Some(value.into_owned()),
            "priority" => priority = Some(value.into_owned()),
            "skip" => skip = Some(value.into_owned()),
            "limit" => limit = Some(value.into_owned()),
            _ => {}
        }
    }
    let mut items = Vec::new();
    let mut query = ListQuery {
        done: None,
        priority: None,
        skip: 0,
        limit: DEFAULT_LIMIT,
    };
    if let Some(text) = done {
        query.done = parse_lax_bool(&text);
        if query.done.is_none() {
            items.push(bool_parsing(loc(["query", "done"]), &Value::from(text)));
        }
    }
    if let Some(text) = priority {
        query.priority = Priority::from_name(&text);
        if query.priority.is_none() {
            let here = loc(["query", "priority"]);
            items.push(ErrorItem::value_error(
                here,
                PRIORITY_MESSAGE,
                Value::from(text),
            ));
        }
    }
    if let Some(text) = skip {
        match parse_bounded("skip", &text, None) {
            Ok(value) => query.skip = value,
            Err(item) => items.push(item),
        }
    }
    if let Some(text) = limit {
        match parse_bounded("limit", &text, Some(MAX_LIMIT)) {
            Ok(value) => query.limit = value,
            Err(item) => items.push(item),
        }
    }
    if items.is_empty() {
        Ok(query)
    } else {
        Err(ApiError::Unprocessable(items))
    }
}

/// A query integer `>= 0` and `<= max`: an optional sign and ASCII digits; huge values saturate.
fn parse_bounded(name: &'static str, text: &str, max: Option<u64>) -> Result<u64, ErrorItem> {
    let here = || loc(["query", name]);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorItem::int_parsing(here(), text));
    }
    let significant = digits.trim_start_matches('0');
    if negative && !significant.is_empty() {
        let msg = "Input should be greater than or equal to 0";
        let item = ErrorItem::new("greater_than_equal", here(), msg, Value::from(text));
        return Err(item.with_ctx(json!({ "ge": 0 })));
    }
    let value = significant
        .parse::<u64>()
        .unwrap_or(if significant.is_empty() { 0 } else { u64::MAX });
    match max {
        Some(max) if value > max => {
            let msg = format!("Input should be less than or equal to {max}");
            let item = ErrorItem::new("less_than_equal", here(), &msg, Value::from(text));
            Err(item.with_ctx(json!({ "le": max })))
        }
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(query: &str) -> Vec<&'static str> {
        match parse_list_query(query) {
            Err(ApiError::Unprocessable(items)) => items.iter().map(|i| i.kind).collect(),
            other => panic!("expected 422 for {query}, got {other:?}"),
        }
    }

    #[test]
    fn list_query_defaults() {
        let query = parse_list_query("").unwrap();
        assert_eq!(
            (query.skip, query.limit, query.done),
            (0, DEFAULT_LIMIT, None)
        );
    }

    #[test]
    fn list_query_errors_come_in_parameter_order() {
        assert_eq!(
            kinds("limit=1001&skip=-1&priority=HIGH&done=maybe"),
            [
                "bool_parsing",
                "value_error",
                "greater_than_equal",
                "less_than_equal"
            ]
        );
    }

    #[test]
    fn list_query_last_repeat_wins_and_unknowns_are_ignored() {
        let query = parse_list_query("done=maybe&done=Off&color=red&limit=5&limit=%2B7").unwrap();
        assert_eq!((query.done, query.limit), (Some(false), 7));
    }

    #[test]
    fn huge_skip_saturates_and_huge_limit_is_too_large() {
        let query = parse_list_query("skip=99999999999999999999999").unwrap();
        assert_eq!(query.skip, u64::MAX);
        assert_eq!(kinds("limit=99999999999999999999999"), ["less_than_equal"]);
        assert_eq!(kinds("skip=1.0&limit=abc"), ["int_parsing", "int_parsing"]);
        assert_eq!(parse_list_query("skip=-0").unwrap().skip, 0);
    }
}
