//! `GET /tasks`, the list (CONTRACT §7): id order, the `done` / `priority` filters, `skip` and
//! `limit`, and the 422 for each bad query value.

use crate::common;
use common::*;

use std::net::SocketAddr;

use serde_json::{json, Value};

// ---- helpers ----------------------------------------------------------------------------------

/// Creates a task with every field given and returns its id.
fn create(addr: SocketAddr, title: &str, priority: &str, done: bool) -> u64 {
    let body = json!({"title": title, "priority": priority, "done": done}).to_string();
    let response = post_json(addr, "/tasks", &body);
    assert_eq!(response.status, 201, "create {title}: {}", response.text());
    response.json()["id"].as_u64().expect("id")
}

/// Creates `n` tasks titled `t1`, `t2`, ...
fn create_many(addr: SocketAddr, n: usize) {
    for i in 1..=n {
        create_task(addr, &format!("t{i}"));
    }
}

/// The ids listed by `GET <target>`, asserting a 200.
fn ids(addr: SocketAddr, target: &str) -> Vec<u64> {
    let response = get(addr, target);
    assert_eq!(response.status, 200, "{target}: {}", response.text());
    let list = response.json();
    let tasks = list.as_array().expect("the list is an array");
    tasks
        .iter()
        .map(|t| t["id"].as_u64().expect("id"))
        .collect()
}

/// Tasks 1..=6 with every combination that the filter tests need.
fn mixed(addr: SocketAddr) {
    create(addr, "a", "high", true); // 1
    create(addr, "b", "low", false); // 2
    create(addr, "c", "high", false); // 3
    create(addr, "d", "medium", true); // 4
    create(addr, "e", "high", true); // 5
    create(addr, "f", "low", true); // 6
}

fn assert_422(response: &Response, items: Value) {
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.detail(), items);
}

fn bool_parsing(input: &str) -> Value {
    json!({
        "type": "bool_parsing",
        "loc": ["query", "done"],
        "msg": "Input should be a valid boolean, unable to interpret input",
        "input": input,
    })
}

fn bad_priority(input: &str) -> Value {
    json!({
        "type": "value_error",
        "loc": ["query", "priority"],
        "msg": PRIORITY_MSG,
        "input": input,
        "ctx": {"error": {}},
    })
}

fn int_parsing(name: &str, input: &str) -> Value {
    json!({"type": "int_parsing", "loc": ["query", name], "msg": INT_PARSING, "input": input})
}

fn negative(name: &str, input: &str) -> Value {
    json!({
        "type": "greater_than_equal",
        "loc": ["query", name],
        "msg": "Input should be greater than or equal to 0",
        "input": input,
        "ctx": {"ge": 0},
    })
}

fn over_1000(input: &str) -> Value {
    json!({
        "type": "less_than_equal",
        "loc": ["query", "limit"],
        "msg": "Input should be less than or equal to 1000",
        "input": input,
        "ctx": {"le": 1000},
    })
}

// ---- the list ---------------------------------------------------------------------------------

fn empty_list_is_an_empty_array() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.text(), "[]");
}

fn list_returns_whole_tasks_in_ascending_id_order() {
    let server = spawn_server();
    create(server.addr(), "zebra", "low", true);
    create(server.addr(), "apple", "high", false);
    create(server.addr(), "mango", "medium", false);
    let response = get(server.addr(), "/tasks");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.text(),
        concat!(
            r#"[{"id":1,"title":"zebra","priority":"low","done":true,"attachment":null},"#,
            r#"{"id":2,"title":"apple","priority":"high","done":false,"attachment":null},"#,
            r#"{"id":3,"title":"mango","priority":"medium","done":false,"attachment":null}]"#
        )
    );
}

fn list_omits_deleted_tasks_and_keeps_id_order() {
    let server = spawn_server();
    create_many(server.addr(), 3);
    assert_eq!(delete(server.addr(), "/tasks/2").status, 204);
    create_task(server.addr(), "t4");
    assert_eq!(ids(server.addr(), "/tasks"), [1, 3, 4]);
}

fn list_ids_are_in_numeric_not_text_order() {
    let server = spawn_server();
    create_many(server.addr(), 12);
    assert_eq!(ids(server.addr(), "/tasks"), (1..=12).collect::<Vec<_>>());
}

// ---- filters ----------------------------------------------------------------------------------

fn done_true_lists_only_done_tasks() {
    let server = spawn_server();
    mixed(server.addr());
    assert_eq!(ids(server.addr(), "/tasks?done=true"), [1, 4, 5, 6]);
}

fn done_false_lists_only_open_tasks() {
    let server = spawn_server();
    mixed(server.addr());
    assert_eq!(ids(server.addr(), "/tasks?done=false"), [2, 3]);
}

fn done_filter_follows_the_lax_string_rules() {
    let server = spawn_server();
    mixed(server.addr());
    for value in ["1", "t", "yes", "y", "on", "True", "YES", "On"] {
        let target = format!("/tasks?done={value}");
        assert_eq!(ids(server.addr(), &target), [1, 4, 5, 6], "{target}");
    }
    for value in ["0", "f", "no", "n", "off", "Off", "FALSE", "N"] {
        let target = format!("/tasks?done={value}");
        assert_eq!(ids(server.addr(), &target), [2, 3], "{target}");
    }
}

fn priority_filter_lists_only_that_priority() {
    let server = spawn_server();
    mixed(server.addr());
    assert_eq!(ids(server.addr(), "/tasks?priority=high"), [1, 3, 5]);
    assert_eq!(ids(server.addr(), "/tasks?priority=low"), [2, 6]);
    assert_eq!(ids(server.addr(), "/tasks?priority=medium"), [4]);
}

fn both_filters_apply_together() {
    let server = spawn_server();
    mixed(server.addr());
    assert_eq!(ids(server.addr(), "/tasks?done=true&priority=high"), [1, 5]);
    assert_eq!(
        ids(server.addr(), "/tasks?priority=medium&done=false"),
        [] as [u64; 0]
    );
}

/// The query is form-encoded: `%68igh` is `high`.
fn query_values_are_percent_decoded() {
    let server = spawn_server();
    mixed(server.addr());
    assert_eq!(ids(server.addr(), "/tasks?priority=%68igh"), [1, 3, 5]);
    assert_eq!(ids(server.addr(), "/tasks?%64one=%74rue"), [1, 4, 5, 6]);
}

// ---- skip and limit ---------------------------------------------------------------------------

fn skip_drops_the_first_tasks() {
    let server = spawn_server();
    create_many(server.addr(), 5);
    assert_eq!(ids(server.addr(), "/tasks?skip=2"), [3, 4, 5]);
}

fn skip_zero_drops_nothing() {
    let server = spawn_server();
    create_many(server.addr(), 3);
    assert_eq!(ids(server.addr(), "/tasks?skip=0"), [1, 2, 3]);
}

fn limit_caps_the_number_of_tasks() {
    let server = spawn_server();
    create_many(server.addr(), 5);
    assert_eq!(ids(server.addr(), "/tasks?limit=2"), [1, 2]);
}

fn limit_zero_is_an_empty_list() {
    let server = spawn_server();
    create_many(server.addr(), 3);
    let response = get(server.addr(), "/tasks?limit=0");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "[]");
}

fn skip_past_the_end_is_an_empty_list() {
    let server = spawn_server();
    create_many(server.addr(), 3);
    assert_eq!(ids(server.addr(), "/tasks?skip=3"), [] as [u64; 0]);
    assert_eq!(ids(server.addr(), "/tasks?skip=4"), [] as [u64; 0]);
}

fn huge_skip_is_an_empty_list() {
    let server = spawn_server();
    create_many(server.addr(), 3);
    for skip in ["18446744073709551616", &"9".repeat(60)] {
        let target = format!("/tasks?skip={skip}");
        assert_eq!(ids(server.addr(), &target), [] as [u64; 0], "{target}");
    }
}

fn limit_defaults_to_100() {
    let server = spawn_server();
    create_many(server.addr(), 101);
    assert_eq!(ids(server.addr(), "/tasks"), (1..=100).collect::<Vec<_>>());
    assert_eq!(ids(server.addr(), "/tasks?skip=100"), [101]);
}

fn limit_above_the_default_returns_more() {
    let server = spawn_server();
    create_many(server.addr(), 101);
    assert_eq!(
        ids(server.addr(), "/tasks?limit=1000"),
        (1..=101).collect::<Vec<_>>()
    );
}

fn limit_1000_is_the_largest_allowed() {
    let server = spawn_server();
    create_many(server.addr(), 2);
    assert_eq!(ids(server.addr(), "/tasks?limit=1000"), [1, 2]);
    let response = get(server.addr(), "/tasks?limit=1001");
    assert_422(&response, json!([over_1000("1001")]));
}

/// An optional sign: `+2` (sent as `%2B2`) is 2, leading zeros are fine.
fn skip_and_limit_accept_a_plus_sign_and_leading_zeros() {
    let server = spawn_server();
    create_many(server.addr(), 5);
    assert_eq!(ids(server.addr(), "/tasks?skip=%2B1&limit=002"), [2, 3]);
}

/// `-0` is not negative (assumption: pydantic reads it as 0).
fn minus_zero_skip_is_zero() {
    let server = spawn_server();
    create_many(server.addr(), 2);
    assert_eq!(ids(server.addr(), "/tasks?skip=-0"), [1, 2]);
}

fn filters_apply_before_skip_and_skip_before_limit() {
    let server = spawn_server();
    mixed(server.addr());
    // done=true matches 1, 4, 5, 6; skip 1 leaves 4, 5, 6; limit 2 leaves 4, 5.
    assert_eq!(
        ids(server.addr(), "/tasks?limit=2&skip=1&done=true"),
        [4, 5]
    );
    // priority=high matches 1, 3, 5; skip 2 leaves 5.
    assert_eq!(
        ids(server.addr(), "/tasks?skip=2&priority=high&limit=5"),
        [5]
    );
}

// ---- other parameters -------------------------------------------------------------------------

fn unknown_parameters_are_ignored() {
    let server = spawn_server();
    create_many(server.addr(), 2);
    assert_eq!(
        ids(server.addr(), "/tasks?color=red&title=t1&id=2&sort=desc"),
        [1, 2]
    );
}

fn repeated_parameter_last_one_wins() {
    let server = spawn_server();
    mixed(server.addr());
    assert_eq!(ids(server.addr(), "/tasks?done=maybe&done=false"), [2, 3]);
    assert_eq!(ids(server.addr(), "/tasks?limit=1&limit=3"), [1, 2, 3]);
}

fn repeated_parameter_bad_last_value_is_422() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?done=true&done=maybe");
    assert_422(&response, json!([bool_parsing("maybe")]));
}

// ---- bad values -------------------------------------------------------------------------------

fn bad_done_is_bool_parsing() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?done=maybe");
    assert_422(&response, json!([bool_parsing("maybe")]));
}

fn empty_done_is_bool_parsing() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?done=");
    assert_422(&response, json!([bool_parsing("")]));
}

/// Form encoding: `+` is a space, and `" true"` is not trimmed.
fn done_with_a_plus_is_a_padded_string_and_bool_parsing() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?done=+true");
    assert_422(&response, json!([bool_parsing(" true")]));
}

fn bad_priority_is_value_error() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?priority=urgent");
    assert_422(&response, json!([bad_priority("urgent")]));
}

fn priority_filter_is_case_sensitive() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?priority=HIGH");
    assert_422(&response, json!([bad_priority("HIGH")]));
}

fn empty_priority_is_value_error() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?priority=");
    assert_422(&response, json!([bad_priority("")]));
}

fn non_integer_skip_is_int_parsing() {
    let server = spawn_server();
    for value in ["abc", "1.0", "1e3", "", " 1", "0x1", "1_0"] {
        let encoded: String = url_encode(value);
        let response = get(server.addr(), &format!("/tasks?skip={encoded}"));
        assert_422(&response, json!([int_parsing("skip", value)]));
    }
}

fn negative_skip_is_greater_than_equal() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?skip=-1");
    assert_422(&response, json!([negative("skip", "-1")]));
}

fn non_integer_limit_is_int_parsing() {
    let server = spawn_server();
    for value in ["abc", "10.5", "", "ten", "1 "] {
        let encoded: String = url_encode(value);
        let response = get(server.addr(), &format!("/tasks?limit={encoded}"));
        assert_422(&response, json!([int_parsing("limit", value)]));
    }
}

fn negative_limit_is_greater_than_equal() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?limit=-5");
    assert_422(&response, json!([negative("limit", "-5")]));
}

fn limit_over_1000_is_less_than_equal() {
    let server = spawn_server();
    let response = get(server.addr(), "/tasks?limit=1001");
    assert_422(&response, json!([over_1000("1001")]));
}

/// However many digits, a limit over 1000 is `less_than_equal`, not `int_parsing`.
fn huge_limit_is_less_than_equal() {
    let server = spawn_server();
    let huge = "9".repeat(40);
    let response = get(server.addr(), &format!("/tasks?limit={huge}"));
    assert_422(&response, json!([over_1000(&huge)]));
}

fn several_bad_values_come_in_order_done_priority_skip_limit() {
    let server = spawn_server();
    let response = get(
        server.addr(),
        "/tasks?limit=1001&skip=-1&priority=HIGH&done=maybe",
    );
    assert_422(
        &response,
        json!([
            bool_parsing("maybe"),
            bad_priority("HIGH"),
            negative("skip", "-1"),
            over_1000("1001"),
        ]),
    );
}

fn one_bad_value_with_good_ones_is_only_that_item() {
    let server = spawn_server();
    create_many(server.addr(), 2);
    let response = get(
        server.addr(),
        "/tasks?done=true&priority=low&skip=x&limit=5",
    );
    assert_422(&response, json!([int_parsing("skip", "x")]));
}

/// Percent-encodes every byte that is not unreserved (RFC 3986 §2.3).
fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// Every test above, once per storage backend (tests/common/backend.rs).
backend_tests! {
    empty_list_is_an_empty_array,
    list_returns_whole_tasks_in_ascending_id_order,
    list_omits_deleted_tasks_and_keeps_id_order,
    list_ids_are_in_numeric_not_text_order,
    done_true_lists_only_done_tasks,
    done_false_lists_only_open_tasks,
    done_filter_follows_the_lax_string_rules,
    priority_filter_lists_only_that_priority,
    both_filters_apply_together,
    query_values_are_percent_decoded,
    skip_drops_the_first_tasks,
    skip_zero_drops_nothing,
    limit_caps_the_number_of_tasks,
    limit_zero_is_an_empty_list,
    skip_past_the_end_is_an_empty_list,
    huge_skip_is_an_empty_list,
    limit_defaults_to_100,
    limit_above_the_default_returns_more,
    limit_1000_is_the_largest_allowed,
    skip_and_limit_accept_a_plus_sign_and_leading_zeros,
    minus_zero_skip_is_zero,
    filters_apply_before_skip_and_skip_before_limit,
    unknown_parameters_are_ignored,
    repeated_parameter_last_one_wins,
    repeated_parameter_bad_last_value_is_422,
    bad_done_is_bool_parsing,
    empty_done_is_bool_parsing,
    done_with_a_plus_is_a_padded_string_and_bool_parsing,
    bad_priority_is_value_error,
    priority_filter_is_case_sensitive,
    empty_priority_is_value_error,
    non_integer_skip_is_int_parsing,
    negative_skip_is_greater_than_equal,
    non_integer_limit_is_int_parsing,
    negative_limit_is_greater_than_equal,
    limit_over_1000_is_less_than_equal,
    huge_limit_is_less_than_equal,
    several_bad_values_come_in_order_done_priority_skip_limit,
    one_bad_value_with_good_ones_is_only_that_item,
}
