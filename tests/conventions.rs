//! Conventions shared by every route (CONTRACT §1): JSON framing (`Content-Type`,
//! `Content-Length`, never chunked), the task's key order, error and 422 bodies, HEAD mirroring
//! GET, HTTP/1.0 clients and keep-alive connections.

use crate::common;
use common::*;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};

use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `Content-Type: application/json`, a `Content-Length` equal to the bytes that follow the head,
/// and no chunking.
fn assert_json_framing(response: &Response) {
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.header("Transfer-Encoding"), None, "sent chunked");
    let length = after_head(response).len().to_string();
    assert_eq!(response.header("Content-Length"), Some(length.as_str()));
}

/// An error response: this status, JSON framing, and exactly `{"detail":"<detail>"}`.
fn assert_error_body(response: &Response, status: u16, detail: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_json_framing(response);
    assert_eq!(response.text(), json!({ "detail": detail }).to_string());
}

/// The only item of a 422, after checking the status and framing.
fn only_item(response: &Response) -> Value {
    assert_eq!(response.status, 422, "{}", response.text());
    assert_json_framing(response);
    let detail = response.detail();
    let items = detail.as_array().expect("422 detail is an array");
    assert_eq!(items.len(), 1, "{detail}");
    items[0].clone()
}

/// RFC 9110 §9.3.2: HEAD answers with GET's status and headers, and no body.
fn assert_head_matches_get(addr: SocketAddr, target: &str) -> Response {
    let get_response = get(addr, target);
    let head_response = request(addr, "HEAD", target, &[], b"");
    assert_eq!(head_response.status, get_response.status, "{target}");
    // `without_date` drops `Date`, so check first that both have one.
    assert!(head_response.has_header("Date"), "no Date header");
    assert!(get_response.has_header("Date"), "no Date header");
    assert_eq!(without_date(&head_response), without_date(&get_response));
    assert!(
        after_head(&head_response).is_empty(),
        "HEAD {target} sent a body: {:?}",
        head_response.text()
    );
    let length = get_response.body.len().to_string();
    assert_eq!(
        head_response.header("Content-Length"),
        Some(length.as_str())
    );
    get_response
}

/// Reads exactly one response off a kept-alive `stream` (see `read_one_response`), leaving any
/// further bytes in `buffer`; it must be framed by Content-Length (none for 204), never chunked.
fn read_one(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Response {
    not_chunked(read_one_response(stream, buffer, false))
}

/// `read_one` for the answer to a HEAD: its Content-Length describes a body that is not sent.
fn read_one_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Response {
    not_chunked(read_one_response(stream, buffer, true))
}

fn not_chunked(response: Response) -> Response {
    assert_eq!(response.header("Transfer-Encoding"), None, "sent chunked");
    response
}

/// A kept-alive GET (no `Connection: close`).
fn keep_alive_get(addr: SocketAddr, target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
}

/// A server with `count` tasks whose titles are 100 characters long.
fn server_with_long_tasks(count: usize) -> TestServer {
    let server = spawn_server();
    for i in 0..count {
        let title = format!("{i:03}{}", "x".repeat(97));
        create_task(server.addr(), &title);
    }
    server
}

// ---------------------------------------------------------------------------------------------
// JSON framing
// ---------------------------------------------------------------------------------------------

#[test]
fn task_response_is_application_json() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let response = get(server.addr(), "/tasks/1");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
}

#[test]
fn task_response_has_content_length_of_its_body() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let response = get(server.addr(), "/tasks/1");
    assert_eq!(response.status, 200);
    assert_json_framing(&response);
}

#[test]
fn created_response_has_json_framing() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title":"Buy milk"}"#);
    assert_eq!(response.status, 201, "{}", response.text());
    assert_json_framing(&response);
}

#[test]
fn empty_list_has_json_framing() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks");
    assert_eq!(response.status, 200);
    assert_json_framing(&response);
    assert_eq!(response.text(), "[]");
}

/// tiny_http would chunk a body of 32 KiB or more; the contract wants Content-Length always.
#[test]
fn large_list_is_sent_with_content_length_not_chunked() {
    let server = server_with_long_tasks(200);
    let response = get(server.addr(), "/tasks?limit=1000");
    assert_eq!(response.status, 200);
    assert!(
        response.body.len() > 32 * 1024,
        "only {} bytes",
        response.body.len()
    );
    assert_json_framing(&response);
    assert_eq!(response.json().as_array().map(Vec::len), Some(200));
}

#[test]
fn large_error_body_is_sent_with_content_length_not_chunked() {
    let server = spawn_server();
    let body = json!({ "title": "t".repeat(40_000) }).to_string();
    let response = post_json(server.addr(), "/tasks", &body);
    assert_eq!(response.status, 422);
    assert!(
        response.body.len() > 32 * 1024,
        "only {} bytes",
        response.body.len()
    );
    assert_json_framing(&response);
}

/// A client that sends `TE: chunked` may get a chunked response, but it is the same JSON.
#[test]
fn large_list_with_te_chunked_is_complete() {
    let server = server_with_long_tasks(200);
    let plain = get(server.addr(), "/tasks?limit=1000");
    let headers = [("TE", "chunked")];
    let response = request(server.addr(), "GET", "/tasks?limit=1000", &headers, b"");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.body, plain.body);
}

// ---------------------------------------------------------------------------------------------
// Task JSON: compact, keys in the contract's order
// ---------------------------------------------------------------------------------------------

#[test]
fn created_task_keys_come_in_contract_order() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title":"Buy milk"}"#);
    assert_eq!(response.status, 201);
    assert_eq!(
        response.text(),
        r#"{"id":1,"title":"Buy milk","priority":"medium","done":false,"attachment":null}"#
    );
}

#[test]
fn body_key_order_does_not_change_response_key_order() {
    let server = spawn_server();
    let body = r#"{"done":true,"priority":"high","title":"Buy milk"}"#;
    let response = post_json(server.addr(), "/tasks", body);
    assert_eq!(response.status, 201);
    assert_eq!(
        response.text(),
        r#"{"id":1,"title":"Buy milk","priority":"high","done":true,"attachment":null}"#
    );
}

#[test]
fn fetched_task_keys_come_in_contract_order() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let response = get(server.addr(), "/tasks/1");
    assert_eq!(
        response.text(),
        r#"{"id":1,"title":"Buy milk","priority":"medium","done":false,"attachment":null}"#
    );
}

#[test]
fn listed_task_keys_come_in_contract_order() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    create_task(server.addr(), "b");
    let response = get(server.addr(), "/tasks");
    assert_eq!(
        response.text(),
        concat!(
            r#"[{"id":1,"title":"a","priority":"medium","done":false,"attachment":null},"#,
            r#"{"id":2,"title":"b","priority":"medium","done":false,"attachment":null}]"#
        )
    );
}

#[test]
fn patched_task_keys_come_in_contract_order() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let response = patch_json(
        server.addr(),
        "/tasks/1",
        r#"{"done":true,"priority":"low"}"#,
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.text(),
        r#"{"id":1,"title":"Buy milk","priority":"low","done":true,"attachment":null}"#
    );
}

#[test]
fn attachment_keys_come_in_contract_order() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let response = upload(
        server.addr(),
        1,
        "notes.txt",
        Some("text/plain"),
        b"milk, eggs, butter\n",
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.text(),
        concat!(
            r#"{"id":1,"title":"Buy milk","priority":"medium","done":false,"#,
            r#""attachment":{"filename":"notes.txt","size":19}}"#
        )
    );
}

#[test]
fn non_ascii_title_is_utf8_json() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title":"Caf\u00e9 😀"}"#);
    assert_eq!(response.status, 201, "{}", response.text());
    assert!(std::str::from_utf8(&response.body).is_ok(), "not UTF-8");
    assert_eq!(response.json()["title"], json!("Café 😀"));
}

// ---------------------------------------------------------------------------------------------
// Error bodies: {"detail": "<text>"}
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_path_error_is_detail_json() {
    let server = spawn_server();
    assert_error_body(&get(server.addr(), "/nope"), 404, "Not Found");
}

#[test]
fn missing_task_error_is_detail_json() {
    let server = spawn_server();
    assert_error_body(&get(server.addr(), "/tasks/9"), 404, "Task 9 not found");
}

#[test]
fn method_not_allowed_error_is_detail_json() {
    let server = spawn_server();
    let response = request(server.addr(), "PUT", "/tasks", &[], b"");
    assert_error_body(&response, 405, "Method Not Allowed");
}

#[test]
fn conflict_error_is_detail_json() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = post_json(server.addr(), "/tasks", r#"{"title":"a"}"#);
    assert_error_body(&response, 409, "A task with that title already exists");
}

#[test]
fn unreadable_body_error_is_detail_json() {
    let server = spawn_server();
    let headers = [("Content-Type", "application/json")];
    let response = request(
        server.addr(),
        "POST",
        "/tasks",
        &headers,
        b"{\"title\":\"\xff\"}",
    );
    assert_error_body(&response, 400, "There was an error parsing the body");
}

#[test]
fn too_large_body_error_is_detail_json() {
    let server = spawn_server();
    let body = vec![b' '; 1024 * 1024 + 1];
    let headers = [("Content-Type", "application/json")];
    let response = request(server.addr(), "POST", "/tasks", &headers, &body);
    assert_error_body(
        &response,
        413,
        "Request body too large (limit 1048576 bytes)",
    );
}

// ---------------------------------------------------------------------------------------------
// 422 items: type, loc, msg, input (+ ctx)
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_item_has_null_input_and_no_ctx() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", "{}");
    assert_eq!(
        only_item(&response),
        json!({"type": "missing", "loc": ["body", "title"], "msg": "Field required", "input": null})
    );
}

#[test]
fn string_type_item_echoes_the_input() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title":42}"#);
    assert_eq!(
        only_item(&response),
        json!({
            "type": "string_type",
            "loc": ["body", "title"],
            "msg": "Input should be a valid string",
            "input": 42,
        })
    );
}

#[test]
fn string_too_short_item_has_min_length_ctx() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title":""}"#);
    assert_eq!(
        only_item(&response),
        json!({
            "type": "string_too_short",
            "loc": ["body", "title"],
            "msg": "String should have at least 1 character",
            "input": "",
            "ctx": {"min_length": 1},
        })
    );
}

#[test]
fn string_too_long_item_has_max_length_ctx() {
    let server = spawn_server();
    let title = "t".repeat(101);
    let body = json!({ "title": title }).to_string();
    let response = post_json(server.addr(), "/tasks", &body);
    assert_eq!(
        only_item(&response),
        json!({
            "type": "string_too_long",
            "loc": ["body", "title"],
            "msg": "String should have at most 100 characters",
            "input": title,
            "ctx": {"max_length": 100},
        })
    );
}

#[test]
fn priority_value_error_item_has_error_ctx() {
    let server = spawn_server();
    let response = post_json(
        server.addr(),
        "/tasks",
        r#"{"title":"a","priority":"urgent"}"#,
    );
    assert_eq!(
        only_item(&response),
        json!({
            "type": "value_error",
            "loc": ["body", "priority"],
            "msg": "Value error, priority must be one of ['high', 'low', 'medium']",
            "input": "urgent",
            "ctx": {"error": {}},
        })
    );
}

#[test]
fn bool_parsing_item_has_no_ctx() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title":"a","done":"maybe"}"#);
    assert_eq!(
        only_item(&response),
        json!({
            "type": "bool_parsing",
            "loc": ["body", "done"],
            "msg": "Input should be a valid boolean, unable to interpret input",
            "input": "maybe",
        })
    );
}

#[test]
fn bool_type_item_has_no_ctx() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title":"a","done":null}"#);
    assert_eq!(
        only_item(&response),
        json!({
            "type": "bool_type",
            "loc": ["body", "done"],
            "msg": "Input should be a valid boolean",
            "input": null,
        })
    );
}

#[test]
fn model_attributes_type_item_echoes_a_non_json_body() {
    let server = spawn_server();
    let headers = [("Content-Type", "text/plain")];
    let response = request(
        server.addr(),
        "POST",
        "/tasks",
        &headers,
        br#"{"title":"a"}"#,
    );
    assert_eq!(
        only_item(&response),
        json!({
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": r#"{"title":"a"}"#,
        })
    );
}

/// The offset and the parser message are informative; type, loc[0], msg, input and the ctx key
/// are fixed.
#[test]
fn json_invalid_item_has_empty_input_and_error_ctx() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"title": 'x'}"#);
    let item = only_item(&response);
    let keys: Vec<&str> = item
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["ctx", "input", "loc", "msg", "type"], "{item}");
    assert_eq!(item["type"], json!("json_invalid"));
    assert_eq!(item["loc"][0], json!("body"));
    assert!(item["loc"][1].is_u64(), "{item}");
    assert_eq!(item["loc"].as_array().map(Vec::len), Some(2));
    assert_eq!(item["msg"], json!("JSON decode error"));
    assert_eq!(item["input"], json!({}));
    assert!(item["ctx"]["error"].is_string(), "{item}");
}

#[test]
fn path_int_parsing_item_has_no_ctx() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks/abc");
    assert_eq!(
        only_item(&response),
        json!({
            "type": "int_parsing",
            "loc": ["path", "task_id"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "input": "abc",
        })
    );
}

#[test]
fn query_greater_than_equal_item_has_ge_ctx() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?skip=-1");
    assert_eq!(
        only_item(&response),
        json!({
            "type": "greater_than_equal",
            "loc": ["query", "skip"],
            "msg": "Input should be greater than or equal to 0",
            "input": "-1",
            "ctx": {"ge": 0},
        })
    );
}

#[test]
fn query_less_than_equal_item_has_le_ctx() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?limit=1001");
    assert_eq!(
        only_item(&response),
        json!({
            "type": "less_than_equal",
            "loc": ["query", "limit"],
            "msg": "Input should be less than or equal to 1000",
            "input": "1001",
            "ctx": {"le": 1000},
        })
    );
}

#[test]
fn one_item_per_problem() {
    let server = spawn_server();
    let body = r#"{"done":"maybe","priority":"urgent","title":""}"#;
    let response = post_json(server.addr(), "/tasks", body);
    assert_eq!(response.status, 422, "{}", response.text());
    assert_json_framing(&response);
    assert_eq!(
        response.items(),
        [
            ("string_too_short".to_owned(), json!(["body", "title"])),
            ("value_error".to_owned(), json!(["body", "priority"])),
            ("bool_parsing".to_owned(), json!(["body", "done"])),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// HEAD mirrors GET
// ---------------------------------------------------------------------------------------------

/// RFC 9110 §9.3.2.
#[test]
fn head_of_a_task_has_length_but_no_body() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let get_response = assert_head_matches_get(server.addr(), "/tasks/1");
    assert_eq!(get_response.status, 200);
}

/// RFC 9110 §9.3.2.
#[test]
fn head_of_the_list_has_length_but_no_body() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    create_task(server.addr(), "b");
    let get_response = assert_head_matches_get(server.addr(), "/tasks?done=false");
    assert_eq!(get_response.status, 200);
}

/// RFC 9110 §9.3.2: a large list would be chunked without care; HEAD must still say its length.
#[test]
fn head_of_a_large_list_has_its_length() {
    let server = server_with_long_tasks(200);
    let get_response = assert_head_matches_get(server.addr(), "/tasks?limit=1000");
    assert!(get_response.body.len() > 32 * 1024);
}

/// RFC 9110 §9.3.2.
#[test]
fn head_of_a_missing_task_is_the_404_without_body() {
    let server = spawn_server();
    let get_response = assert_head_matches_get(server.addr(), "/tasks/9");
    assert_eq!(get_response.status, 404);
}

/// RFC 9110 §9.3.2.
#[test]
fn head_of_an_unknown_path_is_the_404_without_body() {
    let server = spawn_server();
    let get_response = assert_head_matches_get(server.addr(), "/nope");
    assert_eq!(get_response.status, 404);
}

/// RFC 9110 §9.3.2.
#[test]
fn head_of_a_bad_id_is_the_422_without_body() {
    let server = spawn_server();
    let get_response = assert_head_matches_get(server.addr(), "/tasks/abc");
    assert_eq!(get_response.status, 422);
}

/// RFC 9110 §9.3.2.
#[test]
fn head_of_a_trailing_slash_is_the_307_without_body() {
    let server = spawn_server();
    let get_response = assert_head_matches_get(server.addr(), "/tasks/?done=true");
    assert_eq!(get_response.status, 307);
    assert_eq!(get_response.header("Location"), Some("/tasks?done=true"));
}

/// RFC 9110 §9.3.2.
#[test]
fn head_of_healthz_has_length_but_no_body() {
    let server = spawn_server();
    let get_response = assert_head_matches_get(server.addr(), "/healthz");
    assert_eq!(get_response.status, 200);
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.0 and keep-alive
// ---------------------------------------------------------------------------------------------

/// RFC 9112 §9.3: an HTTP/1.0 request without keep-alive is answered and the connection closed.
#[test]
fn http_1_0_get_is_answered() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let response = send_raw(server.addr(), b"GET /tasks/1 HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_json_framing(&response);
    assert_eq!(
        response.text(),
        r#"{"id":1,"title":"Buy milk","priority":"medium","done":false,"attachment":null}"#
    );
}

#[test]
fn http_1_0_post_is_answered() {
    let server = spawn_server();
    let body = r#"{"title":"old client"}"#;
    let bytes = format!(
        "POST /tasks HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = send_raw(server.addr(), bytes.as_bytes());
    assert_eq!(response.status, 201, "{}", response.text());
    assert_json_framing(&response);
    assert_eq!(response.json()["title"], json!("old client"));
}

/// RFC 9110 §8.6: the 204 to an HTTP/1.0 client is bare too, and the connection then closes.
#[test]
fn http_1_0_delete_gets_a_bare_204() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = send_raw(server.addr(), b"DELETE /tasks/1 HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 204);
    assert_eq!(response.header("Content-Length"), None);
    assert_eq!(response.header("Content-Type"), None);
    assert!(after_head(&response).is_empty());
}

/// A large body to an HTTP/1.0 client cannot be chunked (RFC 9112 §7.1).
#[test]
fn http_1_0_large_list_has_content_length() {
    let server = server_with_long_tasks(200);
    let response = send_raw(server.addr(), b"GET /tasks?limit=1000 HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200);
    assert_json_framing(&response);
}

/// RFC 9112 §9.3: HTTP/1.1 connections persist by default.
#[test]
fn keep_alive_answers_two_requests_on_one_connection() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let mut stream = connect(server.addr());
    let mut buffer = Vec::new();
    stream
        .write_all(keep_alive_get(server.addr(), "/tasks/1").as_bytes())
        .unwrap();
    let first = read_one(&mut stream, &mut buffer);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["title"], json!("Buy milk"));
    stream
        .write_all(keep_alive_get(server.addr(), "/healthz").as_bytes())
        .unwrap();
    let second = read_one(&mut stream, &mut buffer);
    assert_eq!(second.status, 200);
    assert_eq!(second.text(), r#"{"status":"ok"}"#);
}

/// RFC 9112 §9.3.2: pipelined requests are answered in order.
#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let mut stream = connect(server.addr());
    let both = format!(
        "{}{}",
        keep_alive_get(server.addr(), "/tasks/9"),
        keep_alive_get(server.addr(), "/tasks/1")
    );
    stream.write_all(both.as_bytes()).unwrap();
    let mut buffer = Vec::new();
    let first = read_one(&mut stream, &mut buffer);
    assert_eq!(first.status, 404, "{}", first.text());
    let second = read_one(&mut stream, &mut buffer);
    assert_eq!(second.status, 200, "{}", second.text());
}

/// A 204 without Content-Length (RFC 9110 §8.6) still ends where the next response begins.
#[test]
fn keep_alive_continues_after_a_204() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    create_task(server.addr(), "b");
    let mut stream = connect(server.addr());
    let delete_request = format!(
        "DELETE /tasks/1 HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.addr()
    );
    stream.write_all(delete_request.as_bytes()).unwrap();
    let mut buffer = Vec::new();
    let deleted = read_one(&mut stream, &mut buffer);
    assert_eq!(deleted.status, 204);
    stream
        .write_all(keep_alive_get(server.addr(), "/tasks").as_bytes())
        .unwrap();
    let list = read_one(&mut stream, &mut buffer);
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.json()[0]["id"], json!(2));
    assert_eq!(list.json().as_array().map(Vec::len), Some(1));
}

/// RFC 9110 §9.3.2: the answer to a HEAD ends with its head, whatever its Content-Length says.
#[test]
fn keep_alive_continues_after_a_head() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let mut stream = connect(server.addr());
    let head_request = format!("HEAD /tasks/1 HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr());
    stream.write_all(head_request.as_bytes()).unwrap();
    let mut buffer = Vec::new();
    let head_response = read_one_head(&mut stream, &mut buffer);
    assert_eq!(head_response.status, 200);
    assert!(buffer.is_empty(), "HEAD sent a body: {buffer:?}");
    stream
        .write_all(keep_alive_get(server.addr(), "/healthz").as_bytes())
        .unwrap();
    let second = read_one(&mut stream, &mut buffer);
    assert_eq!(second.status, 200);
    assert_eq!(second.text(), r#"{"status":"ok"}"#);
}

/// RFC 9112 §6.3: a body the server did not need (a 405) is still skipped by its length, so it
/// is never read as the next request.
#[test]
fn keep_alive_skips_the_body_of_a_refused_request() {
    let server = spawn_server();
    let mut stream = connect(server.addr());
    let smuggled = keep_alive_get(server.addr(), "/nope");
    let put = format!(
        "PUT /tasks HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n{smuggled}",
        server.addr(),
        smuggled.len()
    );
    stream.write_all(put.as_bytes()).unwrap();
    let mut buffer = Vec::new();
    let refused = read_one(&mut stream, &mut buffer);
    assert_eq!(refused.status, 405, "{}", refused.text());
    stream
        .write_all(keep_alive_get(server.addr(), "/healthz").as_bytes())
        .unwrap();
    let second = read_one(&mut stream, &mut buffer);
    assert_eq!(second.status, 200, "{}", second.text());
    assert_eq!(second.text(), r#"{"status":"ok"}"#);
}

/// A kept-alive POST body is read exactly, so the next request on the connection is intact.
#[test]
fn keep_alive_continues_after_a_post_body() {
    let server = spawn_server();
    let mut stream = connect(server.addr());
    let body = r#"{"title":"first"}"#;
    let post = format!(
        "POST /tasks HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        server.addr(),
        body.len()
    );
    stream.write_all(post.as_bytes()).unwrap();
    let mut buffer = Vec::new();
    let created = read_one(&mut stream, &mut buffer);
    assert_eq!(created.status, 201, "{}", created.text());
    stream
        .write_all(keep_alive_get(server.addr(), "/tasks/1").as_bytes())
        .unwrap();
    let fetched = read_one(&mut stream, &mut buffer);
    assert_eq!(fetched.status, 200, "{}", fetched.text());
    assert_eq!(fetched.json()["title"], json!("first"));
}
