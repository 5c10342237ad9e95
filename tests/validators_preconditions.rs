//! CONTRACT §11's conditional requests over HTTP: RFC 9110 §13.2.2's evaluation order on every
//! validated resource and method, the 304 and the 412 as sent, what happens when the resource
//! does not exist, and `POST /tasks` ignoring them.

use crate::common;
use common::*;

use std::net::SocketAddr;

use serde_json::json;

fn with(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, method, target, headers, b"")
}

fn tag(response: &Response) -> String {
    response.header("ETag").expect("an ETag").to_owned()
}

/// A server with task 1 and its attachment; returns it with the task's and the attachment's tags.
fn server_with_attachment() -> (TestServer, String, String) {
    let server = server_with_task();
    let uploaded = upload(
        server.addr(),
        1,
        "notes.txt",
        Some("text/plain"),
        b"0123456789",
    );
    assert_eq!(uploaded.status, 200);
    let task = tag(&get(server.addr(), "/tasks/1"));
    (server, task, tag(&uploaded))
}

/// RFC 9110 §15.4.5: a 304 has the tag and Cache-Control, and no content or framing fields.
fn assert_not_modified(response: &Response, tag: &str) {
    assert_eq!(response.status, 304, "{}", response.text());
    assert_eq!(response.header("ETag"), Some(tag));
    assert_eq!(response.header("Cache-Control"), Some("no-cache"));
    assert!(response.has_header("Date"));
    for absent in [
        "Content-Type",
        "Content-Length",
        "Last-Modified",
        "Content-Range",
    ] {
        assert!(!response.has_header(absent), "{absent} on a 304");
    }
    assert!(after_head(response).is_empty(), "a 304 has no body");
}

fn if_none_match_gives_304_on_every_validated_get_and_head() {
    let (server, task, attachment) = server_with_attachment();
    let addr = server.addr();
    let list = tag(&get(addr, "/tasks"));
    for (target, current) in [
        ("/tasks/1", &task),
        ("/tasks/1/attachment", &attachment),
        ("/tasks", &list),
    ] {
        for method in ["GET", "HEAD"] {
            let response = with(addr, method, target, &[("If-None-Match", current)]);
            assert_not_modified(&response, current);
        }
    }
}

/// §13.1.2: weak comparison, `*`, lists; a tag that does not match gives the full 200.
fn if_none_match_compares_weakly_and_reads_lists() {
    let server = server_with_task();
    let addr = server.addr();
    let current = tag(&get(addr, "/tasks/1"));
    let weak = format!("W/{current}");
    let listed = format!("\"other\", {current}");
    for value in [weak.as_str(), listed.as_str(), "*"] {
        let response = with(addr, "GET", "/tasks/1", &[("If-None-Match", value)]);
        assert_not_modified(&response, &current);
    }
    for value in ["\"other\"", "W/\"other\"", "not a tag"] {
        let response = with(addr, "GET", "/tasks/1", &[("If-None-Match", value)]);
        assert_eq!(response.status, 200, "{value}");
        assert_eq!(response.json()["title"], "Report");
    }
}

/// §13.2.2 step 1: If-Match applies to GET too; `*` means "it exists".
fn if_match_on_a_get_can_give_412() {
    let (server, task, attachment) = server_with_attachment();
    let addr = server.addr();
    for (target, current) in [("/tasks/1", &task), ("/tasks/1/attachment", &attachment)] {
        let stale = with(addr, "GET", target, &[("If-Match", "\"stale\"")]);
        assert_error(&stale, 412, "Precondition Failed");
        for value in [current.as_str(), "*"] {
            let fine = with(addr, "GET", target, &[("If-Match", value)]);
            assert_eq!(fine.status, 200, "{target} {value}");
        }
        // Strong comparison: a weak copy of the current tag does not match.
        let weak = format!("W/{current}");
        let weak = with(addr, "GET", target, &[("If-Match", &weak)]);
        assert_eq!(weak.status, 412);
    }
    let list = with(addr, "GET", "/tasks", &[("If-Match", "\"stale\"")]);
    assert_error(&list, 412, "Precondition Failed");
}

/// The lost update If-Match exists for (§13.1.1): a client that did not see a change cannot
/// overwrite it, and the 412 changes nothing.
fn a_stale_if_match_refuses_patch_and_changes_nothing() {
    let server = server_with_task();
    let addr = server.addr();
    let seen = tag(&get(addr, "/tasks/1"));
    let json_type = ("Content-Type", "application/json");
    let first = request(
        addr,
        "PATCH",
        "/tasks/1",
        &[json_type, ("If-Match", &seen)],
        br#"{"done":true}"#,
    );
    assert_eq!(first.status, 200);
    assert_ne!(tag(&first), seen);
    let second = request(
        addr,
        "PATCH",
        "/tasks/1",
        &[json_type, ("If-Match", &seen)],
        br#"{"priority":"low"}"#,
    );
    assert_error(&second, 412, "Precondition Failed");
    let task = get(addr, "/tasks/1").json();
    assert_eq!(
        (task["done"].clone(), task["priority"].clone()),
        (json!(true), json!("medium"))
    );
}

/// §13.1.2: If-None-Match false on a method other than GET/HEAD is 412, not 304.
fn if_none_match_on_a_change_is_412() {
    let (server, task, attachment) = server_with_attachment();
    let addr = server.addr();
    let patch = request(
        addr,
        "PATCH",
        "/tasks/1",
        &[("Content-Type", "application/json"), ("If-None-Match", "*")],
        b"{}",
    );
    assert_error(&patch, 412, "Precondition Failed");
    let delete = with(
        addr,
        "DELETE",
        "/tasks/1/attachment",
        &[("If-None-Match", &attachment)],
    );
    assert_error(&delete, 412, "Precondition Failed");
    let delete = with(addr, "DELETE", "/tasks/1", &[("If-None-Match", &task)]);
    assert_error(&delete, 412, "Precondition Failed");
    assert_eq!(
        get(addr, "/tasks/1/attachment").status,
        200,
        "nothing changed"
    );
}

fn deletes_are_conditional_on_their_own_tags() {
    let (server, task, attachment) = server_with_attachment();
    let addr = server.addr();
    // The task's tag does not validate the attachment, nor the reverse.
    let wrong = with(
        addr,
        "DELETE",
        "/tasks/1/attachment",
        &[("If-Match", &task)],
    );
    assert_eq!(wrong.status, 412);
    let right = with(
        addr,
        "DELETE",
        "/tasks/1/attachment",
        &[("If-Match", &attachment)],
    );
    assert_eq!(right.status, 204);
    let stale = with(addr, "DELETE", "/tasks/1", &[("If-Match", &task)]);
    assert_eq!(
        stale.status, 412,
        "the task changed when its attachment went"
    );
    let current = tag(&get(addr, "/tasks/1"));
    let fine = with(addr, "DELETE", "/tasks/1", &[("If-Match", &current)]);
    assert_eq!(fine.status, 204);
}

/// CONTRACT §11: an upload to a task without an attachment has no current representation:
/// If-Match (even `*`) fails; `If-None-Match: *` means "only if there is none yet".
fn uploads_without_a_current_attachment() {
    let server = server_with_task();
    let addr = server.addr();
    let conditional_upload = |name: &str, value: &str| {
        let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), b"abc")]);
        let form = form_type();
        request(
            addr,
            "POST",
            "/tasks/1/attachment",
            &[("Content-Type", &form), (name, value)],
            &body,
        )
    };
    for value in ["*", "\"anything\""] {
        assert_error(
            &conditional_upload("If-Match", value),
            412,
            "Precondition Failed",
        );
    }
    let created = conditional_upload("If-None-Match", "*");
    assert_eq!(created.status, 200);
    let again = conditional_upload("If-None-Match", "*");
    assert_error(&again, 412, "Precondition Failed");
    let current = tag(&created);
    let replaced = conditional_upload("If-Match", &current);
    assert_eq!(replaced.status, 200);
    assert_eq!(
        tag(&replaced),
        current,
        "the same bytes, type and name: the same tag"
    );
}

/// CONTRACT §11: a task or attachment that is not there is a 404 whatever the preconditions,
/// and a bad id stays a 422.
fn missing_resources_stay_404_and_bad_ids_422() {
    let server = server_with_task();
    let addr = server.addr();
    for (method, target) in [
        ("GET", "/tasks/9"),
        ("DELETE", "/tasks/9"),
        ("GET", "/tasks/1/attachment"),
        ("DELETE", "/tasks/1/attachment"),
    ] {
        for field in ["If-Match", "If-None-Match"] {
            let response = with(addr, method, target, &[(field, "*")]);
            assert_eq!(response.status, 404, "{method} {target} {field}");
        }
    }
    let bad = with(addr, "GET", "/tasks/abc", &[("If-Match", "\"x\"")]);
    assert_eq!(bad.status, 422);
}

/// CONTRACT §11: `POST /tasks` ignores precondition fields.
fn create_ignores_preconditions() {
    let server = spawn_server();
    let addr = server.addr();
    let response = request(
        addr,
        "POST",
        "/tasks",
        &[
            ("Content-Type", "application/json"),
            ("If-Match", "\"nothing\""),
            ("If-None-Match", "*"),
            ("If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ],
        br#"{"title":"made anyway"}"#,
    );
    assert_eq!(response.status, 201);
}

/// §13.1.3, §13.1.4: dates in all three HTTP-date formats; on attachments only.
fn dates_on_an_attachment_in_the_three_formats() {
    let (server, _, attachment) = server_with_attachment();
    let addr = server.addr();
    let future = [
        "Fri, 31 Dec 2100 23:59:59 GMT",
        "Friday, 31-Dec-99 23:59:59 GMT",
        "Fri Dec 31 23:59:59 2100",
    ];
    let past = [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ];
    let target = "/tasks/1/attachment";
    for date in future {
        // An RFC 850 year of 99 is 1999 (§5.6.7: not more than 50 years ahead): in the past.
        let expected = if date.contains("-99 ") { 200 } else { 304 };
        let response = with(addr, "GET", target, &[("If-Modified-Since", date)]);
        assert_eq!(response.status, expected, "{date}");
        if expected == 304 {
            assert_not_modified(&response, &attachment);
        }
    }
    for date in past {
        let modified = with(addr, "GET", target, &[("If-Modified-Since", date)]);
        assert_eq!(modified.status, 200, "{date}");
        let refused = with(addr, "GET", target, &[("If-Unmodified-Since", date)]);
        assert_error(&refused, 412, "Precondition Failed");
    }
    // A date that does not parse is ignored.
    let ignored = with(addr, "GET", target, &[("If-Unmodified-Since", "yesterday")]);
    assert_eq!(ignored.status, 200);
}

/// §13.2.2: If-None-Match takes the place of If-Modified-Since, If-Match that of
/// If-Unmodified-Since; a date field on a task (no Last-Modified) is ignored.
fn tags_win_over_dates_and_dates_do_not_apply_to_tasks() {
    let (server, task, attachment) = server_with_attachment();
    let addr = server.addr();
    let target = "/tasks/1/attachment";
    let future = "Fri, 31 Dec 2100 23:59:59 GMT";
    let past = "Sun, 06 Nov 1994 08:49:37 GMT";
    let response = with(
        addr,
        "GET",
        target,
        &[
            ("If-None-Match", "\"other\""),
            ("If-Modified-Since", future),
        ],
    );
    assert_eq!(response.status, 200, "If-Modified-Since is not read");
    let response = with(
        addr,
        "GET",
        target,
        &[("If-Match", &attachment), ("If-Unmodified-Since", past)],
    );
    assert_eq!(response.status, 200, "If-Unmodified-Since is not read");
    let response = with(addr, "GET", "/tasks/1", &[("If-Modified-Since", future)]);
    assert_eq!(response.status, 200);
    let response = with(addr, "PATCH", "/tasks/1", &[("If-Unmodified-Since", past)]);
    assert_ne!(response.status, 412, "a date on a task is ignored");
    let response = with(addr, "GET", "/tasks/1", &[("If-None-Match", &task)]);
    assert_eq!(response.status, 304);
}

/// CONTRACT §11: a 304 wins over Range, and If-Match is checked before If-None-Match.
fn the_evaluation_order_of_rfc_9110_13_2_2() {
    let (server, _, attachment) = server_with_attachment();
    let addr = server.addr();
    let target = "/tasks/1/attachment";
    let response = with(
        addr,
        "GET",
        target,
        &[("If-None-Match", &attachment), ("Range", "bytes=0-1")],
    );
    assert_not_modified(&response, &attachment);
    let response = with(
        addr,
        "GET",
        target,
        &[("If-Match", "\"stale\""), ("If-None-Match", &attachment)],
    );
    assert_eq!(response.status, 412, "step 1 before step 3");
    let response = with(
        addr,
        "GET",
        target,
        &[("If-Match", &attachment), ("Range", "bytes=0-1")],
    );
    assert_eq!(response.status, 206, "preconditions pass, then Range");
}

/// Empty fields count as absent, and a repeated field is one list (RFC 9110 §5.3).
fn empty_and_repeated_fields() {
    let server = server_with_task();
    let addr = server.addr();
    let current = tag(&get(addr, "/tasks/1"));
    let empty = with(addr, "GET", "/tasks/1", &[("If-Match", "")]);
    assert_eq!(empty.status, 200);
    let repeated = with(
        addr,
        "GET",
        "/tasks/1",
        &[("If-None-Match", "\"a\""), ("If-None-Match", &current)],
    );
    assert_eq!(repeated.status, 304);
}

/// A 304 ends at its head (RFC 9112 §6.3): the next answer on the connection follows at once.
fn a_304_on_a_kept_alive_connection_is_followed_by_the_next_answer() {
    let server = server_with_task();
    let addr = server.addr();
    let current = tag(&get(addr, "/tasks/1"));
    let revalidate =
        format!("GET /tasks/1 HTTP/1.1\r\nHost: {addr}\r\nIf-None-Match: {current}\r\n\r\n");
    let mut stream = connect(addr);
    let mut both = revalidate.into_bytes();
    both.extend_from_slice(&request_head(addr, "GET", "/tasks/1", &[]));
    std::io::Write::write_all(&mut stream, &both).unwrap();
    let mut buffer = Vec::new();
    let first = read_one_response(&mut stream, &mut buffer, false);
    assert_not_modified(&first, &current);
    let second = read_one_response(&mut stream, &mut buffer, false);
    assert_eq!(second.status, 200);
    assert_eq!(second.json()["title"], "Report");
}

// Every test above, once per storage backend (tests/common/backend.rs).
backend_tests! {
    if_none_match_gives_304_on_every_validated_get_and_head,
    if_none_match_compares_weakly_and_reads_lists,
    if_match_on_a_get_can_give_412,
    a_stale_if_match_refuses_patch_and_changes_nothing,
    if_none_match_on_a_change_is_412,
    deletes_are_conditional_on_their_own_tags,
    uploads_without_a_current_attachment,
    missing_resources_stay_404_and_bad_ids_422,
    create_ignores_preconditions,
    dates_on_an_attachment_in_the_three_formats,
    tags_win_over_dates_and_dates_do_not_apply_to_tasks,
    the_evaluation_order_of_rfc_9110_13_2_2,
    empty_and_repeated_fields,
    a_304_on_a_kept_alive_connection_is_followed_by_the_next_answer,
}
