//! Reading HTTP-dates (RFC 9110 §5.6.7) in all three formats a recipient must accept:
//! IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, the obsolete RFC 850 form
//! `Sunday, 06-Nov-94 08:49:37 GMT` and C's asctime form `Sun Nov  6 08:49:37 1994`. Writing one
//! is `crate::message::http_date` (always IMF-fixdate, as §5.6.7 requires of senders).
//!
//! Anything else is `None`, and the caller ignores the field (§13.1.3, §13.1.4: a date that is
//! not valid is ignored). The format is case-sensitive (§5.6.7). The day name must be one of the
//! seven but is not checked against the date, as most servers do: it carries no information
//! the date does not.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses an HTTP-date in any of the three formats; `None` when it is none of them or names no
/// real time (`31 Feb`, `24:00:00`). RFC 850's two-digit years are read relative to the clock.
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    parse_http_date_at(value, SystemTime::now())
}

/// [`parse_http_date`] with `now` for RFC 850's two-digit years (§5.6.7: a year more than 50
/// years in the future is the most recent past year with those digits).
pub fn parse_http_date_at(value: &str, now: SystemTime) -> Option<SystemTime> {
    let value = value.trim_matches([' ', '\t']);
    let civil = match value.len() {
        29 => imf_fixdate(value)?,
        24 => asctime(value)?,
        _ => rfc850(value, current_year(now))?,
    };
    civil.to_system_time()
}

/// `t` without its fraction of a second: what an HTTP-date can show, and so what comparisons
/// with one must use (§13.1.3: "earlier than or equal to").
pub fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(since) => UNIX_EPOCH + Duration::from_secs(since.as_secs()),
        // Before 1970: round down, towards the past, as after it.
        Err(error) => {
            let before = error.duration();
            let seconds = before.as_secs() + u64::from(before.subsec_nanos() > 0);
            UNIX_EPOCH - Duration::from_secs(seconds)
        }
    }
}

/// A date and time of day, UTC, as read; checked by `to_system_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    fn to_system_time(self) -> Option<SystemTime> {
        let days_in_month = match self.month {
            2 if is_leap(self.year) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        // §5.6.7: hour 00-23, minute 00-59, second 00-60 (a leap second, counted into the
        // next minute as POSIX time does).
        if !(1..=days_in_month).contains(&self.day)
            || self.hour > 23
            || self.minute > 59
            || self.second > 60
        {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        let seconds = days * 86_400 + i64::from(self.hour * 3600 + self.minute * 60 + self.second);
        let magnitude = Duration::from_secs(seconds.unsigned_abs());
        if seconds >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        }
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = i64::from((month + 9) % 12);
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The UTC year of `now`, for RFC 850 dates.
fn current_year(now: SystemTime) -> i64 {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX / 2);
    // Close enough for the 50-year window: off by at most a day around New Year.
    let mut year = 1970 + days / 366;
    while days_from_civil(year + 1, 1, 1) <= days {
        year += 1;
    }
    year
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`: every field at a fixed place.
fn imf_fixdate(value: &str) -> Option<Civil> {
    let day_name = value.get(0..3)?;
    let middle = (value.get(3..5)?, value.get(7..8)?, value.get(11..12)?);
    if !DAY_NAMES.contains(&day_name)
        || middle != (", ", " ", " ")
        || value.get(16..17)? != " "
        || value.get(25..)? != " GMT"
    {
        return None;
    }
    let (hour, minute, second) = time_of_day(value.get(17..25)?)?;
    Some(Civil {
        year: i64::from(digits(value.get(12..16)?)?),
        month: month(value.get(8..11)?)?,
        day: digits(value.get(5..7)?)?,
        hour,
        minute,
        second,
    })
}

/// `Sun Nov  6 08:49:37 1994`: the day is two digits or a space and one digit.
fn asctime(value: &str) -> Option<Civil> {
    let day_name = value.get(0..3)?;
    let spaces = (
        value.get(3..4)?,
        value.get(7..8)?,
        value.get(10..11)?,
        value.get(19..20)?,
    );
    if !DAY_NAMES.contains(&day_name) || spaces != (" ", " ", " ", " ") {
        return None;
    }
    let day_text = value.get(8..10)?;
    let day = match day_text.strip_prefix(' ') {
        Some(single) => digits(single)?,
        None => digits(day_text)?,
    };
    let (hour, minute, second) = time_of_day(value.get(11..19)?)?;
    Some(Civil {
        year: i64::from(digits(value.get(20..24)?)?),
        month: month(value.get(4..7)?)?,
        day,
        hour,
        minute,
        second,
    })
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`.
fn rfc850(value: &str, current_year: i64) -> Option<Civil> {
    let (day_name, rest) = value.split_once(", ")?;
    if !LONG_DAY_NAMES.contains(&day_name) || rest.len() != 22 {
        return None;
    }
    let dashes = (rest.get(2..3)?, rest.get(6..7)?);
    if dashes != ("-", "-") || rest.get(9..10)? != " " || rest.get(18..)? != " GMT" {
        return None;
    }
    let two_digits = i64::from(digits(rest.get(7..9)?)?);
    let mut year = current_year - current_year.rem_euclid(100) + two_digits;
    if year > current_year + 50 {
        year -= 100;
    } else if year <= current_year - 50 {
        year += 100;
    }
    let (hour, minute, second) = time_of_day(rest.get(10..18)?)?;
    Some(Civil {
        year,
        month: month(rest.get(3..6)?)?,
        day: digits(rest.get(0..2)?)?,
        hour,
        minute,
        second,
    })
}

/// `HH:MM:SS`, each two digits; ranges are checked later.
fn time_of_day(text: &str) -> Option<(u32, u32, u32)> {
    if text.len() != 8 || text.get(2..3)? != ":" || text.get(5..6)? != ":" {
        return None;
    }
    Some((
        digits(text.get(0..2)?)?,
        digits(text.get(3..5)?)?,
        digits(text.get(6..8)?)?,
    ))
}

/// A run of ASCII digits only (no sign, no space) as a number.
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn month(name: &str) -> Option<u32> {
    let index = MONTHS.iter().position(|&m| m == name)?;
    u32::try_from(index + 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1994-11-06 08:49:37 UTC, RFC 9110's example.
    const EXAMPLE: u64 = 784_111_777;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    /// 2026-12-03, for RFC 850's two-digit years.
    fn now() -> SystemTime {
        at(1_796_256_000)
    }

    fn parse(value: &str) -> Option<SystemTime> {
        parse_http_date_at(value, now())
    }

    #[test]
    fn all_three_formats_of_rfc_9110_read_the_same_time() {
        for value in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun Nov 06 08:49:37 1994",
            " \tSun, 06 Nov 1994 08:49:37 GMT \t",
        ] {
            assert_eq!(parse(value), Some(at(EXAMPLE)), "{value:?}");
        }
    }

    #[test]
    fn reads_what_http_date_writes() {
        for seconds in [
            0,
            59,
            86_399,
            951_782_400,
            EXAMPLE,
            1_796_256_000,
            4_102_444_800,
        ] {
            let written = crate::message::http_date(at(seconds));
            assert_eq!(parse(&written), Some(at(seconds)), "{written}");
        }
    }

    #[test]
    fn calendar_edges() {
        let leap_day = "Tue, 29 Feb 2000 00:00:00 GMT";
        assert_eq!(parse(leap_day), Some(at(951_782_400)));
        assert_eq!(parse("Thu, 01 Jan 1970 00:00:00 GMT"), Some(UNIX_EPOCH));
        let before_1970 = parse("Wed, 31 Dec 1969 23:59:59 GMT");
        assert_eq!(before_1970, Some(UNIX_EPOCH - Duration::from_secs(1)));
        // A leap second counts into the next minute, as POSIX time does.
        let leap_second = parse("Sat, 31 Dec 2016 23:59:60 GMT");
        assert_eq!(leap_second, parse("Sun, 01 Jan 2017 00:00:00 GMT"));
    }

    #[test]
    fn impossible_or_malformed_dates_are_none() {
        for value in [
            "",
            "yesterday",
            "Mon, 29 Feb 2100 00:00:00 GMT",
            "Mon, 31 Apr 2024 00:00:00 GMT",
            "Mon, 00 Jan 2024 00:00:00 GMT",
            "Mon, 01 Jan 2024 24:00:00 GMT",
            "Mon, 01 Jan 2024 23:60:00 GMT",
            "Mon, 01 Jan 2024 23:59:61 GMT",
            "mon, 01 Jan 2024 00:00:00 GMT",
            "Mon, 01 jan 2024 00:00:00 GMT",
            "Mon, 01 Jan 2024 00:00:00 gmt",
            "Mon, 01 Jan 2024 00:00:00 UTC",
            "Mon, 01 Jan 2024 00:00:00 +0000",
            "Mon, 1 Jan 2024 00:00:00 GMT",
            "Mon,  1 Jan 2024 00:00:00 GMT",
            "Mon, 01 Jan 24 00:00:00 GMT",
            "Mon, 01 Jan 2024 0:00:00 GMT",
            "Mon, 01 Jan +024 00:00:00 GMT",
            "Mon, 01 Jan 2024 00:00:00 GMT, Tue, 02 Jan 2024 00:00:00 GMT",
            "Mon 01 Jan 2024 00:00:00 GMT",
            "Monday, 01-Jan-2024 00:00:00 GMT",
            "Mon, 01-Jan-24 00:00:00 GMT",
            "Monday, 01 Jan 24 00:00:00 GMT",
            "Mon Jan  1 00:00:00 24",
            "Mon Jan 1  00:00:00 2024",
            "Mon Jan  1 00:00:00 2024 GMT",
            "Mon, 01 Jan 2024 00:00:00 GMT\u{e9}",
            "Mon, 01 Jan 2024 00:00:\u{e9} GMT",
            "1704067200",
        ] {
            assert_eq!(parse(value), None, "{value:?}");
        }
    }

    #[test]
    fn the_day_name_is_not_checked_against_the_date() {
        // 2024-01-01 was a Monday; the name must exist, not match.
        let monday = parse("Mon, 01 Jan 2024 00:00:00 GMT");
        assert!(monday.is_some());
        assert_eq!(parse("Fri, 01 Jan 2024 00:00:00 GMT"), monday);
        assert_eq!(parse("Fry, 01 Jan 2024 00:00:00 GMT"), None);
    }

    /// RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past.
    #[test]
    fn rfc_850_years_stay_within_fifty_years_of_now() {
        let year_of =
            |value: &str| parse(value).map(|t| crate::message::http_date(t)[12..16].to_owned());
        assert_eq!(
            year_of("Thursday, 01-Jan-76 00:00:00 GMT").as_deref(),
            Some("2076")
        );
        assert_eq!(
            year_of("Friday, 01-Jan-77 00:00:00 GMT").as_deref(),
            Some("1977")
        );
        assert_eq!(
            year_of("Tuesday, 01-Jan-00 00:00:00 GMT").as_deref(),
            Some("2000")
        );
        assert_eq!(current_year(now()), 2026);
        assert_eq!(current_year(at(0)), 1970);
        assert_eq!(current_year(at(1_798_761_599)), 2026);
        assert_eq!(current_year(at(1_798_761_600)), 2027);
    }

    #[test]
    fn whole_seconds_rounds_towards_the_past() {
        let later = at(10) + Duration::from_millis(999);
        assert_eq!(whole_seconds(later), at(10));
        assert_eq!(whole_seconds(at(10)), at(10));
        let before = UNIX_EPOCH - Duration::from_millis(1500);
        assert_eq!(whole_seconds(before), UNIX_EPOCH - Duration::from_secs(2));
    }
}
