//! `Range` and `If-Range` on a download (RFC 9110 §14.1.2, §14.2, §13.1.5, §15.3.7.2): which
//! bytes to send, as CONTRACT §11 reads those rules.
//!
//! `bytes=` specs are `first-last`, `first-` and `-suffix`. The whole field is ignored (a 200
//! with everything) for another unit (§14.2: MUST ignore), for any malformed spec (`5-2`, `a-`,
//! `-`, no `=`), and for more than [`MAX_RANGE_SPECS`] specs (§14.2 lets a server ignore a
//! request that looks like an attack). Unsatisfiable specs are dropped; when none is left the
//! answer is 416. Overlapping or touching ranges are merged into the place of the first of them
//! (§15.3.7.2 lets a server coalesce, and forbids nothing but needless disorder); the others
//! keep the request's order, which a client may rely on to receive what it asked for first.

use std::time::{Duration, SystemTime};

use super::date::{parse_http_date, whole_seconds};
use super::etag::Tag;
use super::preconditions::Current;

/// More specs than this in one `Range` field and the field is ignored.
pub const MAX_RANGE_SPECS: usize = 100;

/// A satisfiable range of a representation, both ends inclusive (`first <= last < size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// Offset of the first byte.
    pub first: u64,
    /// Offset of the last byte.
    pub last: u64,
}

impl ByteRange {
    /// Bytes in the range (at least 1).
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true: a satisfiable range holds at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Its `Content-Range` value, `bytes first-last/size` (§14.4).
    pub fn content_range(&self, size: u64) -> String {
        format!("bytes {}-{}/{size}", self.first, self.last)
    }
}

/// The 416's `Content-Range` value, `bytes */size` (§15.5.17).
pub fn unsatisfied_content_range(size: u64) -> String {
    format!("bytes */{size}")
}

/// What a `Range` field asks of a representation of a known size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranges {
    /// Send the whole representation, 200 (no field, another unit, malformed, too many specs,
    /// or an `If-Range` that does not hold).
    Ignore,
    /// No spec is satisfiable: 416 with [`unsatisfied_content_range`].
    Unsatisfiable,
    /// 206 with these ranges, at least one, disjoint and not touching, in the order to send.
    Satisfiable(Vec<ByteRange>),
}

/// A `range-spec` as written (§14.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-last` or `first-`.
    From { first: u64, last: Option<u64> },
    /// `-suffix`: the last `suffix` bytes.
    Suffix(u64),
}

/// The ranges for a GET of an attachment: `range` and `if_range` are the fields as sent, `date`
/// the response's `Date` (for `If-Range` dates).
pub fn select_ranges(
    range: Option<&str>,
    if_range: Option<&str>,
    current: &Current<'_>,
    date: SystemTime,
    size: u64,
) -> Ranges {
    let Some(range) = range else {
        return Ranges::Ignore;
    };
    // §13.1.5: If-Range is only read along with Range; when it does not hold, Range is ignored.
    if if_range.is_some_and(|value| !if_range_holds(value, current, date)) {
        return Ranges::Ignore;
    }
    parse_range(range, size)
}

/// Whether an `If-Range` value lets the `Range` apply (§13.1.5): a strong tag equal to the
/// current one, or an HTTP-date equal to `Last-Modified` when that date is strong, i.e. at least
/// one second before the response's `Date` (§8.8.2.2). A weak tag never matches.
pub fn if_range_holds(value: &str, current: &Current<'_>, date: SystemTime) -> bool {
    let value = value.trim_matches([' ', '\t']);
    // §13.1.5: an entity-tag starts with DQUOTE (or W/), a date never does.
    if value.starts_with('"') || value.starts_with("W/") {
        return Tag::parse(value).is_some_and(|tag| tag.strong_eq(current.tag.as_tag()));
    }
    match (
        parse_http_date(value),
        current.last_modified.map(whole_seconds),
    ) {
        (Some(requested), Some(modified)) => {
            requested == modified && modified + Duration::from_secs(1) <= whole_seconds(date)
        }
        _ => false,
    }
}

/// Reads a `Range` value against a representation of `size` bytes.
pub fn parse_range(value: &str, size: u64) -> Ranges {
    let Some(specs) = parse_specs(value) else {
        return Ranges::Ignore;
    };
    let satisfiable: Vec<ByteRange> = specs.iter().filter_map(|s| resolve(*s, size)).collect();
    if satisfiable.is_empty() {
        return Ranges::Unsatisfiable;
    }
    Ranges::Satisfiable(coalesce(satisfiable))
}

/// The specs of a `bytes` field; `None` when the field is to be ignored.
fn parse_specs(value: &str) -> Option<Vec<Spec>> {
    // §14.1: `range-unit "=" range-set`, the unit case-insensitive, no whitespace around `=`.
    let (unit, set) = value.trim_matches([' ', '\t']).split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    // §5.6.1: a list may hold empty elements; `1#range-spec` needs at least one real one.
    let elements = set.split(',').map(|e| e.trim_matches([' ', '\t']));
    let specs: Vec<&str> = elements.filter(|e| !e.is_empty()).collect();
    if specs.is_empty() || specs.len() > MAX_RANGE_SPECS {
        return None;
    }
    specs.into_iter().map(parse_spec).collect()
}

fn parse_spec(text: &str) -> Option<Spec> {
    if let Some(suffix) = text.strip_prefix('-') {
        return number(suffix).map(Spec::Suffix);
    }
    let (first, last) = text.split_once('-')?;
    let first = number(first)?;
    let last = match last {
        "" => None,
        digits => Some(number(digits)?),
    };
    // §14.1.1: an int-range whose last-pos is below its first-pos is invalid.
    if last.is_some_and(|last| last < first) {
        return None;
    }
    Some(Spec::From { first, last })
}

/// `1*DIGIT`, saturating: a position beyond u64 is past any representation's end anyway.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |value, digit| {
        value
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    }))
}

/// The bytes a spec selects, or `None` when it is unsatisfiable (§14.1.2: a first-pos at or past
/// the end, a suffix of 0, anything on an empty representation).
fn resolve(spec: Spec, size: u64) -> Option<ByteRange> {
    match spec {
        Spec::From { first, .. } if first >= size => None,
        Spec::From { first, last } => Some(ByteRange {
            first,
            last: last.unwrap_or(u64::MAX).min(size - 1),
        }),
        Spec::Suffix(0) => None,
        Spec::Suffix(_) if size == 0 => None,
        Spec::Suffix(suffix) => Some(ByteRange {
            first: size - suffix.min(size),
            last: size - 1,
        }),
    }
}

/// Merges ranges that overlap or touch, transitively; each merged range takes the place of the
/// earliest-requested range in it, and the results keep the request's order.
fn coalesce(ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    let mut by_start: Vec<(usize, ByteRange)> = ranges.into_iter().enumerate().collect();
    by_start.sort_by_key(|(_, range)| range.first);
    let mut merged: Vec<(usize, ByteRange)> = Vec::with_capacity(by_start.len());
    for (place, range) in by_start {
        match merged.last_mut() {
            Some((earliest, open)) if range.first <= open.last.saturating_add(1) => {
                open.last = open.last.max(range.last);
                *earliest = (*earliest).min(place);
            }
            _ => merged.push((place, range)),
        }
    }
    merged.sort_by_key(|(place, _)| *place);
    merged.into_iter().map(|(_, range)| range).collect()
}

#[cfg(test)]
#[path = "range_tests.rs"]
mod tests;
