//! Tests of `preconditions`: each step of RFC 9110 §13.2.2 alone, then their order.

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::validators::Digest;
use Method::{GetOrHead as Get, Other as Patch};
use Outcome::{NotModified, PreconditionFailed, Proceed};

/// Sun, 06 Nov 1994 08:49:37 GMT.
const MODIFIED: u64 = 784_111_777;
const AT: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const BEFORE: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const AFTER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

fn tag() -> EntityTag {
    EntityTag::from_digest(Digest::of(b"current"))
}

/// The current tag, as a client would echo it.
fn echoed() -> String {
    tag().as_str().to_owned()
}

/// An attachment modified at `MODIFIED` plus 0.7 s (the fraction must not count).
fn attachment(tag: &EntityTag) -> Option<Current<'_>> {
    let modified = UNIX_EPOCH + Duration::from_millis(MODIFIED * 1000 + 700);
    Some(Current {
        tag,
        last_modified: Some(modified),
    })
}

/// A task: a tag, no `Last-Modified`.
fn task(tag: &EntityTag) -> Option<Current<'_>> {
    Some(Current {
        tag,
        last_modified: None,
    })
}

fn fields<'a>(pairs: &[(&'static str, &'a str)]) -> Preconditions<'a> {
    Preconditions::from_fields(|name| {
        pairs
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, value)| *value)
    })
}

fn on_attachment(method: Method, pairs: &[(&'static str, &str)]) -> Outcome {
    let tag = tag();
    evaluate(method, attachment(&tag), &fields(pairs))
}

#[test]
fn no_fields_proceed_and_are_empty() {
    let tag = tag();
    assert!(fields(&[]).is_empty());
    assert!(!fields(&[("If-Modified-Since", AT)]).is_empty());
    for method in [Get, Patch] {
        assert_eq!(evaluate(method, attachment(&tag), &fields(&[])), Proceed);
        assert_eq!(evaluate(method, None, &fields(&[])), Proceed);
    }
}

#[test]
fn if_match_uses_strong_comparison() {
    let current = echoed();
    let weak = format!("W/{current}");
    let listed = format!("\"x\", {current}");
    let cases = [
        (current.as_str(), Proceed),
        (listed.as_str(), Proceed),
        ("*", Proceed),
        ("\"x\"", PreconditionFailed),
        (weak.as_str(), PreconditionFailed),
        ("garbage", PreconditionFailed),
        // No element: as if absent.
        ("", Proceed),
        (" , ", Proceed),
    ];
    for method in [Get, Patch] {
        for (value, expected) in cases {
            let outcome = on_attachment(method, &[("If-Match", value)]);
            assert_eq!(outcome, expected, "{method:?} If-Match: {value}");
        }
    }
}

/// CONTRACT §11: an upload to a task without an attachment: any `If-Match` is 412,
/// `If-None-Match: *` proceeds.
#[test]
fn without_a_current_representation() {
    let current = echoed();
    for value in ["*", current.as_str(), "\"x\"", "junk"] {
        let outcome = evaluate(Patch, None, &fields(&[("If-Match", value)]));
        assert_eq!(outcome, PreconditionFailed, "If-Match: {value}");
    }
    for value in ["*", current.as_str()] {
        let outcome = evaluate(Patch, None, &fields(&[("If-None-Match", value)]));
        assert_eq!(outcome, Proceed, "If-None-Match: {value}");
    }
    let dates = fields(&[
        ("If-Unmodified-Since", BEFORE),
        ("If-Modified-Since", AFTER),
    ]);
    assert_eq!(evaluate(Get, None, &dates), Proceed);
}

#[test]
fn if_unmodified_since_compares_whole_seconds() {
    for (date, expected) in [
        (BEFORE, PreconditionFailed),
        (AT, Proceed),
        (AFTER, Proceed),
        ("Sunday, 06-Nov-94 08:49:36 GMT", PreconditionFailed),
        ("Sun Nov  6 08:49:36 1994", PreconditionFailed),
        ("yesterday", Proceed),
        ("", Proceed),
    ] {
        for method in [Get, Patch] {
            let outcome = on_attachment(method, &[("If-Unmodified-Since", date)]);
            assert_eq!(outcome, expected, "{method:?} {date}");
        }
    }
}

#[test]
fn if_unmodified_since_is_ignored_after_if_match_and_without_last_modified() {
    let current = echoed();
    let both = [
        ("If-Match", current.as_str()),
        ("If-Unmodified-Since", BEFORE),
    ];
    assert_eq!(on_attachment(Patch, &both), Proceed);
    let tag = tag();
    let stale = fields(&[("If-Unmodified-Since", BEFORE)]);
    assert_eq!(evaluate(Patch, task(&tag), &stale), Proceed);
}

#[test]
fn if_none_match_uses_weak_comparison() {
    let current = echoed();
    let weak = format!("W/{current}");
    for (value, on_get, on_patch) in [
        (current.as_str(), NotModified, PreconditionFailed),
        (weak.as_str(), NotModified, PreconditionFailed),
        ("*", NotModified, PreconditionFailed),
        ("\"x\", \"y\"", Proceed, Proceed),
        // Malformed: never a 304, never a change.
        ("x", Proceed, PreconditionFailed),
        ("", Proceed, Proceed),
    ] {
        let pair = [("If-None-Match", value)];
        assert_eq!(on_attachment(Get, &pair), on_get, "GET {value}");
        assert_eq!(on_attachment(Patch, &pair), on_patch, "PATCH {value}");
    }
}

#[test]
fn if_modified_since_only_on_get_and_head() {
    for (date, expected) in [
        (BEFORE, Proceed),
        (AT, NotModified),
        (AFTER, NotModified),
        ("Sun Nov  6 08:49:37 1994", NotModified),
        ("Sun, 06 Nov 1994 08:49:37 UTC", Proceed),
    ] {
        let pair = [("If-Modified-Since", date)];
        assert_eq!(on_attachment(Get, &pair), expected, "GET {date}");
        assert_eq!(on_attachment(Patch, &pair), Proceed, "PATCH {date}");
    }
    let tag = tag();
    let ims = fields(&[("If-Modified-Since", AFTER)]);
    assert_eq!(evaluate(Get, task(&tag), &ims), Proceed);
}

/// §13.2.2 step 4 runs only when If-None-Match is absent: a client that sends both is asking
/// about tags, and a stale tag must get the full 200 however old the date.
#[test]
fn if_modified_since_is_ignored_after_if_none_match() {
    let pairs = [("If-None-Match", "\"stale\""), ("If-Modified-Since", AFTER)];
    assert_eq!(on_attachment(Get, &pairs), Proceed);
    let current = echoed();
    let pairs = [
        ("If-None-Match", current.as_str()),
        ("If-Modified-Since", BEFORE),
    ];
    assert_eq!(on_attachment(Get, &pairs), NotModified);
}

/// The order: a failed If-Match is 412 even when If-None-Match would give 304; a passed one
/// lets If-None-Match decide.
#[test]
fn if_match_comes_before_if_none_match() {
    let current = echoed();
    let stale_match = [
        ("If-Match", "\"stale\""),
        ("If-None-Match", current.as_str()),
    ];
    assert_eq!(on_attachment(Get, &stale_match), PreconditionFailed);
    let both = [
        ("If-Match", current.as_str()),
        ("If-None-Match", current.as_str()),
    ];
    assert_eq!(on_attachment(Get, &both), NotModified);
    assert_eq!(on_attachment(Patch, &both), PreconditionFailed);
    let unmodified_then_none = [("If-Unmodified-Since", BEFORE), ("If-None-Match", "*")];
    assert_eq!(
        on_attachment(Get, &unmodified_then_none),
        PreconditionFailed
    );
}

#[test]
fn methods_by_name() {
    assert_eq!(Method::from_name("GET"), Get);
    assert_eq!(Method::from_name("HEAD"), Get);
    for name in ["get", "POST", "PATCH", "DELETE", "OPTIONS"] {
        assert_eq!(Method::from_name(name), Patch, "{name}");
    }
}
