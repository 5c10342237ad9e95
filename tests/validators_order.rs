//! CONTRACT §11, "where preconditions sit among the other checks": a request with a
//! precondition is checked before its body is read (413 by declared length → 422 for the path
//! id → 404 → 412 → the body → 409 / the upload's type → 2xx), so a change that would be
//! refused never gets `100 Continue` and never has its body read; one without keeps §4/§8/§9's
//! order exactly.

use crate::common;
use common::*;

use std::io::Write;
use std::net::SocketAddr;

const JSON: (&str, &str) = ("Content-Type", "application/json");
const STALE: (&str, &str) = ("If-Match", "\"stale\"");

/// Sends only the head (with `Expect: 100-continue`) and reads the first answer: a final
/// status, if the server decided without the body.
fn answer_before_body(addr: SocketAddr, method: &str, target: &str, lines: &[&str]) -> Response {
    let mut lines = lines.to_vec();
    lines.push("Expect: 100-continue");
    let mut stream = connect(addr);
    stream
        .write_all(&request_head(addr, method, target, &lines))
        .unwrap();
    read_one_response(&mut stream, &mut Vec::new(), false)
}

fn patch(addr: SocketAddr, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut all = vec![JSON];
    all.extend_from_slice(headers);
    request(addr, "PATCH", target, &all, body)
}

fn a_failing_conditional_patch_gets_412_without_100_continue() {
    let server = server_with_task();
    let lines = [
        "Content-Type: application/json",
        "Content-Length: 15",
        "If-Match: \"stale\"",
    ];
    let response = answer_before_body(server.addr(), "PATCH", "/tasks/1", &lines);
    assert_error(&response, 412, "Precondition Failed");
}

fn a_failing_conditional_upload_gets_412_without_100_continue() {
    let server = server_with_task();
    let form = format!("Content-Type: {}", form_type());
    let lines = [form.as_str(), "Content-Length: 5000", "If-Match: *"];
    let response = answer_before_body(server.addr(), "POST", "/tasks/1/attachment", &lines);
    assert_error(&response, 412, "Precondition Failed");
}

/// A passing precondition lets the body be read, with `100 Continue` first.
fn a_passing_conditional_upload_continues() {
    let server = server_with_task();
    let addr = server.addr();
    let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), b"abc")]);
    let form = format!("Content-Type: {}", form_type());
    let length = format!("Content-Length: {}", body.len());
    let lines = [
        form.as_str(),
        length.as_str(),
        "If-None-Match: *",
        "Expect: 100-continue",
    ];
    let head = request_head(addr, "POST", "/tasks/1/attachment", &lines);
    let response = send_expecting_continue(addr, &head, &body);
    assert_eq!(response.status, 200, "{}", response.text());
}

/// 412 before the body's 400 / 422: a refused change's body is never read.
fn the_412_comes_before_any_body_error() {
    let server = server_with_task();
    let addr = server.addr();
    for body in [&b"{"[..], b"", b"[1]", br#"{"title":""}"#, b"\xff\xfe"] {
        let response = patch(addr, "/tasks/1", &[STALE], body);
        assert_eq!(response.status, 412, "{:?}", String::from_utf8_lossy(body));
    }
    let form = form_type();
    let not_multipart = request(
        addr,
        "POST",
        "/tasks/1/attachment",
        &[("Content-Type", "multipart/form-data"), STALE],
        b"x",
    );
    assert_eq!(
        not_multipart.status, 412,
        "before the missing boundary's 400"
    );
    let no_file = request(
        addr,
        "POST",
        "/tasks/1/attachment",
        &[("Content-Type", &form), STALE],
        &multipart_body(&[Part::text("note", b"x")]),
    );
    assert_eq!(no_file.status, 412, "before the missing file's 422");
}

/// 413 by the declared length comes first of all; 413 found while reading comes after 412.
fn a_413_by_declared_length_comes_before_everything() {
    let server = server_with_task();
    let addr = server.addr();
    let lines = [
        "Content-Type: application/json",
        "Content-Length: 1048577",
        "If-Match: \"stale\"",
    ];
    let response = answer_before_body(addr, "PATCH", "/tasks/abc", &lines);
    assert_eq!(response.status, 413);
    let form = format!("Content-Type: {}", form_type());
    let huge = "Content-Length: 999999999";
    let lines = [form.as_str(), huge, "If-Match: \"stale\""];
    let response = answer_before_body(addr, "POST", "/tasks/abc/attachment", &lines);
    assert_eq!(response.status, 413);
}

/// 422 for the path id, then 404, then 412; a conditional request's 422 has only the id's
/// item, since its body is never read.
fn the_path_id_then_404_then_412() {
    let server = server_with_task();
    let addr = server.addr();
    let response = patch(addr, "/tasks/abc", &[STALE], b"[1]");
    assert_eq!(response.status, 422);
    assert_eq!(response.detail(), serde_json::json!([bad_id("abc")]));
    let unconditional = patch(addr, "/tasks/abc", &[], b"[1]");
    assert_eq!(
        unconditional.items().len(),
        2,
        "without one: the id, then the body"
    );
    let response = patch(addr, "/tasks/9", &[STALE], b"{");
    assert_error(&response, 404, "Task 9 not found");
    let form = form_type();
    for (target, detail) in [
        ("/tasks/9/attachment", Some("Task 9 not found")),
        ("/tasks/x/attachment", None),
    ] {
        let response = request(
            addr,
            "POST",
            target,
            &[("Content-Type", &form), STALE],
            b"x",
        );
        match detail {
            Some(detail) => assert_error(&response, 404, detail),
            None => assert_eq!(response.detail(), serde_json::json!([bad_id("x")])),
        }
    }
}

/// After a passing precondition: the body's errors, then 409 / the upload's type, then 2xx.
fn after_a_passing_precondition_the_body_is_checked_as_usual() {
    let server = server_with_task();
    let addr = server.addr();
    create_task(addr, "Taken");
    let any = ("If-Match", "*");
    assert_eq!(patch(addr, "/tasks/1", &[any], b"{").status, 422);
    let conflict = patch(addr, "/tasks/1", &[any], br#"{"title":"Taken"}"#);
    assert_error(&conflict, 409, "A task with that title already exists");
    let form = form_type();
    let pdf = multipart_body(&[Part::file("a.pdf", Some("application/pdf"), b"%PDF")]);
    let headers = [("Content-Type", form.as_str()), ("If-None-Match", "*")];
    let response = request(addr, "POST", "/tasks/1/attachment", &headers, &pdf);
    assert_error(&response, 400, "Unsupported file type: application/pdf");
    let bad = request(addr, "POST", "/tasks/1/attachment", &headers, b"garbage");
    assert_error(&bad, 400, "Invalid multipart data.");
}

/// A field that is ignored (a date on a task) does not make a request conditional: §8's
/// order, body first, stays.
fn an_ignored_field_keeps_the_unconditional_order() {
    let server = server_with_task();
    let addr = server.addr();
    let date = ("If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:37 GMT");
    let response = patch(addr, "/tasks/9", &[date], b"{");
    assert_eq!(
        response.status, 422,
        "the body before the 404, as without the field"
    );
    let unparsable = ("If-Match", ",");
    let response = patch(addr, "/tasks/9", &[unparsable], b"{");
    assert_eq!(response.status, 422);
}

// Every test above, once per storage backend (tests/common/backend.rs).
backend_tests! {
    a_failing_conditional_patch_gets_412_without_100_continue,
    a_failing_conditional_upload_gets_412_without_100_continue,
    a_passing_conditional_upload_continues,
    the_412_comes_before_any_body_error,
    a_413_by_declared_length_comes_before_everything,
    the_path_id_then_404_then_412,
    after_a_passing_precondition_the_body_is_checked_as_usual,
    an_ignored_field_keeps_the_unconditional_order,
}
