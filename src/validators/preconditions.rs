//! Evaluating a request's preconditions (RFC 9110 §13.2.2) against the selected representation,
//! in CONTRACT §11's order: `If-Match`, else `If-Unmodified-Since`; then `If-None-Match`, else
//! (GET and HEAD only) `If-Modified-Since`. `Range` / `If-Range` come after, in `range`.
//!
//! The caller decides *where* this runs (after its 404 and path-id 422, before the body is
//! read) and what "current" is: `None` when the target has no current representation (an
//! upload to a task without an attachment); a task or list page has no `Last-Modified`, so any
//! date field is ignored for them.
//!
//! Fields that do not parse: a date that is not an HTTP-date is ignored (§13.1.3, §13.1.4). A
//! tag list that breaks the grammar (see `etag`) cannot be evaluated; taskd reads it so that it
//! never causes harm: a malformed `If-Match` is false (412, nothing changes), a malformed
//! `If-None-Match` is true on GET/HEAD (the full 200, never a wrong 304) and false otherwise
//! (412: a change the client made conditional is not made on a condition nobody can read).

use std::time::SystemTime;

use super::date::{parse_http_date, whole_seconds};
use super::etag::{EntityTag, TagList};

/// The request method as preconditions see it: only GET and HEAD can be answered 304.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET or HEAD (RFC 9110 §13.1.2, §13.1.3: a 304 answers only these).
    GetOrHead,
    /// Any other method: a false `If-None-Match` is a 412.
    Other,
}

impl Method {
    /// From the request line's method; methods are case-sensitive (RFC 9110 §9.1).
    pub fn from_name(name: &str) -> Method {
        match name {
            "GET" | "HEAD" => Method::GetOrHead,
            _ => Method::Other,
        }
    }
}

/// A request's precondition fields as sent. Several field lines of one name must be joined with
/// `, ` first (RFC 9110 §5.3); for the dates that makes an invalid value, which is ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preconditions<'a> {
    /// `If-Match` (§13.1.1).
    pub if_match: Option<&'a str>,
    /// `If-None-Match` (§13.1.2).
    pub if_none_match: Option<&'a str>,
    /// `If-Modified-Since` (§13.1.3).
    pub if_modified_since: Option<&'a str>,
    /// `If-Unmodified-Since` (§13.1.4).
    pub if_unmodified_since: Option<&'a str>,
}

impl<'a> Preconditions<'a> {
    /// Reads the four fields through `field(name)`, e.g. `|name| request.header(name)`.
    #[cfg(test)]
    pub fn from_fields(field: impl Fn(&'static str) -> Option<&'a str>) -> Preconditions<'a> {
        Preconditions {
            if_match: field("If-Match"),
            if_none_match: field("If-None-Match"),
            if_modified_since: field("If-Modified-Since"),
            if_unmodified_since: field("If-Unmodified-Since"),
        }
    }

    /// Whether none of the four fields was sent: then CONTRACT §4/§8/§9's order of checks
    /// applies unchanged (§11 "where preconditions sit").
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        *self == Preconditions::default()
    }
}

/// The selected representation's validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current<'a> {
    /// Its strong entity tag.
    pub tag: &'a EntityTag,
    /// Its `Last-Modified`, if it has one (attachments only).
    pub last_modified: Option<SystemTime>,
}

/// What the preconditions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Go on: `Range` next (GET of an attachment), then the method's own work.
    Proceed,
    /// 304 Not Modified (GET and HEAD only).
    NotModified,
    /// 412 Precondition Failed; nothing is changed.
    PreconditionFailed,
}

/// RFC 9110 §13.2.2 steps 1–4 for `method` on `current` (`None`: no current representation).
pub fn evaluate(
    method: Method,
    current: Option<Current<'_>>,
    fields: &Preconditions<'_>,
) -> Outcome {
    let last_modified = current.and_then(|c| c.last_modified).map(whole_seconds);
    // Step 1: If-Match, strong comparison; `*` and every tag are false without a current
    // representation (§13.1.1).
    if let Some(list) = fields.if_match.and_then(TagList::parse) {
        if !current.is_some_and(|current| list.strong_match(current.tag)) {
            return Outcome::PreconditionFailed;
        }
    } else if let (Some(date), Some(modified)) = (
        fields.if_unmodified_since.and_then(parse_http_date),
        last_modified,
    ) {
        // Step 2: false when modified after the date (§13.1.4).
        if modified > date {
            return Outcome::PreconditionFailed;
        }
    }
    // Step 3: If-None-Match, weak comparison (§13.1.2).
    if let Some(list) = fields.if_none_match.and_then(TagList::parse) {
        let holds = match list {
            TagList::Malformed => method == Method::GetOrHead,
            _ => !current.is_some_and(|current| list.weak_match(current.tag)),
        };
        return match (holds, method) {
            (true, _) => Outcome::Proceed,
            (false, Method::GetOrHead) => Outcome::NotModified,
            (false, Method::Other) => Outcome::PreconditionFailed,
        };
    }
    // Step 4: If-Modified-Since, GET and HEAD only; false when not modified since (§13.1.3).
    if method == Method::GetOrHead {
        let date = fields.if_modified_since.and_then(parse_http_date);
        if let (Some(date), Some(modified)) = (date, last_modified) {
            if modified <= date {
                return Outcome::NotModified;
            }
        }
    }
    Outcome::Proceed
}

#[cfg(test)]
#[path = "preconditions_tests.rs"]
mod tests;
