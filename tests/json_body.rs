//! Reading JSON bodies (CONTRACT §4): the size limit, empty bodies, `Content-Type`, encodings,
//! nesting depth, strict JSON, non-object values, duplicate and unknown keys — through
//! `POST /tasks`, and through `PATCH /tasks/{task_id}` where its path id joins the 422.

use crate::common;
use common::*;

use std::net::SocketAddr;

use serde_json::{json, Value};

/// The JSON body limit: 1 MiB.
const LIMIT: usize = 1_048_576;
const TOO_LARGE: &str = "Request body too large (limit 1048576 bytes)";
const PARSE_ERROR: &str = "There was an error parsing the body";
const NOT_AN_OBJECT: &str = "Input should be a valid dictionary or object to extract fields from";

/// `{"title":"<title>"}` padded with trailing spaces to exactly `len` bytes.
fn padded_body(title: &str, len: usize) -> Vec<u8> {
    let mut body = json!({ "title": title }).to_string().into_bytes();
    assert!(body.len() <= len);
    body.resize(len, b' ');
    body
}

/// A complete JSON request with `Content-Length`, sent by `send_raw`.
fn send_sized(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> Response {
    let length = format!("Content-Length: {}", body.len());
    let lines = ["Content-Type: application/json", length.as_str()];
    let bytes = [request_head(addr, method, target, &lines), body.to_vec()].concat();
    send_raw(addr, &bytes)
}

/// A `Transfer-Encoding: chunked` JSON request with `body` in 64 KiB chunks, sent by `send_raw`.
fn send_chunked(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> Response {
    let lines = [
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
    ];
    let head = request_head(addr, method, target, &lines);
    send_raw(addr, &[head, chunked(body, 64 * 1024)].concat())
}

/// POST /tasks with this exact `Content-Type` (or none) and body.
fn post_typed(addr: SocketAddr, content_type: Option<&str>, body: &[u8]) -> Response {
    let headers: Vec<(&str, &str)> = content_type
        .map(|t| ("Content-Type", t))
        .into_iter()
        .collect();
    request(addr, "POST", "/tasks", &headers, body)
}

/// PATCH `target` with this exact `Content-Type` (or none) and body.
fn patch_typed(
    addr: SocketAddr,
    target: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Response {
    let headers: Vec<(&str, &str)> = content_type
        .map(|t| ("Content-Type", t))
        .into_iter()
        .collect();
    request(addr, "PATCH", target, &headers, body)
}

fn post_bytes(addr: SocketAddr, body: &[u8]) -> Response {
    post_typed(addr, Some("application/json"), body)
}

fn missing_body() -> Value {
    json!({"type": "missing", "loc": ["body"], "msg": "Field required", "input": null})
}

fn not_an_object(input: Value) -> Value {
    json!({"type": "model_attributes_type", "loc": ["body"], "msg": NOT_AN_OBJECT, "input": input})
}

/// Asserts a 422 whose only item is `json_invalid` at `["body", <offset within the body>]`.
fn assert_json_invalid(response: &Response, body: &[u8]) {
    assert_eq!(
        response.status,
        422,
        "{:?} gave {}",
        String::from_utf8_lossy(body),
        response.text()
    );
    let detail = response.detail();
    let items = detail.as_array().expect("422 detail is an array");
    assert_eq!(items.len(), 1, "{detail}");
    let item = items[0].as_object().expect("item is an object");
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["ctx", "input", "loc", "msg", "type"], "{detail}");
    assert_eq!(item["type"], "json_invalid");
    assert_eq!(item["msg"], "JSON decode error");
    assert_eq!(item["input"], json!({}));
    let loc = item["loc"].as_array().expect("loc is an array");
    assert_eq!(loc.len(), 2, "{detail}");
    assert_eq!(loc[0], "body");
    let offset = loc[1]
        .as_u64()
        .expect("the offset is a non-negative integer");
    assert!(
        offset as usize <= body.len(),
        "offset {offset} past the body"
    );
    let ctx = item["ctx"].as_object().expect("ctx is an object");
    assert_eq!(ctx.len(), 1, "{detail}");
    assert!(ctx["error"].is_string(), "ctx.error is a string: {detail}");
}

fn assert_no_tasks(addr: SocketAddr) {
    let list = get(addr, "/tasks");
    assert_eq!(list.status, 200);
    assert_eq!(list.json(), json!([]));
}

// ---- Step 1: the size limit -------------------------------------------------------------------

#[test]
fn body_over_limit_by_content_length_is_413() {
    let server = spawn_server();
    let response = send_sized(
        server.addr(),
        "POST",
        "/tasks",
        &padded_body("big", LIMIT + 1),
    );
    assert_error(&response, 413, TOO_LARGE);
}

/// The declared length alone decides: the 413 comes before a byte of the body is sent.
#[test]
fn declared_length_over_limit_is_413_before_the_body_is_sent() {
    let server = spawn_server();
    let head = format!(
        "POST /tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        LIMIT + 1
    );
    let response = send_raw(server.addr(), head.as_bytes());
    assert_error(&response, 413, TOO_LARGE);
}

/// A huge declared length is refused, not allocated or drained. It aborted the tiny_http server
/// (tiny-http #290: the unread body was drained into a buffer of the declared length).
#[test]
fn huge_declared_length_is_413() {
    let server = spawn_server();
    let head = "POST /tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n";
    let response = send_raw(server.addr(), head.as_bytes());
    assert_error(&response, 413, TOO_LARGE);
    assert_eq!(response.header("Connection"), Some("close"));
    assert_eq!(get(server.addr(), "/healthz").status, 200);
}

#[test]
fn chunked_body_over_limit_is_413() {
    let server = spawn_server();
    let response = send_chunked(
        server.addr(),
        "POST",
        "/tasks",
        &padded_body("big", LIMIT + 1),
    );
    assert_error(&response, 413, TOO_LARGE);
}

#[test]
fn body_of_exactly_one_mib_is_accepted() {
    let server = spawn_server();
    let response = send_sized(server.addr(), "POST", "/tasks", &padded_body("big", LIMIT));
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], "big");
}

#[test]
fn chunked_body_of_exactly_one_mib_is_accepted() {
    let server = spawn_server();
    let response = send_chunked(server.addr(), "POST", "/tasks", &padded_body("big", LIMIT));
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], "big");
}

#[test]
fn rejected_oversize_body_creates_nothing() {
    let server = spawn_server();
    let response = send_sized(
        server.addr(),
        "POST",
        "/tasks",
        &padded_body("big", LIMIT + 1),
    );
    assert_eq!(response.status, 413);
    assert_no_tasks(server.addr());
    assert_eq!(create_task(server.addr(), "next"), 1);
}

/// Step 1 comes before step 3: an oversize body is a 413 whatever its type.
#[test]
fn oversize_non_json_body_is_413() {
    let server = spawn_server();
    let mut bytes = format!(
        "POST /tasks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        LIMIT + 1
    )
    .into_bytes();
    bytes.resize(bytes.len() + LIMIT + 1, b'a');
    let response = send_raw(server.addr(), &bytes);
    assert_error(&response, 413, TOO_LARGE);
}

#[test]
fn patch_body_over_limit_is_413() {
    let server = spawn_server();
    let id = create_task(server.addr(), "a");
    let response = send_sized(
        server.addr(),
        "PATCH",
        &format!("/tasks/{id}"),
        &padded_body("b", LIMIT + 1),
    );
    assert_error(&response, 413, TOO_LARGE);
    assert_eq!(get(server.addr(), "/tasks/1").json()["title"], "a");
}

#[test]
fn patch_with_bad_id_and_oversize_body_is_413_alone() {
    let server = spawn_server();
    let response = send_sized(
        server.addr(),
        "PATCH",
        "/tasks/abc",
        &padded_body("b", LIMIT + 1),
    );
    assert_error(&response, 413, TOO_LARGE);
}

// ---- Step 2: empty body -----------------------------------------------------------------------

#[test]
fn empty_body_with_json_type_is_missing_body() {
    let server = spawn_server();
    let response = post_bytes(server.addr(), b"");
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([missing_body()]));
}

#[test]
fn empty_body_without_content_type_is_missing_body() {
    let server = spawn_server();
    let response = post_typed(server.addr(), None, b"");
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([missing_body()]));
}

/// Step 2 comes before step 3.
#[test]
fn empty_body_with_text_type_is_missing_body() {
    let server = spawn_server();
    let response = post_typed(server.addr(), Some("text/plain"), b"");
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([missing_body()]));
}

#[test]
fn empty_chunked_body_is_missing_body() {
    let server = spawn_server();
    let response = send_chunked(server.addr(), "POST", "/tasks", b"");
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([missing_body()]));
}

// ---- Step 3: Content-Type ---------------------------------------------------------------------

#[test]
fn text_plain_body_is_model_attributes_type_with_the_body_as_input() {
    let server = spawn_server();
    let body = r#"{"title": "x"}"#;
    let response = post_typed(server.addr(), Some("text/plain"), body.as_bytes());
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([not_an_object(json!(body))]));
    assert_no_tasks(server.addr());
}

#[test]
fn body_without_content_type_is_model_attributes_type_not_415() {
    let server = spawn_server();
    let body = r#"{"title": "x"}"#;
    let response = post_typed(server.addr(), None, body.as_bytes());
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([not_an_object(json!(body))]));
}

#[test]
fn form_urlencoded_body_is_model_attributes_type() {
    let server = spawn_server();
    let response = post_typed(
        server.addr(),
        Some("application/x-www-form-urlencoded"),
        b"title=x",
    );
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([not_an_object(json!("title=x"))]));
}

/// Only `application/json` and `application/*+json` are JSON; `text/json` is not.
#[test]
fn text_json_type_is_not_json() {
    let server = spawn_server();
    let body = r#"{"title":"x"}"#;
    let response = post_typed(server.addr(), Some("text/json"), body.as_bytes());
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([not_an_object(json!(body))]));
}

/// Step 3 comes before step 4: a body that is not declared JSON is never decoded.
#[test]
fn non_utf8_body_with_text_type_is_model_attributes_type() {
    let server = spawn_server();
    let response = post_typed(server.addr(), Some("text/plain"), b"\xff\xfe{}");
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(
        response.items(),
        [("model_attributes_type".to_owned(), json!(["body"]))]
    );
}

#[test]
fn merge_patch_json_type_is_accepted() {
    let server = spawn_server();
    let response = post_typed(
        server.addr(),
        Some("application/merge-patch+json"),
        br#"{"title":"x"}"#,
    );
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], "x");
}

#[test]
fn vendor_plus_json_type_is_accepted() {
    let server = spawn_server();
    let response = post_typed(
        server.addr(),
        Some("application/vnd.example+json; version=2"),
        br#"{"title":"x"}"#,
    );
    assert_eq!(response.status, 201, "{}", response.text());
}

#[test]
fn json_type_is_case_insensitive_and_parameters_are_ignored() {
    let server = spawn_server();
    let response = post_typed(
        server.addr(),
        Some("Application/JSON; charset=x"),
        br#"{"title":"x"}"#,
    );
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], "x");
}

#[test]
fn patch_accepts_merge_patch_json() {
    let server = spawn_server();
    let id = create_task(server.addr(), "a");
    let response = patch_typed(
        server.addr(),
        &format!("/tasks/{id}"),
        Some("application/merge-patch+json"),
        br#"{"done":true}"#,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["done"], true);
}

#[test]
fn patch_with_text_type_is_model_attributes_type() {
    let server = spawn_server();
    let id = create_task(server.addr(), "a");
    let body = r#"{"done":true}"#;
    let response = patch_typed(
        server.addr(),
        &format!("/tasks/{id}"),
        Some("text/plain"),
        body.as_bytes(),
    );
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([not_an_object(json!(body))]));
    assert_eq!(get(server.addr(), "/tasks/1").json()["done"], false);
}

// ---- Step 4: encoding -------------------------------------------------------------------------

#[test]
fn invalid_utf8_body_is_400() {
    let server = spawn_server();
    let response = post_bytes(server.addr(), b"{\"title\":\"caf\xe9\"}");
    assert_error(&response, 400, PARSE_ERROR);
}

#[test]
fn utf16_with_bom_is_400() {
    let server = spawn_server();
    let text = r#"{"title":"x"}"#;
    let mut little = vec![0xFF, 0xFE];
    little.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let mut big = vec![0xFE, 0xFF];
    big.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    for body in [little, big] {
        let response = post_bytes(server.addr(), &body);
        assert_error(&response, 400, PARSE_ERROR);
    }
    assert_no_tasks(server.addr());
}

#[test]
fn utf32_with_bom_is_400() {
    let server = spawn_server();
    let text = r#"{"title":"x"}"#;
    let mut little = vec![0xFF, 0xFE, 0, 0];
    little.extend(text.chars().flat_map(|c| u32::from(c).to_le_bytes()));
    let mut big = vec![0, 0, 0xFE, 0xFF];
    big.extend(text.chars().flat_map(|c| u32::from(c).to_be_bytes()));
    for body in [little, big] {
        let response = post_bytes(server.addr(), &body);
        assert_error(&response, 400, PARSE_ERROR);
    }
}

/// A `charset` parameter never changes how the body is decoded.
#[test]
fn utf16_is_400_even_when_the_charset_says_utf16() {
    let server = spawn_server();
    let mut body = vec![0xFF, 0xFE];
    body.extend(r#"{"title":"x"}"#.encode_utf16().flat_map(u16::to_le_bytes));
    let response = post_typed(
        server.addr(),
        Some("application/json; charset=utf-16"),
        &body,
    );
    assert_error(&response, 400, PARSE_ERROR);
}

#[test]
fn utf8_body_is_read_as_utf8_whatever_the_charset() {
    let server = spawn_server();
    let response = post_typed(
        server.addr(),
        Some("application/json; charset=iso-8859-1"),
        "{\"title\":\"café\"}".as_bytes(),
    );
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], "café");
}

#[test]
fn leading_utf8_bom_is_skipped() {
    let server = spawn_server();
    let response = post_bytes(server.addr(), b"\xEF\xBB\xBF{\"title\":\"x\"}");
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], "x");
}

/// Only one BOM is skipped; a second U+FEFF is not JSON whitespace.
#[test]
fn second_utf8_bom_is_json_invalid() {
    let server = spawn_server();
    let body = b"\xEF\xBB\xBF\xEF\xBB\xBF{\"title\":\"x\"}";
    let response = post_bytes(server.addr(), body);
    assert_json_invalid(&response, body);
}

#[test]
fn patch_with_bad_id_and_utf16_body_is_400_alone() {
    let server = spawn_server();
    let mut body = vec![0xFF, 0xFE];
    body.extend(r#"{"done":true}"#.encode_utf16().flat_map(u16::to_le_bytes));
    let response = patch_typed(server.addr(), "/tasks/abc", Some("application/json"), &body);
    assert_error(&response, 400, PARSE_ERROR);
}

// ---- Step 5: nesting --------------------------------------------------------------------------

/// `{"title": [[...]]}` nested `depth` levels in all (the top-level object is level 1).
fn nested_title(depth: usize) -> String {
    let arrays = depth - 1;
    format!(
        r#"{{"title":{}{}}}"#,
        "[".repeat(arrays),
        "]".repeat(arrays)
    )
}

#[test]
fn nesting_128_levels_is_400() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", &nested_title(128));
    assert_error(&response, 400, PARSE_ERROR);
}

/// The 422 echoes the 126-level title as `input`, which makes the response deeper than
/// serde_json's default limit, so this one is checked as text.
#[test]
fn nesting_127_levels_reaches_validation() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", &nested_title(127));
    assert_eq!(response.status, 422, "{}", response.text());
    let text = response.text();
    let prefix = r#"{"detail":[{"type":"string_type","loc":["body","title"],"msg":"Input should be a valid string","input":["#;
    assert!(text.starts_with(prefix), "{text}");
    assert!(text.ends_with("]]}]}"), "{text}");
    assert_eq!(text.matches(r#""type":"#).count(), 1, "{text}");
}

#[test]
fn nesting_128_levels_of_objects_is_400() {
    let server = spawn_server();
    let body = format!("{}{{}}{}", r#"{"a":"#.repeat(127), "}".repeat(127));
    let response = post_json(server.addr(), "/tasks", &body);
    assert_error(&response, 400, PARSE_ERROR);
}

#[test]
fn top_level_array_of_127_levels_is_model_attributes_type() {
    let server = spawn_server();
    let body = format!("{}{}", "[".repeat(127), "]".repeat(127));
    let response = post_json(server.addr(), "/tasks", &body);
    assert_eq!(response.status, 422, "{}", response.text());
    let text = response.text();
    let prefix = r#"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":["#;
    assert!(text.starts_with(prefix), "{text}");
    assert_eq!(text.matches(r#""type":"#).count(), 1, "{text}");
}

// ---- Step 6: strict JSON ----------------------------------------------------------------------

fn assert_post_is_json_invalid(body: &str) {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", body);
    assert_json_invalid(&response, body.as_bytes());
    assert_no_tasks(server.addr());
}

#[test]
fn truncated_json_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x""#);
}

#[test]
fn truncated_inside_a_string_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x"#);
}

#[test]
fn single_quotes_are_json_invalid() {
    assert_post_is_json_invalid("{'title': 'x'}");
}

#[test]
fn trailing_comma_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x",}"#);
}

#[test]
fn trailing_garbage_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x"} x"#);
}

#[test]
fn second_value_after_the_object_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x"}{}"#);
}

/// Whitespace is not an empty body (step 2): it is a JSON document with no value.
#[test]
fn whitespace_only_is_json_invalid() {
    assert_post_is_json_invalid(" \r\n\t ");
}

#[test]
fn nan_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x", "done": NaN}"#);
}

#[test]
fn infinity_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x", "done": Infinity}"#);
}

#[test]
fn negative_infinity_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x", "done": -Infinity}"#);
}

#[test]
fn lone_surrogate_in_a_value_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "\ud800"}"#);
}

#[test]
fn lone_low_surrogate_in_a_value_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "a\udc00b"}"#);
}

#[test]
fn lone_surrogate_in_a_key_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"\ud800": 1, "title": "x"}"#);
}

#[test]
fn lone_surrogate_in_an_unknown_field_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x", "color": "\udfff"}"#);
}

#[test]
fn escaped_surrogate_pair_is_fine() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title": "\ud83d\ude00"}"#);
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], "😀");
}

#[test]
fn number_beyond_f64_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x", "done": 1e400}"#);
}

#[test]
fn number_beyond_f64_in_an_unknown_field_is_json_invalid() {
    assert_post_is_json_invalid(r#"{"title": "x", "n": -1e400}"#);
}

/// Step 6 answers alone: field errors in the same body are not reported.
#[test]
fn json_invalid_hides_field_errors() {
    assert_post_is_json_invalid(r#"{"title": "", "priority": "urgent", "done": NaN}"#);
}

/// A byte offset is an integer into the body; for trailing garbage it points past the object.
#[test]
fn json_invalid_offset_is_after_the_valid_prefix() {
    let server = spawn_server();
    let body = r#"{"title": "x"} x"#;
    let response = post_json(server.addr(), "/tasks", body);
    assert_json_invalid(&response, body.as_bytes());
    let offset = response.detail()[0]["loc"][1].as_u64().unwrap();
    assert!(offset >= 14, "offset {offset} is inside the valid object");
}

/// The offset counts bytes, not characters: the emoji before the error is 4 bytes, 1 character.
#[test]
fn json_invalid_offset_counts_bytes() {
    let server = spawn_server();
    let body = "{\"title\":\"😀\"x}";
    let response = post_json(server.addr(), "/tasks", body);
    assert_json_invalid(&response, body.as_bytes());
    let offset = response.detail()[0]["loc"][1].as_u64().unwrap();
    // `x` is byte 15 (character 12).
    assert!((15..=16).contains(&offset), "offset {offset}");
}

#[test]
fn patch_with_bad_id_and_invalid_json_is_json_invalid_alone() {
    let server = spawn_server();
    let body = r#"{"title": "x","#;
    let response = patch_json(server.addr(), "/tasks/abc", body);
    assert_json_invalid(&response, body.as_bytes());
}

// ---- Step 7: not an object --------------------------------------------------------------------

#[test]
fn array_body_is_model_attributes_type() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"[{"title": "x"}]"#);
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(
        response.detail(),
        json!([not_an_object(json!([{"title": "x"}]))])
    );
    assert_no_tasks(server.addr());
}

#[test]
fn string_body_is_model_attributes_type() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#""a""#);
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([not_an_object(json!("a"))]));
}

#[test]
fn number_body_is_model_attributes_type() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", "42");
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([not_an_object(json!(42))]));
}

#[test]
fn boolean_body_is_model_attributes_type() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", "true");
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([not_an_object(json!(true))]));
}

#[test]
fn null_body_is_model_attributes_type() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", "null");
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([not_an_object(Value::Null)]));
}

// ---- Keys -------------------------------------------------------------------------------------

#[test]
fn duplicate_keys_last_one_wins() {
    let server = spawn_server();
    let response = post_json(
        server.addr(),
        "/tasks",
        r#"{"title": "first", "done": true, "title": "second", "done": false}"#,
    );
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], "second");
    assert_eq!(response.json()["done"], false);
}

#[test]
fn duplicate_key_with_invalid_first_value_is_fine() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title": 1, "title": "ok"}"#);
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], "ok");
}

#[test]
fn duplicate_key_with_invalid_last_value_is_422() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title": "ok", "title": 1}"#);
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(
        response.items(),
        [("string_type".to_owned(), json!(["body", "title"]))]
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let server = spawn_server();
    let body = json!({
        "title": "x",
        "color": "red",
        "id": 99,
        "attachment": {"filename": "a.txt", "size": 1},
    });
    let response = post_json(server.addr(), "/tasks", &body.to_string());
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(
        response.json(),
        json!({"id": 1, "title": "x", "priority": "medium", "done": false, "attachment": null})
    );
}

#[test]
fn patch_ignores_unknown_fields() {
    let server = spawn_server();
    let id = create_task(server.addr(), "a");
    let response = patch_json(
        server.addr(),
        &format!("/tasks/{id}"),
        r#"{"id": 5, "attachment": {"filename": "x", "size": 3}}"#,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.json(),
        json!({"id": 1, "title": "a", "priority": "medium", "done": false, "attachment": null})
    );
}

// ---- PATCH: the path id's item comes first ----------------------------------------------------

#[test]
fn patch_bad_id_item_comes_before_body_items() {
    let server = spawn_server();
    let response = patch_json(
        server.addr(),
        "/tasks/abc",
        r#"{"done": "maybe", "title": ""}"#,
    );
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(
        response.detail(),
        json!([
            bad_id("abc"),
            {
                "type": "string_too_short",
                "loc": ["body", "title"],
                "msg": "String should have at least 1 character",
                "input": "",
                "ctx": {"min_length": 1},
            },
            {
                "type": "bool_parsing",
                "loc": ["body", "done"],
                "msg": "Input should be a valid boolean, unable to interpret input",
                "input": "maybe",
            },
        ])
    );
}

#[test]
fn patch_bad_id_item_comes_before_non_object_item() {
    let server = spawn_server();
    let response = patch_json(server.addr(), "/tasks/1.5", "[1]");
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(
        response.detail(),
        json!([bad_id("1.5"), not_an_object(json!([1]))])
    );
}

#[test]
fn patch_bad_id_item_comes_before_content_type_item() {
    let server = spawn_server();
    let response = patch_typed(server.addr(), "/tasks/x", Some("text/plain"), b"hello");
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(
        response.detail(),
        json!([bad_id("x"), not_an_object(json!("hello"))])
    );
}

#[test]
fn patch_bad_id_with_valid_body_is_only_the_id_item() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch_json(server.addr(), "/tasks/abc", r#"{"done": true}"#);
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.detail(), json!([bad_id("abc")]));
}
