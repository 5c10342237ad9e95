//! The values flags and variables take: listening addresses, seconds, counts, switches. Each
//! parser returns what is expected when the text does not fit, for the one-line usage error.

use std::time::Duration;

/// What `--addr` accepts, said once for every error about it.
pub const ADDR_FORMS: &str =
    "expected PORT, :PORT or HOST:PORT (e.g. 8000, :8000, 0.0.0.0:8000, [::1]:8000)";

/// The host a bare `PORT` or `:PORT` listens on: loopback, as the default address does, so a
/// shorthand never exposes the server by surprise.
const SHORTHAND_HOST: &str = "127.0.0.1";

/// `--addr`: `PORT` and `:PORT` mean `127.0.0.1:PORT`; `HOST:PORT` is kept as written for the
/// resolver (an IPv6 host in brackets, RFC 3986 §3.2.2). Whether HOST resolves is a runtime
/// question, answered when binding.
pub fn listen_addr(text: &str) -> Result<String, &'static str> {
    let port_only = text.strip_prefix(':').unwrap_or(text);
    if is_port(port_only) {
        return Ok(format!("{SHORTHAND_HOST}:{port_only}"));
    }
    let (host, port) = text.rsplit_once(':').ok_or(ADDR_FORMS)?;
    let host_ok = if host.starts_with('[') {
        host.ends_with(']') && host.len() > 2
    } else {
        !host.is_empty() && !host.contains(':')
    };
    if !host_ok || !is_port(port) {
        return Err(ADDR_FORMS);
    }
    Ok(text.to_owned())
}

/// Decimal digits that fit a TCP port (0 included: the OS picks a free one).
fn is_port(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && text.parse::<u16>().is_ok()
}

/// A positive number of seconds, fractions allowed (`0.5`).
pub fn seconds(text: &str) -> Result<Duration, &'static str> {
    text.parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or("expected a positive number of seconds, e.g. 10 or 0.5")
}

/// A whole number of at least 1.
pub fn count(text: &str) -> Result<usize, &'static str> {
    text.parse()
        .ok()
        .filter(|&n: &usize| n > 0)
        .ok_or("expected a whole number of at least 1")
}

/// A whole number of bytes (0 refuses every attachment).
pub fn bytes(text: &str) -> Result<u64, &'static str> {
    text.parse()
        .map_err(|_| "expected a whole number of bytes, e.g. 1048576")
}

/// A switch's variable: `TASKD_QUIET=1`.
pub fn switch(text: &str) -> Result<bool, &'static str> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected 1, true, yes, on, or 0, false, no, off"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_alone_listens_on_loopback() {
        assert_eq!(listen_addr("9000").unwrap(), "127.0.0.1:9000");
        assert_eq!(listen_addr(":9000").unwrap(), "127.0.0.1:9000");
        assert_eq!(listen_addr("0").unwrap(), "127.0.0.1:0");
    }

    #[test]
    fn host_and_port_are_kept_as_written() {
        for addr in [
            "127.0.0.1:8000",
            "0.0.0.0:80",
            "[::1]:8000",
            "localhost:8000",
        ] {
            assert_eq!(listen_addr(addr).unwrap(), addr);
        }
    }

    #[test]
    fn anything_else_says_which_forms_work() {
        for bad in [
            "",
            ":",
            "9000x",
            "70000",
            ":70000",
            "localhost",
            "::1:80",
            "[]:80",
            "host:",
            "+80",
        ] {
            assert_eq!(listen_addr(bad), Err(ADDR_FORMS), "{bad:?}");
        }
    }

    #[test]
    fn numbers_and_switches() {
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        for bad in ["0", "-1", "x", "inf", "NaN"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(count("3"), Ok(3));
        assert!(count("0").is_err());
        assert_eq!(bytes("0"), Ok(0));
        assert!(bytes("-1").is_err());
        assert_eq!(switch("Yes"), Ok(true));
        assert_eq!(switch("off"), Ok(false));
        assert!(switch("maybe").is_err());
    }
}
