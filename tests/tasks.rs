//! Tasks through the API: the field rules of CONTRACT §5, `POST /tasks` (§6), and
//! `GET` / `PATCH` / `DELETE /tasks/{task_id}` (§8).

use crate::common;
use common::*;

use std::net::SocketAddr;

use serde_json::{json, Value};

const TITLE_TAKEN: &str = "A task with that title already exists";

// ---- helpers ----------------------------------------------------------------------------------

/// POST /tasks with `body` serialized.
fn post(addr: SocketAddr, body: &Value) -> Response {
    post_json(addr, "/tasks", &body.to_string())
}

/// PATCH /tasks/{id} with `body` serialized.
fn patch(addr: SocketAddr, id: u64, body: &Value) -> Response {
    patch_json(addr, &format!("/tasks/{id}"), &body.to_string())
}

fn get_task(addr: SocketAddr, id: u64) -> Value {
    let response = get(addr, &format!("/tasks/{id}"));
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

fn task(id: u64, title: &str, priority: &str, done: bool) -> Value {
    json!({"id": id, "title": title, "priority": priority, "done": done, "attachment": null})
}

fn assert_detail(response: &Response, status: u16, detail: Value) {
    assert_eq!(response.status, status, "{}", response.text());
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.detail(), detail);
}

fn assert_422(response: &Response, items: Value) {
    assert_detail(response, 422, items);
}

fn missing(loc: Value) -> Value {
    json!({"type": "missing", "loc": loc, "msg": "Field required", "input": null})
}

fn string_type(field: &str, input: Value) -> Value {
    json!({
        "type": "string_type",
        "loc": ["body", field],
        "msg": "Input should be a valid string",
        "input": input,
    })
}

fn too_short(input: &str) -> Value {
    json!({
        "type": "string_too_short",
        "loc": ["body", "title"],
        "msg": "String should have at least 1 character",
        "input": input,
        "ctx": {"min_length": 1},
    })
}

fn too_long(input: &str) -> Value {
    json!({
        "type": "string_too_long",
        "loc": ["body", "title"],
        "msg": "String should have at most 100 characters",
        "input": input,
        "ctx": {"max_length": 100},
    })
}

fn bad_priority(input: &str) -> Value {
    json!({
        "type": "value_error",
        "loc": ["body", "priority"],
        "msg": PRIORITY_MSG,
        "input": input,
        "ctx": {"error": {}},
    })
}

fn bool_type(input: Value) -> Value {
    json!({
        "type": "bool_type",
        "loc": ["body", "done"],
        "msg": "Input should be a valid boolean",
        "input": input,
    })
}

fn bool_parsing(input: Value) -> Value {
    json!({
        "type": "bool_parsing",
        "loc": ["body", "done"],
        "msg": "Input should be a valid boolean, unable to interpret input",
        "input": input,
    })
}

/// POSTs a task whose `done` is the raw JSON `raw_done`, with a title unique to it.
fn post_done(addr: SocketAddr, raw_done: &str) -> Response {
    let title = json!(format!("done {raw_done}")).to_string();
    post_json(
        addr,
        "/tasks",
        &format!(r#"{{"title":{title},"done":{raw_done}}}"#),
    )
}

fn assert_done_is(addr: SocketAddr, raw_done: &str, expected: bool) {
    let response = post_done(addr, raw_done);
    assert_eq!(
        response.status,
        201,
        "done: {raw_done}: {}",
        response.text()
    );
    assert_eq!(response.json()["done"], expected, "done: {raw_done}");
}

fn assert_done_error(addr: SocketAddr, raw_done: &str, item: fn(Value) -> Value) {
    let response = post_done(addr, raw_done);
    let input: Value = serde_json::from_str(raw_done).expect("test JSON");
    assert_eq!(
        response.status,
        422,
        "done: {raw_done}: {}",
        response.text()
    );
    assert_eq!(response.detail(), json!([item(input)]), "done: {raw_done}");
}

// ---- §5 title ---------------------------------------------------------------------------------

fn title_is_required() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"priority": "low"}));
    assert_422(&response, json!([missing(json!(["body", "title"]))]));
}

fn empty_title_is_string_too_short() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": ""}));
    assert_422(&response, json!([too_short("")]));
}

fn title_of_100_chars_is_accepted() {
    let server = spawn_server();
    let title = "a".repeat(100);
    let response = post(server.addr(), &json!({ "title": title }));
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], title);
}

fn title_of_101_chars_is_string_too_long() {
    let server = spawn_server();
    let title = "a".repeat(101);
    let response = post(server.addr(), &json!({ "title": title }));
    assert_422(&response, json!([too_long(&title)]));
}

/// Length counts Unicode code points, not bytes: 100 emoji are 400 bytes but 100 characters.
fn title_of_100_emoji_is_accepted() {
    let server = spawn_server();
    let title = "😀".repeat(100);
    let response = post(server.addr(), &json!({ "title": title }));
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], title);
}

fn title_of_101_emoji_is_string_too_long() {
    let server = spawn_server();
    let title = "😀".repeat(101);
    let response = post(server.addr(), &json!({ "title": title }));
    assert_422(&response, json!([too_long(&title)]));
}

/// Length counts code points, not graphemes: 51 × `e` + U+0301 is 102 code points.
fn title_of_51_decomposed_e_acute_is_string_too_long() {
    let server = spawn_server();
    let title = "e\u{301}".repeat(51);
    let response = post(server.addr(), &json!({ "title": title }));
    assert_422(&response, json!([too_long(&title)]));
}

fn title_of_50_decomposed_e_acute_is_accepted() {
    let server = spawn_server();
    let title = "e\u{301}".repeat(50);
    let response = post(server.addr(), &json!({ "title": title }));
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["title"], title);
}

fn title_is_kept_verbatim() {
    let server = spawn_server();
    for (id, title) in (1..).zip(["  padded  ", "   ", "\t", "line 1\nline 2\r\n", "nul\0byte"]) {
        let response = post(server.addr(), &json!({ "title": title }));
        assert_eq!(response.status, 201, "{title:?}: {}", response.text());
        assert_eq!(response.json()["title"], title, "{title:?}");
        assert_eq!(get_task(server.addr(), id)["title"], title, "{title:?}");
    }
}

/// No trimming, so titles that differ only by spaces are different titles.
fn titles_differing_by_a_space_are_both_accepted() {
    let server = spawn_server();
    assert_eq!(create_task(server.addr(), "a"), 1);
    assert_eq!(create_task(server.addr(), "a "), 2);
    assert_eq!(create_task(server.addr(), " a"), 3);
}

fn number_title_is_string_type() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": 42}));
    assert_422(&response, json!([string_type("title", json!(42))]));
}

fn boolean_title_is_string_type() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": true}));
    assert_422(&response, json!([string_type("title", json!(true))]));
}

fn null_title_is_string_type() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": null}));
    assert_422(&response, json!([string_type("title", Value::Null)]));
}

fn array_title_is_string_type() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": ["a"]}));
    assert_422(&response, json!([string_type("title", json!(["a"]))]));
}

fn object_title_is_string_type() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": {"a": 1}}));
    assert_422(&response, json!([string_type("title", json!({"a": 1}))]));
}

// ---- §5 priority ------------------------------------------------------------------------------

fn priority_defaults_to_medium() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": "x"}));
    assert_eq!(response.status, 201);
    assert_eq!(response.json()["priority"], "medium");
}

fn each_priority_is_kept() {
    let server = spawn_server();
    for priority in ["low", "medium", "high"] {
        let response = post(
            server.addr(),
            &json!({"title": priority, "priority": priority}),
        );
        assert_eq!(response.status, 201, "{priority}: {}", response.text());
        assert_eq!(response.json()["priority"], priority);
    }
}

fn unknown_priority_is_value_error() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": "x", "priority": "urgent"}));
    assert_422(&response, json!([bad_priority("urgent")]));
}

fn priority_is_case_sensitive() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": "x", "priority": "HIGH"}));
    assert_422(&response, json!([bad_priority("HIGH")]));
}

fn priority_is_not_trimmed() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": "x", "priority": " high"}));
    assert_422(&response, json!([bad_priority(" high")]));
}

fn empty_priority_is_value_error() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": "x", "priority": ""}));
    assert_422(&response, json!([bad_priority("")]));
}

fn null_priority_is_string_type() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": "x", "priority": null}));
    assert_422(&response, json!([string_type("priority", Value::Null)]));
}

fn number_priority_is_string_type() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": "x", "priority": 3}));
    assert_422(&response, json!([string_type("priority", json!(3))]));
}

// ---- §5 done: the lax boolean table ------------------------------------------------------------

fn done_defaults_to_false() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": "x"}));
    assert_eq!(response.status, 201);
    assert_eq!(response.json()["done"], false);
}

fn done_booleans_are_themselves() {
    let server = spawn_server();
    assert_done_is(server.addr(), "true", true);
    assert_done_is(server.addr(), "false", false);
}

fn done_numbers_equal_to_0_or_1_are_booleans() {
    let server = spawn_server();
    for raw in ["0", "-0", "0.0", "-0.0", "0e5"] {
        assert_done_is(server.addr(), raw, false);
    }
    for raw in ["1", "1.0", "1e0", "10e-1"] {
        assert_done_is(server.addr(), raw, true);
    }
}

fn done_other_whole_numbers_are_bool_parsing() {
    let server = spawn_server();
    for raw in [
        "2",
        "-1",
        "2.0",
        "9223372036854775807",
        "-9223372036854775808",
    ] {
        assert_done_error(server.addr(), raw, bool_parsing);
    }
}

fn done_fractions_are_bool_type() {
    let server = spawn_server();
    for raw in ["0.5", "1.5", "-0.1"] {
        assert_done_error(server.addr(), raw, bool_type);
    }
}

fn done_whole_numbers_beyond_i64_are_bool_type() {
    let server = spawn_server();
    for raw in ["1e20", "9223372036854775808", "-1e19"] {
        assert_done_error(server.addr(), raw, bool_type);
    }
}

fn done_true_strings_in_any_case_are_true() {
    let server = spawn_server();
    for raw in [
        "1", "true", "t", "yes", "y", "on", "TRUE", "True", "T", "YeS", "Y", "ON",
    ] {
        assert_done_is(server.addr(), &json!(raw).to_string(), true);
    }
}

fn done_false_strings_in_any_case_are_false() {
    let server = spawn_server();
    for raw in [
        "0", "false", "f", "no", "n", "off", "FALSE", "F", "No", "N", "Off", "oFF",
    ] {
        assert_done_is(server.addr(), &json!(raw).to_string(), false);
    }
}

fn done_other_strings_are_bool_parsing() {
    let server = spawn_server();
    for raw in [
        " true", "true ", "maybe", "", "1.0", "2", "tru", "yess", "ja",
    ] {
        assert_done_error(server.addr(), &json!(raw).to_string(), bool_parsing);
    }
}

fn done_null_is_bool_type() {
    let server = spawn_server();
    assert_done_error(server.addr(), "null", bool_type);
}

fn done_array_is_bool_type() {
    let server = spawn_server();
    assert_done_error(server.addr(), "[true]", bool_type);
}

fn done_object_is_bool_type() {
    let server = spawn_server();
    assert_done_error(server.addr(), r#"{"done": true}"#, bool_type);
}

// ---- §4 step 8: error order --------------------------------------------------------------------

fn errors_come_in_order_title_priority_done_whatever_the_body_order() {
    let server = spawn_server();
    let response = post_json(
        server.addr(),
        "/tasks",
        r#"{"done": "maybe", "priority": "urgent", "title": ""}"#,
    );
    assert_422(
        &response,
        json!([
            too_short(""),
            bad_priority("urgent"),
            bool_parsing(json!("maybe"))
        ]),
    );
}

fn missing_title_comes_before_other_errors() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks", r#"{"done": null, "priority": 1}"#);
    assert_422(
        &response,
        json!([
            missing(json!(["body", "title"])),
            string_type("priority", json!(1)),
            bool_type(Value::Null),
        ]),
    );
}

fn invalid_body_creates_nothing_and_consumes_no_id() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": "x", "done": "maybe"}));
    assert_eq!(response.status, 422);
    assert_eq!(get(server.addr(), "/tasks").json(), json!([]));
    assert_eq!(create_task(server.addr(), "x"), 1);
}

// ---- §6 POST /tasks ---------------------------------------------------------------------------

fn create_is_201_with_the_exact_task() {
    let server = spawn_server();
    let response = post(server.addr(), &json!({"title": "Buy milk"}));
    assert_eq!(response.status, 201);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(
        response.text(),
        r#"{"id":1,"title":"Buy milk","priority":"medium","done":false,"attachment":null}"#
    );
    assert_eq!(
        response.header("Content-Length"),
        Some(response.body.len().to_string().as_str())
    );
}

/// RFC 9110 §15.3.2: a 201 names the new resource in `Location`.
fn create_sets_location_to_the_new_task() {
    let server = spawn_server();
    let first = post(server.addr(), &json!({"title": "a"}));
    assert_eq!(first.header("Location"), Some("/tasks/1"));
    let second = post(server.addr(), &json!({"title": "b"}));
    assert_eq!(second.header("Location"), Some("/tasks/2"));
}

fn create_keeps_all_given_fields() {
    let server = spawn_server();
    let response = post(
        server.addr(),
        &json!({"title": "x", "priority": "high", "done": true}),
    );
    assert_eq!(response.status, 201);
    assert_eq!(response.json(), task(1, "x", "high", true));
    assert_eq!(get_task(server.addr(), 1), task(1, "x", "high", true));
}

fn duplicate_title_is_409() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let response = post(server.addr(), &json!({"title": "Buy milk"}));
    assert_detail(&response, 409, json!(TITLE_TAKEN));
}

fn duplicate_title_is_409_whatever_the_other_fields() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let response = post(
        server.addr(),
        &json!({"title": "Buy milk", "priority": "high", "done": true}),
    );
    assert_detail(&response, 409, json!(TITLE_TAKEN));
    assert_eq!(
        get_task(server.addr(), 1),
        task(1, "Buy milk", "medium", false)
    );
}

fn duplicate_title_with_invalid_body_is_422_not_409() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let response = post(
        server.addr(),
        &json!({"title": "Buy milk", "priority": "urgent"}),
    );
    assert_422(&response, json!([bad_priority("urgent")]));
}

fn conflict_consumes_no_id() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    assert_eq!(post(server.addr(), &json!({"title": "a"})).status, 409);
    assert_eq!(create_task(server.addr(), "b"), 2);
}

fn titles_are_case_sensitive() {
    let server = spawn_server();
    assert_eq!(create_task(server.addr(), "Buy milk"), 1);
    assert_eq!(create_task(server.addr(), "buy milk"), 2);
    assert_eq!(create_task(server.addr(), "BUY MILK"), 3);
}

/// No Unicode normalisation: `Café` in NFC and in NFD are two titles.
fn nfc_and_nfd_titles_are_different() {
    let server = spawn_server();
    assert_eq!(create_task(server.addr(), "Caf\u{e9}"), 1);
    assert_eq!(create_task(server.addr(), "Cafe\u{301}"), 2);
    assert_eq!(get_task(server.addr(), 2)["title"], "Cafe\u{301}");
}

fn deleted_tasks_title_is_free_again() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    assert_eq!(delete(server.addr(), "/tasks/1").status, 204);
    let response = post(server.addr(), &json!({"title": "Buy milk"}));
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json(), task(2, "Buy milk", "medium", false));
}

fn create_ignores_the_query_string() {
    let server = spawn_server();
    let response = post_json(
        server.addr(),
        "/tasks?title=from+query&done=true",
        r#"{"title":"from body"}"#,
    );
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json(), task(1, "from body", "medium", false));
    assert_eq!(response.header("Location"), Some("/tasks/1"));
}

fn query_string_does_not_supply_a_missing_title() {
    let server = spawn_server();
    let response = post_json(server.addr(), "/tasks?title=x", "{}");
    assert_422(&response, json!([missing(json!(["body", "title"]))]));
}

// ---- §8 GET /tasks/{task_id} ------------------------------------------------------------------

fn get_task_is_200_with_the_exact_task() {
    let server = spawn_server();
    create_task(server.addr(), "Buy milk");
    let response = get(server.addr(), "/tasks/1");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(
        response.text(),
        r#"{"id":1,"title":"Buy milk","priority":"medium","done":false,"attachment":null}"#
    );
}

fn get_missing_task_is_404() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = get(server.addr(), "/tasks/2");
    assert_detail(&response, 404, json!("Task 2 not found"));
}

fn get_bad_id_is_422() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks/abc");
    assert_422(&response, json!([bad_id("abc")]));
}

// ---- §8 DELETE /tasks/{task_id} ---------------------------------------------------------------

fn delete_task_is_204_with_no_body() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = delete(server.addr(), "/tasks/1");
    assert_eq!(response.status, 204);
    assert!(response.body.is_empty(), "{}", response.text());
}

fn deleted_task_is_404() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    assert_eq!(delete(server.addr(), "/tasks/1").status, 204);
    let response = get(server.addr(), "/tasks/1");
    assert_detail(&response, 404, json!("Task 1 not found"));
}

fn delete_twice_is_404() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    assert_eq!(delete(server.addr(), "/tasks/1").status, 204);
    let response = delete(server.addr(), "/tasks/1");
    assert_detail(&response, 404, json!("Task 1 not found"));
}

fn delete_missing_task_is_404() {
    let server = spawn_server();
    let response = delete(server.addr(), "/tasks/7");
    assert_detail(&response, 404, json!("Task 7 not found"));
}

fn delete_bad_id_is_422() {
    let server = spawn_server();
    let response = delete(server.addr(), "/tasks/1.5");
    assert_422(&response, json!([bad_id("1.5")]));
}

fn delete_leaves_other_tasks() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    create_task(server.addr(), "b");
    assert_eq!(delete(server.addr(), "/tasks/1").status, 204);
    assert_eq!(get_task(server.addr(), 2), task(2, "b", "medium", false));
}

// ---- §8 PATCH /tasks/{task_id} ----------------------------------------------------------------

fn patch_updates_only_the_given_field() {
    let server = spawn_server();
    post(
        server.addr(),
        &json!({"title": "a", "priority": "low", "done": true}),
    );
    let response = patch(server.addr(), 1, &json!({"priority": "high"}));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), task(1, "a", "high", true));
    assert_eq!(get_task(server.addr(), 1), task(1, "a", "high", true));
}

fn patch_updates_every_field() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch(
        server.addr(),
        1,
        &json!({"title": "b", "priority": "low", "done": "yes"}),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), task(1, "b", "low", true));
    assert_eq!(get_task(server.addr(), 1), task(1, "b", "low", true));
}

fn patch_response_is_the_whole_task_with_attachment() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch(server.addr(), 1, &json!({"done": true}));
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(
        response.text(),
        r#"{"id":1,"title":"a","priority":"medium","done":true,"attachment":null}"#
    );
}

fn patch_with_empty_object_changes_nothing() {
    let server = spawn_server();
    post(
        server.addr(),
        &json!({"title": "a", "priority": "high", "done": true}),
    );
    let response = patch(server.addr(), 1, &json!({}));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), task(1, "a", "high", true));
    assert_eq!(get_task(server.addr(), 1), task(1, "a", "high", true));
}

fn patch_null_title_is_string_type() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch(server.addr(), 1, &json!({"title": null}));
    assert_422(&response, json!([string_type("title", Value::Null)]));
}

fn patch_null_priority_is_string_type() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch(server.addr(), 1, &json!({"priority": null}));
    assert_422(&response, json!([string_type("priority", Value::Null)]));
}

fn patch_null_done_is_bool_type() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch(server.addr(), 1, &json!({"done": null}));
    assert_422(&response, json!([bool_type(Value::Null)]));
}

fn patch_errors_come_in_order_title_priority_done() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let long = "x".repeat(101);
    let body = format!(r#"{{"done": 2, "priority": "Low", "title": "{long}"}}"#);
    let response = patch_json(server.addr(), "/tasks/1", &body);
    assert_422(
        &response,
        json!([too_long(&long), bad_priority("Low"), bool_parsing(json!(2))]),
    );
}

fn patch_missing_task_is_404() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch(server.addr(), 5, &json!({"done": true}));
    assert_detail(&response, 404, json!("Task 5 not found"));
}

fn patch_invalid_body_on_missing_task_is_422_not_404() {
    let server = spawn_server();
    let response = patch(server.addr(), 5, &json!({"title": ""}));
    assert_422(&response, json!([too_short("")]));
}

fn patch_to_another_tasks_title_is_409() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    create_task(server.addr(), "b");
    let response = patch(server.addr(), 2, &json!({"title": "a"}));
    assert_detail(&response, 409, json!(TITLE_TAKEN));
}

fn patch_to_own_title_is_200() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch(server.addr(), 1, &json!({"title": "a", "done": true}));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), task(1, "a", "medium", true));
}

fn patch_taken_title_on_missing_task_is_404_not_409() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch(server.addr(), 9, &json!({"title": "a"}));
    assert_detail(&response, 404, json!("Task 9 not found"));
}

fn patch_409_changes_nothing() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    create_task(server.addr(), "b");
    let response = patch(
        server.addr(),
        2,
        &json!({"title": "a", "priority": "high", "done": true}),
    );
    assert_eq!(response.status, 409, "{}", response.text());
    assert_eq!(get_task(server.addr(), 2), task(2, "b", "medium", false));
    assert_eq!(get_task(server.addr(), 1), task(1, "a", "medium", false));
}

fn patch_422_changes_nothing_not_even_valid_fields() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch(
        server.addr(),
        1,
        &json!({"title": "b", "priority": "urgent", "done": true}),
    );
    assert_422(&response, json!([bad_priority("urgent")]));
    assert_eq!(get_task(server.addr(), 1), task(1, "a", "medium", false));
    // The title "b" was not taken either.
    assert_eq!(create_task(server.addr(), "b"), 2);
}

fn patch_rename_frees_the_old_title() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    assert_eq!(patch(server.addr(), 1, &json!({"title": "b"})).status, 200);
    assert_eq!(create_task(server.addr(), "a"), 2);
    let response = post(server.addr(), &json!({"title": "b"}));
    assert_detail(&response, 409, json!(TITLE_TAKEN));
}

fn patch_with_empty_body_is_missing_body() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let response = patch_json(server.addr(), "/tasks/1", "");
    assert_422(&response, json!([missing(json!(["body"]))]));
}

fn patch_without_body_or_content_type_is_missing_body() {
    let server = spawn_server();
    create_task(server.addr(), "a");
    let raw = format!(
        "PATCH /tasks/1 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr()
    );
    let response = send_raw(server.addr(), raw.as_bytes());
    assert_422(&response, json!([missing(json!(["body"]))]));
    assert_eq!(get_task(server.addr(), 1), task(1, "a", "medium", false));
}

fn patch_bad_id_without_body_is_int_parsing_then_missing() {
    let server = spawn_server();
    let response = request(server.addr(), "PATCH", "/tasks/abc", &[], b"");
    assert_422(&response, json!([bad_id("abc"), missing(json!(["body"]))]));
}

fn patch_missing_task_without_body_is_422_not_404() {
    let server = spawn_server();
    let response = request(server.addr(), "PATCH", "/tasks/3", &[], b"");
    assert_422(&response, json!([missing(json!(["body"]))]));
}

// Every test above, once per storage backend (tests/common/backend.rs).
backend_tests! {
    title_is_required,
    empty_title_is_string_too_short,
    title_of_100_chars_is_accepted,
    title_of_101_chars_is_string_too_long,
    title_of_100_emoji_is_accepted,
    title_of_101_emoji_is_string_too_long,
    title_of_51_decomposed_e_acute_is_string_too_long,
    title_of_50_decomposed_e_acute_is_accepted,
    title_is_kept_verbatim,
    titles_differing_by_a_space_are_both_accepted,
    number_title_is_string_type,
    boolean_title_is_string_type,
    null_title_is_string_type,
    array_title_is_string_type,
    object_title_is_string_type,
    priority_defaults_to_medium,
    each_priority_is_kept,
    unknown_priority_is_value_error,
    priority_is_case_sensitive,
    priority_is_not_trimmed,
    empty_priority_is_value_error,
    null_priority_is_string_type,
    number_priority_is_string_type,
    done_defaults_to_false,
    done_booleans_are_themselves,
    done_numbers_equal_to_0_or_1_are_booleans,
    done_other_whole_numbers_are_bool_parsing,
    done_fractions_are_bool_type,
    done_whole_numbers_beyond_i64_are_bool_type,
    done_true_strings_in_any_case_are_true,
    done_false_strings_in_any_case_are_false,
    done_other_strings_are_bool_parsing,
    done_null_is_bool_type,
    done_array_is_bool_type,
    done_object_is_bool_type,
    errors_come_in_order_title_priority_done_whatever_the_body_order,
    missing_title_comes_before_other_errors,
    invalid_body_creates_nothing_and_consumes_no_id,
    create_is_201_with_the_exact_task,
    create_sets_location_to_the_new_task,
    create_keeps_all_given_fields,
    duplicate_title_is_409,
    duplicate_title_is_409_whatever_the_other_fields,
    duplicate_title_with_invalid_body_is_422_not_409,
    conflict_consumes_no_id,
    titles_are_case_sensitive,
    nfc_and_nfd_titles_are_different,
    deleted_tasks_title_is_free_again,
    create_ignores_the_query_string,
    query_string_does_not_supply_a_missing_title,
    get_task_is_200_with_the_exact_task,
    get_missing_task_is_404,
    get_bad_id_is_422,
    delete_task_is_204_with_no_body,
    deleted_task_is_404,
    delete_twice_is_404,
    delete_missing_task_is_404,
    delete_bad_id_is_422,
    delete_leaves_other_tasks,
    patch_updates_only_the_given_field,
    patch_updates_every_field,
    patch_response_is_the_whole_task_with_attachment,
    patch_with_empty_object_changes_nothing,
    patch_null_title_is_string_type,
    patch_null_priority_is_string_type,
    patch_null_done_is_bool_type,
    patch_errors_come_in_order_title_priority_done,
    patch_missing_task_is_404,
    patch_invalid_body_on_missing_task_is_422_not_404,
    patch_to_another_tasks_title_is_409,
    patch_to_own_title_is_200,
    patch_taken_title_on_missing_task_is_404_not_409,
    patch_409_changes_nothing,
    patch_422_changes_nothing_not_even_valid_fields,
    patch_rename_frees_the_old_title,
    patch_with_empty_body_is_missing_body,
    patch_without_body_or_content_type_is_missing_body,
    patch_bad_id_without_body_is_int_parsing_then_missing,
    patch_missing_task_without_body_is_422_not_404,
}
