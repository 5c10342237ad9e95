//! Unit tests of `taskd check`: canned responses that break each rule make its FAIL fire, with
//! the right RFC section; fakes of [`Transport`] drive whole sessions without a network.

mod client;
mod methods;
mod rules;
mod session;
mod uploads;
mod validation;
mod validators;

use super::message::Response;
use super::report::Outcome;

/// The RFC reference of a FAIL; panics on anything else.
pub fn fail_rfc(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Fail(failure) => &failure.rfc,
        other => panic!("expected a FAIL, got {other:?}"),
    }
}

/// Asserts a FAIL whose reference mentions `section`.
#[track_caller]
pub fn assert_fail(outcome: &Outcome, section: &str) {
    let rfc = fail_rfc(outcome);
    assert!(rfc.contains(section), "FAIL cites {rfc:?}, not {section:?}");
}

/// Asserts a NOTE.
#[track_caller]
pub fn assert_note(outcome: &Outcome) {
    assert!(
        matches!(outcome, Outcome::Note(_)),
        "expected a NOTE, got {outcome:?}"
    );
}

/// A JSON response.
pub fn json(status: u16, body: &str) -> Response {
    Response::new(status).with_json(body)
}

/// `{"detail": "..."}` with this status.
pub fn detail(status: u16) -> Response {
    json(status, r#"{"detail":"Task 999999999 not found"}"#)
}
