//! 201 + Location, 404 bodies, 204 with nothing in it, the empty-store probe.

use url::Url;

use super::{assert_fail, assert_note, detail, json};
use crate::message::Response;
use crate::report::Outcome;
use crate::rules::*;

const TASK: &str = r#"{"id":1,"title":"Write","priority":"high","done":false,"attachment":null}"#;

fn posted_to() -> Url {
    Url::parse("http://127.0.0.1:8000/tasks").unwrap()
}

#[test]
fn created_with_200_fails_citing_201() {
    assert_fail(&created(&json(200, TASK)), "RFC 9110 §15.3.2");
    assert_eq!(created(&json(201, TASK)), Outcome::Pass);
}

#[test]
fn created_body_must_be_labelled_json_with_the_id_and_title() {
    assert_eq!(created_body(&json(201, TASK), "Write"), Outcome::Pass);
    assert_fail(
        &created_body(&json(201, r#"{"title":"Write"}"#), "Write"),
        "§15.3.2",
    );
    let unlabelled = Response::new(201).with_body(TASK.as_bytes());
    assert_fail(&created_body(&unlabelled, "Write"), "RFC 9110 §8.3");
}

#[test]
fn created_without_location_fails_citing_201_and_location() {
    let outcome = created_location(&json(201, TASK), &posted_to(), "/tasks/1");
    assert_fail(&outcome, "RFC 9110 §15.3.2");
}

#[test]
fn location_elsewhere_fails_and_relative_passes() {
    let elsewhere = json(201, TASK).with_header("Location", "/tasks/2");
    assert_fail(
        &created_location(&elsewhere, &posted_to(), "/tasks/1"),
        "§10.2.2",
    );
    let other_host = json(201, TASK).with_header("Location", "http://evil.test/tasks/1");
    assert_fail(
        &created_location(&other_host, &posted_to(), "/tasks/1"),
        "§10.2.2",
    );
    let relative = json(201, TASK).with_header("Location", "/tasks/1");
    assert_eq!(
        created_location(&relative, &posted_to(), "/tasks/1"),
        Outcome::Pass
    );
    let sibling = json(201, TASK).with_header("Location", "tasks/1");
    assert_eq!(
        created_location(&sibling, &posted_to(), "/tasks/1"),
        Outcome::Pass
    );
}

#[test]
fn absolute_location_to_the_same_server_is_a_note() {
    let absolute = json(201, TASK).with_header("Location", "http://127.0.0.1:8000/tasks/1");
    assert_note(&created_location(&absolute, &posted_to(), "/tasks/1"));
}

#[test]
fn not_found_needs_404_and_an_explanation() {
    assert_eq!(not_found(&detail(404)), Outcome::Pass);
    assert_fail(&not_found(&json(200, TASK)), "RFC 9110 §15.5.5");
    assert_fail(&not_found(&Response::new(404)), "RFC 9110 §15.5");
    let unlabelled = Response::new(404).with_body(br#"{"detail":"gone"}"#);
    assert_fail(&not_found(&unlabelled), "RFC 9110 §8.3");
    let mislabelled = Response::new(404)
        .with_header("Content-Type", "application/json")
        .with_body(b"Not Found");
    assert_fail(&not_found(&mislabelled), "RFC 9110 §8.3");
}

#[test]
fn not_found_without_detail_is_a_note_and_a_crash_fails() {
    assert_note(&not_found(&json(404, r#"{"error":"nope"}"#)));
    assert_fail(&not_found(&json(500, r#"{"detail":"boom"}"#)), "§15.6.1");
}

#[test]
fn delete_with_an_empty_200_fails_and_with_a_body_is_a_note() {
    assert_eq!(deleted(&Response::new(204)), Outcome::Pass);
    assert_fail(&deleted(&Response::new(200)), "RFC 9110 §9.3.5");
    assert_note(&deleted(&json(200, TASK)));
}

#[test]
fn a_204_with_bytes_after_the_head_fails() {
    let with_body = Response::new(204).with_body(b"null");
    assert_fail(&no_content_body(&with_body), "RFC 9110 §15.3.5");
    assert_eq!(no_content_body(&Response::new(204)), Outcome::Pass);
}

#[test]
fn a_204_with_content_type_fails() {
    let typed = Response::new(204).with_header("Content-Type", "application/json");
    assert_fail(&no_content_type(&typed), "RFC 9110 §15.3.5");
    assert_eq!(no_content_type(&Response::new(204)), Outcome::Pass);
}

#[test]
fn a_204_with_content_length_fails_even_zero() {
    let zero = Response::new(204).with_header("Content-Length", "0");
    assert_fail(&no_content_length(&zero), "RFC 9110 §8.6");
    assert_note(&no_content_length(&Response::new(200)));
}

#[test]
fn empty_store_passes_and_anything_else_is_explained() {
    assert_eq!(empty_store(&json(200, "[]")), Outcome::Pass);
    assert_note(&empty_store(&json(200, &format!("[{TASK}]"))));
    assert_note(&empty_store(&json(
        405,
        r#"{"detail":"Method Not Allowed"}"#,
    )));
    assert_fail(&empty_store(&json(500, "{}")), "§15.6.1");
    assert_fail(&empty_store(&json(200, "{}")), "RFC 9110");
}

#[test]
fn healthz_is_optional() {
    assert_eq!(healthz(&json(200, r#"{"status":"ok"}"#)), Outcome::Pass);
    assert_note(&healthz(&detail(404)));
}

#[test]
fn reading_a_task_needs_200_and_the_same_id() {
    let id = serde_json::json!(1);
    assert_eq!(read_task(&json(200, TASK), &id), Outcome::Pass);
    assert_fail(&read_task(&detail(404), &id), "RFC 9110 §9.3.1");
    assert_fail(
        &read_task(&json(200, r#"{"id":2}"#), &id),
        "RFC 9110 §9.3.1",
    );
}

#[test]
fn json_labelled_as_something_else_fails() {
    let html = Response::new(404)
        .with_header("Content-Type", "text/html")
        .with_body(br#"{"detail":"Task 9 not found"}"#);
    assert_fail(&not_found(&html), "RFC 9110 §8.3");
}

#[test]
fn a_location_that_is_no_uri_reference_fails() {
    let garbage = json(201, TASK).with_header("Location", "http://[::1");
    assert_fail(
        &created_location(&garbage, &posted_to(), "/tasks/1"),
        "RFC 9110 §10.2.2",
    );
}
