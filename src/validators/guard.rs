//! A change's preconditions as one owned, pure value: what a handler reads from a request's
//! `If-Match`, `If-None-Match` and `If-Unmodified-Since` and hands to the storage backend, which
//! checks it against the row it changes, atomically with the change (CONTRACT §11, §14). Reads
//! (GET, HEAD, with their 304) keep using [`evaluate`] in the handlers.
//!
//! `If-Modified-Since` is not kept: RFC 9110 §13.2.2 step 4 applies to GET and HEAD only, and a
//! guard guards a change.

use std::time::SystemTime;

use super::TagList;
use super::{evaluate, parse_http_date, Current, EntityTag, Method, Outcome, Preconditions};

/// The preconditions of one change (PATCH, DELETE, an upload). Empty when the request had none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_unmodified_since: Option<String>,
}

/// What a [`Guard`] says about the current representation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The change may go on.
    Holds,
    /// 412 Precondition Failed: nothing may change (RFC 9110 §13.2.2; never 304 for a change).
    Fails,
}

impl Guard {
    /// A guard that always holds: a request without preconditions.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn none() -> Guard {
        Guard::default()
    }

    /// From the request's field values (absent or empty: not sent).
    pub fn new(
        if_match: Option<&str>,
        if_none_match: Option<&str>,
        if_unmodified_since: Option<&str>,
    ) -> Guard {
        let own = |value: Option<&str>| value.map(str::to_owned);
        Guard {
            if_match: own(if_match),
            if_none_match: own(if_none_match),
            if_unmodified_since: own(if_unmodified_since),
        }
    }

    /// Whether no field of it will ever be evaluated (no list element, no date that parses), so
    /// a backend need not even compute the current tag.
    pub fn is_inert(&self) -> bool {
        let list = |field: &Option<String>| field.as_deref().and_then(TagList::parse).is_none();
        let date = |field: &Option<String>| field.as_deref().and_then(parse_http_date).is_none();
        list(&self.if_match) && list(&self.if_none_match) && date(&self.if_unmodified_since)
    }

    /// RFC 9110 §13.2.2 for a change of the current representation, whose strong tag is
    /// `current_tag` (`None`: there is none, an upload to a task without an attachment) and
    /// whose `Last-Modified` is `last_modified` (`None` for tasks: dates are then ignored).
    pub fn check(
        &self,
        current_tag: Option<&EntityTag>,
        last_modified: Option<SystemTime>,
    ) -> Verdict {
        let current = current_tag.map(|tag| Current { tag, last_modified });
        let fields = Preconditions {
            if_match: self.if_match.as_deref(),
            if_none_match: self.if_none_match.as_deref(),
            if_modified_since: None,
            if_unmodified_since: self.if_unmodified_since.as_deref(),
        };
        match evaluate(Method::Other, current, &fields) {
            Outcome::Proceed => Verdict::Holds,
            Outcome::NotModified | Outcome::PreconditionFailed => Verdict::Fails,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_guard_is_inert_and_holds_even_without_a_representation() {
        let guard = Guard::none();
        assert!(guard.is_inert());
        assert_eq!(guard.check(None, None), Verdict::Holds);
    }

    #[test]
    fn if_match_holds_only_for_the_current_tag() {
        let tag = EntityTag::for_task(b"{}");
        let guard = Guard::new(Some(tag.as_str()), None, None);
        assert!(!guard.is_inert());
        assert_eq!(guard.check(Some(&tag), None), Verdict::Holds);
        let other = EntityTag::for_task(b"[]");
        assert_eq!(guard.check(Some(&other), None), Verdict::Fails);
        assert_eq!(guard.check(None, None), Verdict::Fails);
    }

    #[test]
    fn if_none_match_star_holds_only_without_a_representation() {
        let guard = Guard::new(None, Some("*"), None);
        assert_eq!(guard.check(None, None), Verdict::Holds);
        let tag = EntityTag::for_task(b"{}");
        assert_eq!(guard.check(Some(&tag), None), Verdict::Fails);
    }

    #[test]
    fn if_unmodified_since_fails_for_a_later_change_and_is_ignored_without_a_date() {
        let guard = Guard::new(None, None, Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert!(!guard.is_inert());
        let tag = EntityTag::for_task(b"{}");
        assert_eq!(
            guard.check(Some(&tag), Some(SystemTime::now())),
            Verdict::Fails
        );
        assert_eq!(guard.check(Some(&tag), None), Verdict::Holds);
    }
}
