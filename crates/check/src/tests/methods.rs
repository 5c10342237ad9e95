//! HEAD, OPTIONS, 405 + Allow, trailing slashes.

use url::Url;

use super::{assert_fail, assert_note, detail, json};
use crate::message::Response;
use crate::methods::*;
use crate::report::Outcome;

const TASK: &str = r#"{"id":3,"title":"Rules"}"#;
const SEEN: &[&str] = &["GET", "DELETE", "HEAD"];

fn get() -> Response {
    json(200, TASK).with_header("Content-Length", &TASK.len().to_string())
}

#[test]
fn head_refused_with_405_fails_citing_head() {
    let refused = detail(405).with_header("Allow", "GET");
    assert_fail(&head_matches(&get(), &refused), "RFC 9110 §9.1, §9.3.2");
}

#[test]
fn head_with_content_fails() {
    let with_body = get().with_body(TASK.as_bytes());
    assert_fail(&head_matches(&get(), &with_body), "RFC 9110 §9.3.2");
}

#[test]
fn head_with_another_length_or_type_fails() {
    let mut head = get().with_body(b"");
    head.headers[1].1 = "99".to_owned();
    assert_fail(&head_matches(&get(), &head), "RFC 9110 §8.6");
    let untyped = Response::new(200).with_header("Content-Length", &TASK.len().to_string());
    assert_fail(&head_matches(&get(), &untyped), "RFC 9110 §9.3.2");
}

#[test]
fn head_like_get_passes_with_or_without_length() {
    assert_eq!(head_matches(&get(), &get().with_body(b"")), Outcome::Pass);
    let no_length = Response::new(200).with_header("Content-Type", "application/json");
    assert_eq!(head_matches(&get(), &no_length), Outcome::Pass);
}

#[test]
fn options_without_allow_fails() {
    assert_fail(&options(&Response::new(204), SEEN), "RFC 9110 §9.3.7");
}

#[test]
fn options_with_an_incomplete_allow_fails() {
    let partial = Response::new(204).with_header("Allow", "GET, HEAD");
    assert_fail(&options(&partial, SEEN), "§10.2.1");
}

#[test]
fn options_204_with_content_length_fails() {
    let sized = Response::new(204)
        .with_header("Allow", "GET, HEAD, DELETE, OPTIONS")
        .with_header("Content-Length", "0");
    assert_fail(&options(&sized, SEEN), "RFC 9110 §8.6");
}

#[test]
fn options_200_without_content_length_passes() {
    // RFC 7231 required `Content-Length: 0` here; RFC 9110 §9.3.7 no longer does.
    let unframed = Response::new(200).with_header("Allow", "GET, HEAD, DELETE");
    assert_eq!(options(&unframed, SEEN), Outcome::Pass);
}

#[test]
fn options_complete_passes_and_refused_is_a_note() {
    let good = Response::new(204).with_header("Allow", "GET, HEAD, PATCH, DELETE, OPTIONS");
    assert_eq!(options(&good, SEEN), Outcome::Pass);
    // Two Allow fields are one list (RFC 9110 §5.3).
    let split = Response::new(204)
        .with_header("Allow", "GET, HEAD")
        .with_header("Allow", "DELETE");
    assert_eq!(options(&split, SEEN), Outcome::Pass);
    assert_note(&options(&detail(405).with_header("Allow", "GET"), SEEN));
    assert_note(&options_star(&detail(404)));
    assert_eq!(options_star(&Response::new(204)), Outcome::Pass);
}

#[test]
fn method_not_allowed_without_allow_fails_citing_405() {
    let outcome = method_not_allowed(&detail(405), "PUT", SEEN);
    assert_fail(&outcome, "RFC 9110 §15.5.6");
}

#[test]
fn fastapi_s_one_route_allow_fails() {
    // FastAPI lists only the first matching route's methods: `allow: GET` on /tasks/{id}.
    let fastapi = detail(405).with_header("allow", "GET");
    assert_fail(
        &method_not_allowed(&fastapi, "PUT", SEEN),
        "RFC 9110 §15.5.6",
    );
    // Methods are case-sensitive (RFC 9110 §9.1).
    let lower = detail(405).with_header("Allow", "get, head, delete");
    assert_fail(&method_not_allowed(&lower, "PUT", SEEN), "§15.5.6");
}

#[test]
fn method_not_allowed_as_404_fails_and_501_is_a_note() {
    assert_fail(&method_not_allowed(&detail(404), "PUT", SEEN), "§15.5.6");
    assert_note(&method_not_allowed(&json(501, "{}"), "PUT", SEEN));
    let complete = detail(405).with_header("Allow", "GET, HEAD, DELETE, OPTIONS");
    assert_eq!(method_not_allowed(&complete, "PUT", SEEN), Outcome::Pass);
}

fn slashed() -> Url {
    Url::parse("http://127.0.0.1:8000/tasks/").unwrap()
}

fn redirect(status: u16, location: &str) -> Response {
    Response::new(status).with_header("Location", location)
}

#[test]
fn a_post_redirected_with_301_302_or_303_fails() {
    for status in [301, 302, 303] {
        let outcome = trailing_slash(&redirect(status, "/tasks"), "POST", &slashed(), "/tasks");
        assert_fail(&outcome, "RFC 9110 §15.4.2");
    }
    let get = trailing_slash(&redirect(301, "/tasks"), "GET", &slashed(), "/tasks");
    assert_eq!(get, Outcome::Pass);
}

#[test]
fn a_redirect_without_location_or_to_the_wrong_place_fails() {
    let bare = Response::new(307);
    assert_fail(
        &trailing_slash(&bare, "POST", &slashed(), "/tasks"),
        "§10.2.2",
    );
    let looping = redirect(307, "/tasks/");
    assert_fail(
        &trailing_slash(&looping, "POST", &slashed(), "/tasks"),
        "§15.4",
    );
}

#[test]
fn fastapi_s_absolute_307_is_a_note_and_relative_passes() {
    let absolute = redirect(307, "http://127.0.0.1:8000/tasks");
    assert_note(&trailing_slash(&absolute, "POST", &slashed(), "/tasks"));
    let relative = redirect(307, "/tasks");
    assert_eq!(
        trailing_slash(&relative, "POST", &slashed(), "/tasks"),
        Outcome::Pass
    );
    assert_eq!(
        trailing_slash(&json(201, TASK), "POST", &slashed(), "/tasks"),
        Outcome::Pass
    );
    assert_note(&trailing_slash(&detail(404), "GET", &slashed(), "/tasks"));
}

#[test]
fn odd_redirects_and_odd_options_answers_fail() {
    let multiple = redirect(300, "/tasks");
    assert_fail(
        &trailing_slash(&multiple, "GET", &slashed(), "/tasks"),
        "RFC 9110 §15.4",
    );
    assert_fail(&options(&detail(404), SEEN), "RFC 9110 §9.3.7");
    assert_fail(&options(&json(500, "{}"), SEEN), "§15.6.1");
}
