//! The request side of CONTRACT §11 for the handlers: the precondition and range fields, read
//! once per request, and RFC 9110 §13.2.2's verdict turned into what a handler does next: go on,
//! answer 304, or refuse with 412. The rules themselves are pure functions in `validators`.

use std::borrow::Cow;

use http1::Request;

use crate::error::ApiError;
use crate::message::Reply;
use crate::model::Task;
use crate::validators::{
    evaluate, parse_http_date, Current, EntityTag, Guard, Method, Outcome, Preconditions, TagList,
    Verdict,
};

/// The §11 fields of one request. Empty values count as absent; several field lines of one
/// name are joined with `, ` (RFC 9110 §5.3), which keeps a list a list and makes a repeated
/// date or `Range` invalid, so it is ignored.
#[derive(Debug, Default)]
pub struct Fields<'r> {
    if_match: Option<Cow<'r, str>>,
    if_none_match: Option<Cow<'r, str>>,
    if_modified_since: Option<Cow<'r, str>>,
    if_unmodified_since: Option<Cow<'r, str>>,
    range: Option<Cow<'r, str>>,
    if_range: Option<Cow<'r, str>>,
}

impl<'r> Fields<'r> {
    /// Reads the six fields in one pass over the head.
    pub fn read(request: &Request<'r>) -> Fields<'r> {
        let mut fields = Fields::default();
        for (name, value) in request.headers() {
            let Some(slot) = fields.slot(name) else {
                continue;
            };
            // RFC 9110 §5.5: field values are bytes; taskd's tags are ASCII, so a byte that is
            // not UTF-8 can only make a tag that matches nothing, which the lossy form keeps.
            let value = trim(String::from_utf8_lossy(value));
            if value.is_empty() {
                continue;
            }
            *slot = Some(match slot.take() {
                None => value,
                Some(earlier) => Cow::Owned(format!("{earlier}, {value}")),
            });
        }
        fields
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<Cow<'r, str>>> {
        let slots = [
            ("If-Match", &mut self.if_match),
            ("If-None-Match", &mut self.if_none_match),
            ("If-Modified-Since", &mut self.if_modified_since),
            ("If-Unmodified-Since", &mut self.if_unmodified_since),
            ("Range", &mut self.range),
            ("If-Range", &mut self.if_range),
        ];
        slots
            .into_iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, slot)| slot)
    }

    /// The four precondition fields, for [`evaluate`].
    pub fn preconditions(&self) -> Preconditions<'_> {
        Preconditions {
            if_match: self.if_match.as_deref(),
            if_none_match: self.if_none_match.as_deref(),
            if_modified_since: self.if_modified_since.as_deref(),
            if_unmodified_since: self.if_unmodified_since.as_deref(),
        }
    }

    /// The preconditions that guard a change, for the storage backend to check against what
    /// it changes (`If-Modified-Since` guards no change).
    pub fn guard(&self) -> Guard {
        Guard::new(
            self.if_match.as_deref(),
            self.if_none_match.as_deref(),
            self.if_unmodified_since.as_deref(),
        )
    }

    /// `Range`, if sent.
    pub fn range(&self) -> Option<&str> {
        self.range.as_deref()
    }

    /// `If-Range`, if sent.
    pub fn if_range(&self) -> Option<&str> {
        self.if_range.as_deref()
    }

    /// Whether a change (PATCH, DELETE, an upload) carries a precondition that will be
    /// evaluated, so that CONTRACT §11's order applies: every check that needs no body, then
    /// the preconditions, then the body. A field that is ignored (no list element, a date that
    /// does not parse, a date on a resource without `Last-Modified`, when `dated` is false)
    /// leaves §4/§8/§9's order exactly as it is.
    pub fn is_conditional(&self, dated: bool) -> bool {
        let list = |field: Option<&str>| field.and_then(TagList::parse).is_some();
        let date = |field: Option<&str>| field.and_then(parse_http_date).is_some();
        list(self.if_match.as_deref())
            || list(self.if_none_match.as_deref())
            || (dated && date(self.if_unmodified_since.as_deref()))
    }
}

fn trim(value: Cow<'_, str>) -> Cow<'_, str> {
    const OWS: [char; 2] = [' ', '\t'];
    match value {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim_matches(OWS)),
        Cow::Owned(text) => Cow::Owned(text.trim_matches(OWS).to_owned()),
    }
}

/// RFC 9110 §13.2.2 for a GET or HEAD of `current`: `Ok(None)` to go on (to `Range`, for an
/// attachment), `Ok(Some(304))`, or 412 (`If-Match` on a GET can fail too).
///
/// # Errors
/// 412 Precondition Failed.
pub fn check_read(
    method: &str,
    current: Current<'_>,
    fields: &Fields<'_>,
) -> Result<Option<Reply>, ApiError> {
    match evaluate(
        Method::from_name(method),
        Some(current),
        &fields.preconditions(),
    ) {
        Outcome::Proceed => Ok(None),
        Outcome::NotModified => Ok(Some(Reply::not_modified(current.tag))),
        Outcome::PreconditionFailed => Err(ApiError::PreconditionFailed),
    }
}

/// The early check of a change's `guard` against `current` (`None`: there is no current
/// representation, an upload to a task without an attachment), so that CONTRACT §11's 412
/// comes before the body is read. It decides nothing: the storage backend checks the same
/// guard again, atomically with the change.
///
/// # Errors
/// 412 Precondition Failed.
pub fn check_early(
    guard: &Guard,
    current: Option<&EntityTag>,
    last_modified: Option<std::time::SystemTime>,
) -> Result<(), ApiError> {
    match guard.check(current, last_modified) {
        Verdict::Holds => Ok(()),
        Verdict::Fails => Err(ApiError::PreconditionFailed),
    }
}

/// A task's JSON, exactly as sent, and its strong tag (CONTRACT §11: a tag covers the whole
/// representation).
pub fn tagged(task: &Task) -> (Vec<u8>, EntityTag) {
    EntityTag::of_task(task)
}

/// The validators of a task or a list page: a tag and no `Last-Modified` (their JSON has no
/// time), so date preconditions are ignored for them.
pub fn undated(tag: &EntityTag) -> Current<'_> {
    Current {
        tag,
        last_modified: None,
    }
}
