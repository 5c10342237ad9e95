//! 409, 422 shapes, broken JSON, wrong media types, bad ids, huge titles.

use super::{assert_fail, assert_note, detail, json};
use crate::report::Outcome;
use crate::validation::*;

const CREATED: &str = r#"{"id":9,"title":"dup"}"#;

fn item(kind: &str, loc: &str) -> String {
    format!(r#"{{"detail":[{{"type":"{kind}","loc":{loc},"msg":"m","input":""}}]}}"#)
}

#[test]
fn a_stored_duplicate_fails_citing_409() {
    assert_fail(&conflict(&json(201, CREATED)), "RFC 9110 §15.5.10");
    let detail = json(409, r#"{"detail":"A task with that title already exists"}"#);
    assert_eq!(conflict(&detail), Outcome::Pass);
    assert_note(&conflict(&json(
        422,
        &item("value_error", r#"["body","title"]"#),
    )));
}

#[test]
fn a_409_without_explanation_fails() {
    assert_fail(&conflict(&super::Response::new(409)), "RFC 9110 §15.5");
}

#[test]
fn an_invalid_task_that_is_stored_fails_citing_422() {
    let outcome = invalid_field(&json(201, CREATED), "string_too_short", &["body", "title"]);
    assert_fail(&outcome, "RFC 9110 §15.5.21");
}

#[test]
fn a_422_without_fastapi_s_items_fails() {
    let flat = json(422, r#"{"detail":"title too short"}"#);
    assert_fail(
        &invalid_field(&flat, "string_too_short", &["body", "title"]),
        "§15.5.21",
    );
    let wrong_loc = json(422, &item("string_too_short", r#"["title"]"#));
    assert_fail(
        &invalid_field(&wrong_loc, "string_too_short", &["body", "title"]),
        "§15.5.21",
    );
}

#[test]
fn a_422_item_of_another_type_is_a_note_and_400_too() {
    let other = json(422, &item("too_short", r#"["body","title"]"#));
    assert_note(&invalid_field(
        &other,
        "string_too_short",
        &["body", "title"],
    ));
    assert_note(&invalid_field(
        &detail(400),
        "string_too_short",
        &["body", "title"],
    ));
    let right = json(422, &item("string_too_short", r#"["body","title"]"#));
    assert_eq!(
        invalid_field(&right, "string_too_short", &["body", "title"]),
        Outcome::Pass
    );
}

#[test]
fn broken_json_accepted_or_crashing_fails() {
    assert_fail(&malformed_json(&json(201, CREATED)), "RFC 9110 §15.5.1");
    assert_fail(&malformed_json(&json(500, "{}")), "§15.6.1");
    assert_eq!(malformed_json(&detail(400)), Outcome::Pass);
}

#[test]
fn text_plain_read_as_json_is_a_note() {
    assert_note(&wrong_json_type(&json(201, CREATED)));
    assert_eq!(wrong_json_type(&detail(415)), Outcome::Pass);
    assert_fail(&wrong_json_type(&json(500, "{}")), "§15.6.1");
}

#[test]
fn a_bad_id_must_be_a_4xx() {
    assert_fail(&bad_id(&json(500, "{}")), "§15.6.1");
    assert_fail(&bad_id(&json(200, CREATED)), "RFC 9110 §15.5");
    assert_fail(&bad_id(&json(422, r#"{"detail":"bad id"}"#)), "§15.5.21");
    assert_note(&bad_id(&detail(404)));
    let fastapi = json(422, &item("int_parsing", r#"["path","task_id"]"#));
    assert_eq!(bad_id(&fastapi), Outcome::Pass);
}

#[test]
fn a_huge_title_stored_or_crashing_fails() {
    assert_fail(&huge_title(&json(201, CREATED)), "§15.5.21");
    assert_fail(&huge_title(&json(500, "{}")), "§15.6.1");
    assert_note(&huge_title(&detail(413)));
}
