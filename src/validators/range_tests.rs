//! Tests of `range`: the grammar, satisfiability, coalescing, and `If-Range`.

use std::time::UNIX_EPOCH;

use super::*;
use crate::validators::{Digest, EntityTag};

fn r(first: u64, last: u64) -> ByteRange {
    ByteRange { first, last }
}

fn ranges(value: &str, size: u64) -> Vec<ByteRange> {
    match parse_range(value, size) {
        Ranges::Satisfiable(ranges) => ranges,
        other => panic!("{value:?} on {size} bytes: {other:?}"),
    }
}

#[test]
fn the_three_spec_forms() {
    assert_eq!(ranges("bytes=0-499", 10_000), [r(0, 499)]);
    assert_eq!(ranges("bytes=500-999", 10_000), [r(500, 999)]);
    assert_eq!(ranges("bytes=9500-", 10_000), [r(9500, 9999)]);
    assert_eq!(ranges("bytes=-500", 10_000), [r(9500, 9999)]);
    assert_eq!(ranges("bytes=0-0", 1), [r(0, 0)]);
    assert_eq!(ranges("bytes=0-", 1), [r(0, 0)]);
}

/// RFC 9110 §14.1.2: a last-pos past the end means the end; a suffix longer than the
/// representation means all of it.
#[test]
fn ends_are_clamped() {
    assert_eq!(ranges("bytes=5-100", 10), [r(5, 9)]);
    assert_eq!(ranges("bytes=-100", 10), [r(0, 9)]);
    let huge = format!("bytes=0-{}9", u64::MAX);
    assert_eq!(ranges(&huge, 10), [r(0, 9)]);
    let huge_suffix = format!("bytes=-{}0", u64::MAX);
    assert_eq!(ranges(&huge_suffix, 10), [r(0, 9)]);
}

#[test]
fn unit_whitespace_and_empty_elements() {
    assert_eq!(ranges("BYTES=0-1", 10), [r(0, 1)]);
    assert_eq!(ranges(" bytes=0-1 ", 10), [r(0, 1)]);
    assert_eq!(ranges("bytes=,0-1, ,\t4-5,", 10), [r(0, 1), r(4, 5)]);
    assert_eq!(ranges("bytes= 0-1", 10), [r(0, 1)]);
}

#[test]
fn unsatisfiable_specs_are_dropped() {
    assert_eq!(ranges("bytes=20-30, 2-3", 10), [r(2, 3)]);
    assert_eq!(ranges("bytes=-0, 2-3", 10), [r(2, 3)]);
    assert_eq!(ranges("bytes=10-, 9-", 10), [r(9, 9)]);
    for value in [
        "bytes=10-",
        "bytes=10-20",
        "bytes=-0",
        "bytes=10-20, -0, 99-",
    ] {
        assert_eq!(parse_range(value, 10), Ranges::Unsatisfiable, "{value}");
    }
    let past_u64 = format!("bytes={}0-", u64::MAX);
    assert_eq!(parse_range(&past_u64, 10), Ranges::Unsatisfiable);
}

/// CONTRACT §11: anything on an empty attachment is unsatisfiable.
#[test]
fn nothing_is_satisfiable_on_an_empty_representation() {
    for value in ["bytes=0-", "bytes=0-0", "bytes=-1", "bytes=-0"] {
        assert_eq!(parse_range(value, 0), Ranges::Unsatisfiable, "{value}");
    }
}

#[test]
fn fields_that_are_ignored() {
    for value in [
        "",
        "bytes",
        "0-1",
        "bytes=",
        "bytes=,",
        "lines=1-2",
        "bytes =0-1",
        "bytes=5-2",
        "bytes=a-",
        "bytes=-",
        "bytes=1",
        "bytes=-a",
        "bytes=1-2-3",
        "bytes=+1-2",
        "bytes=1 -2",
        "bytes=0-1, x",
        "bytes=0-1;q=1",
        "bytes=0x10-",
        "bytes=\u{663}-",
    ] {
        assert_eq!(parse_range(value, 10), Ranges::Ignore, "{value:?}");
    }
}

#[test]
fn at_most_one_hundred_specs() {
    let specs = |n: u64| {
        (0..n)
            .map(|i| format!("{}-{}", 2 * i, 2 * i))
            .collect::<Vec<_>>()
    };
    let hundred = format!("bytes={}", specs(100).join(","));
    assert_eq!(ranges(&hundred, 1000).len(), 100);
    let more = format!("bytes={}", specs(101).join(","));
    assert_eq!(parse_range(&more, 1000), Ranges::Ignore);
    // Empty elements do not count.
    let padded = format!("bytes={},,,", specs(100).join(",,"));
    assert_eq!(ranges(&padded, 1000).len(), 100);
}

/// CONTRACT §11 and RFC 9110 §15.3.7.2: overlapping or touching ranges are coalesced into the
/// place of the first of them; the others keep the request's order.
#[test]
fn coalescing_keeps_the_request_order() {
    assert_eq!(ranges("bytes=50-59, 0-9", 100), [r(50, 59), r(0, 9)]);
    assert_eq!(ranges("bytes=50-59, 0-9, 55-70", 100), [r(50, 70), r(0, 9)]);
    assert_eq!(
        ranges("bytes=50-59, 0-9, 10-19", 100),
        [r(50, 59), r(0, 19)]
    );
    // Transitively: 10-19 joins 0-4 and 5-9 (touching) and 15-29 (overlapping), all into the
    // place of 10-19, the earliest of them; 40-49 stays apart.
    let value = "bytes=10-19, 40-49, 0-4, 15-29, 5-9";
    assert_eq!(ranges(value, 100), [r(0, 29), r(40, 49)]);
    assert_eq!(ranges("bytes=0-9, 0-9, 2-3", 100), [r(0, 9)]);
    assert_eq!(ranges("bytes=-10, 90-", 100), [r(90, 99)]);
    assert_eq!(ranges("bytes=0-, 5-6", 100), [r(0, 99)]);
    // A gap of one byte is not touching.
    assert_eq!(ranges("bytes=0-4, 6-9", 100), [r(0, 4), r(6, 9)]);
}

#[test]
fn content_range_values() {
    assert_eq!(r(0, 499).content_range(10_000), "bytes 0-499/10000");
    assert_eq!(r(0, 499).len(), 500);
    assert_eq!(unsatisfied_content_range(10_000), "bytes */10000");
}

fn modified() -> SystemTime {
    // Sun, 06 Nov 1994 08:49:37 GMT, plus a fraction that must not count.
    UNIX_EPOCH + Duration::from_millis(784_111_777_250)
}

const MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

fn current(tag: &EntityTag) -> Current<'_> {
    Current {
        tag,
        last_modified: Some(modified()),
    }
}

#[test]
fn if_range_with_a_tag_needs_a_strong_match() {
    let tag = EntityTag::from_digest(Digest::of(b"x"));
    let later = modified() + Duration::from_secs(60);
    assert!(if_range_holds(tag.as_str(), &current(&tag), later));
    let weak = format!("W/{}", tag.as_str());
    assert!(!if_range_holds(&weak, &current(&tag), later));
    assert!(!if_range_holds("\"other\"", &current(&tag), later));
    let listed = format!("{}, \"other\"", tag.as_str());
    assert!(!if_range_holds(&listed, &current(&tag), later));
    assert!(!if_range_holds("\"unclosed", &current(&tag), later));
}

/// RFC 9110 §13.1.5 with §8.8.2.2: a date matches only when it equals `Last-Modified` and that
/// is at least one second before the response's `Date`.
#[test]
fn if_range_with_a_date_needs_a_strong_date() {
    let tag = EntityTag::from_digest(Digest::of(b"x"));
    let one_second_later = modified() + Duration::from_millis(750);
    let same_second = modified() + Duration::from_millis(700);
    assert!(if_range_holds(MODIFIED, &current(&tag), one_second_later));
    assert!(!if_range_holds(MODIFIED, &current(&tag), same_second));
    let asctime = "Sun Nov  6 08:49:37 1994";
    assert!(if_range_holds(asctime, &current(&tag), one_second_later));
    let earlier = "Sun, 06 Nov 1994 08:49:36 GMT";
    assert!(!if_range_holds(earlier, &current(&tag), one_second_later));
    assert!(!if_range_holds("garbage", &current(&tag), one_second_later));
    let without_date = Current {
        tag: &tag,
        last_modified: None,
    };
    assert!(!if_range_holds(MODIFIED, &without_date, one_second_later));
}

#[test]
fn select_ranges_applies_if_range_only_with_range() {
    let tag = EntityTag::from_digest(Digest::of(b"x"));
    let date = modified() + Duration::from_secs(5);
    let now = current(&tag);
    let select = |range, if_range| select_ranges(range, if_range, &now, date, 100);
    assert_eq!(select(None, None), Ranges::Ignore);
    assert_eq!(select(None, Some(tag.as_str())), Ranges::Ignore);
    let first_ten = Ranges::Satisfiable(vec![r(0, 9)]);
    assert_eq!(select(Some("bytes=0-9"), None), first_ten);
    assert_eq!(select(Some("bytes=0-9"), Some(tag.as_str())), first_ten);
    assert_eq!(select(Some("bytes=0-9"), Some(MODIFIED)), first_ten);
    assert_eq!(select(Some("bytes=0-9"), Some("\"stale\"")), Ranges::Ignore);
    assert_eq!(
        select(Some("bytes=500-"), Some("\"stale\"")),
        Ranges::Ignore
    );
    assert_eq!(
        select(Some("bytes=500-"), Some(tag.as_str())),
        Ranges::Unsatisfiable
    );
}
