//! The access log's line: the Common Log Format of the NCSA and Apache servers, then taskd's
//! own fields, so the usual tools (goaccess, awk on `$9`) read it as they read any server's:
//!
//! ```text
//! 127.0.0.1 - - [07/Dec/2026:19:40:00 +0000] "GET /tasks HTTP/1.1" 200 123 845us
//! ```
//!
//! host, identity and user (`-`: taskd knows neither), the time the request's head arrived (UTC),
//! the request line (`"-"` when the head could not be read), the status, the body bytes sent
//! (`0` for none, where Apache's `%b` writes `-`), then the time from the head's arrival to
//! the answer's last byte, and ` (abandoned)` when the answer was not written whole. Never a
//! body or a header: `Authorization` stays out of the log.

use std::time::SystemTime;

use crate::message::http_date;
use http1::Exchange;

/// One access-log line for an exchange that got an answer with this `status`, logged at `now`.
pub fn line(exchange: &Exchange<'_>, status: u16, now: SystemTime) -> String {
    let received = now.checked_sub(exchange.elapsed).unwrap_or(now);
    // The target is escaped (`\"`, `\n`, `\u{…}`) so that a client cannot forge a line or a field.
    let request = match exchange.request {
        Some((method, target)) => match version(exchange.raw_head) {
            Some(version) => format!("{method} {} {version}", target.escape_default()),
            None => format!("{method} {}", target.escape_default()),
        },
        None => "-".to_owned(),
    };
    let cut = if exchange.completed {
        ""
    } else {
        " (abandoned)"
    };
    format!(
        "{} - - [{}] \"{request}\" {status} {} {}us{cut}",
        exchange.peer.ip(),
        clf_time(received),
        exchange.body_bytes,
        exchange.elapsed.as_micros(),
    )
}

/// The request line's protocol (`HTTP/1.1`), from the head as received: its first line's last
/// word (RFC 9112 §3: `method SP request-target SP HTTP-version`).
fn version(raw_head: &[u8]) -> Option<&str> {
    let first_line = raw_head.split(|&byte| byte == b'\n').next()?;
    let word = first_line.rsplit(|&byte| byte == b' ').next()?;
    let word = std::str::from_utf8(word).ok()?.trim_end_matches('\r');
    word.starts_with("HTTP/").then_some(word)
}

/// CLF's `[day/month/year:hour:minute:second zone]`, in UTC, from the HTTP date of the same
/// moment (`Mon, 07 Dec 2026 19:40:00 GMT` → `07/Dec/2026:19:40:00 +0000`).
fn clf_time(time: SystemTime) -> String {
    let date = http_date(time);
    let fields: Vec<&str> = date.split(' ').collect();
    match fields[..] {
        [_, day, month, year, clock, _] => format!("{day}/{month}/{year}:{clock} +0000"),
        // http_date always writes six fields; should that change, the log still has a time.
        _ => date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn clf_time_is_day_month_year_clock_utc() {
        // RFC 9110 §5.6.7's example moment: Sun, 06 Nov 1994 08:49:37 GMT.
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(clf_time(time), "06/Nov/1994:08:49:37 +0000");
    }

    #[test]
    fn version_is_the_request_lines_last_word() {
        assert_eq!(
            version(b"GET /tasks HTTP/1.1\r\nHost: a\r\n\r\n"),
            Some("HTTP/1.1")
        );
        assert_eq!(version(b"GET /tasks HTTP/1.0\n\n"), Some("HTTP/1.0"));
        assert_eq!(version(b"GET /tasks"), None);
        assert_eq!(version(b""), None);
    }
}
