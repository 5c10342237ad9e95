//! With CORS off, a page on another origin can send requests but the browser hides every
//! answer from it, and the page's developer sees only an opaque "CORS error". One stderr line
//! per such origin names the flag that would fix it (CONTRACT §12).

use std::sync::{Mutex, PoisonError};

use super::origin::RequestOrigin;

/// Most distinct origins hinted per process: a public server sees many origins, and the log
/// must not fill with hints.
pub const MAX_HINTED_ORIGINS: usize = 16;

/// The origins already hinted at; the server owns one for the life of the process and shares
/// it between connections.
#[derive(Debug, Default)]
pub struct ForeignOriginHints {
    /// Serialized origins (`null` included) already named on stderr, in the order seen; never
    /// longer than [`MAX_HINTED_ORIGINS`].
    hinted: Mutex<Vec<String>>,
}

impl ForeignOriginHints {
    /// No origin hinted yet.
    pub fn new() -> ForeignOriginHints {
        ForeignOriginHints::default()
    }

    /// The stderr line to print for a request with this `Origin` and `Host`, when CORS is off
    /// and `--quiet` is not given; `None` when the origin is the server's own, was hinted
    /// before, is malformed, when `Host` is missing or malformed, or when
    /// [`MAX_HINTED_ORIGINS`] have been hinted already.
    pub fn hint(&self, origin: Option<&str>, host: Option<&str>) -> Option<String> {
        let origin = RequestOrigin::parse(origin?)?;
        if !origin.is_foreign_to(host?)? {
            return None;
        }
        let key = match &origin {
            RequestOrigin::Opaque => "null",
            RequestOrigin::Tuple { serialized, .. } => serialized.as_str(),
        };
        let count = self.remember(key)?;
        Some(hint_line(&origin, count == MAX_HINTED_ORIGINS))
    }

    /// Records `origin` unless it is known or the memory is full; the number of origins
    /// remembered after it, or `None` when nothing was added.
    fn remember(&self, origin: &str) -> Option<usize> {
        // A push cannot leave the list half-changed, so a poisoned lock is still sound.
        let mut hinted = self.hinted.lock().unwrap_or_else(PoisonError::into_inner);
        if hinted.len() >= MAX_HINTED_ORIGINS || hinted.iter().any(|known| known == origin) {
            return None;
        }
        hinted.push(origin.to_owned());
        Some(hinted.len())
    }
}

/// The hint itself. The origin was validated by `RequestOrigin::parse`, so it holds no
/// control byte and is a value `--cors-origin` accepts as written.
fn hint_line(origin: &RequestOrigin, is_last: bool) -> String {
    let (page, flag) = match origin {
        RequestOrigin::Opaque => (
            "a page with the opaque origin `null` (a file:// page or a sandboxed frame)".to_owned(),
            "--cors-origin '*'".to_owned(),
        ),
        RequestOrigin::Tuple { serialized, .. } => (
            format!("a page on {serialized}"),
            format!("--cors-origin {serialized}"),
        ),
    };
    let last = if is_last {
        format!(" (the last such hint: {MAX_HINTED_ORIGINS} origins named)")
    } else {
        String::new()
    };
    format!(
        "taskd: {page} sent a request, but CORS is off, so the browser hides the answer from \
         that page; start taskd with {flag} to let it read the answers{last}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "http://localhost:5173";

    #[test]
    fn a_foreign_origin_is_hinted_once_with_the_flag() {
        let hints = ForeignOriginHints::new();
        assert_eq!(
            hints.hint(Some(PAGE), Some("localhost:8000")).as_deref(),
            Some(
                "taskd: a page on http://localhost:5173 sent a request, but CORS is off, so the \
                 browser hides the answer from that page; start taskd with --cors-origin \
                 http://localhost:5173 to let it read the answers"
            )
        );
        assert_eq!(hints.hint(Some(PAGE), Some("localhost:8000")), None);
        assert!(hints
            .hint(Some("http://localhost:3000"), Some("localhost:8000"))
            .is_some());
    }

    #[test]
    fn the_servers_own_origin_is_not_hinted() {
        let hints = ForeignOriginHints::new();
        for (origin, host) in [
            ("http://localhost:8000", "localhost:8000"),
            ("http://localhost:8000", "LocalHost:8000"),
            ("https://tasks.example", "tasks.example"),
            ("https://tasks.example", "tasks.example:443"),
            ("http://tasks.example", "tasks.example:80"),
            ("http://tasks.example", "tasks.example:"),
            ("http://[::1]:8000", "[::1]:8000"),
        ] {
            assert_eq!(
                hints.hint(Some(origin), Some(host)),
                None,
                "{origin} {host}"
            );
        }
    }

    /// RFC 6454 §5: another host or another port is another origin.
    #[test]
    fn another_host_or_port_is_foreign() {
        for (origin, host) in [
            ("http://localhost:8000", "localhost"),
            ("http://localhost:8000", "localhost:8001"),
            ("http://127.0.0.1:8000", "localhost:8000"),
            ("https://tasks.example", "tasks.example:80"),
            ("http://[::1]:8000", "[::1]:9000"),
            ("http://[::1]:8000", "[::1]"),
        ] {
            let hints = ForeignOriginHints::new();
            assert!(
                hints.hint(Some(origin), Some(host)).is_some(),
                "{origin} {host}"
            );
        }
    }

    #[test]
    fn the_opaque_origin_is_hinted_with_star() {
        let hints = ForeignOriginHints::new();
        let line = hints.hint(Some("null"), Some("localhost:8000")).unwrap();
        assert!(line.contains("the opaque origin `null`"), "{line}");
        assert!(line.contains("--cors-origin '*'"), "{line}");
        assert_eq!(hints.hint(Some("null"), Some("localhost:8000")), None);
    }

    #[test]
    fn nothing_is_hinted_without_a_well_formed_origin_and_host() {
        let hints = ForeignOriginHints::new();
        for (origin, host) in [
            (None, Some("localhost:8000")),
            (Some(PAGE), None),
            (Some("garbage"), Some("localhost:8000")),
            (Some("http://localhost:5173/"), Some("localhost:8000")),
            (Some("HTTP://LOCALHOST:5173"), Some("localhost:8000")),
            (Some(PAGE), Some("")),
            (Some(PAGE), Some("localhost:80a")),
            (Some(PAGE), Some("localhost:99999")),
            (Some(PAGE), Some("[::1")),
            (Some(PAGE), Some("[::1]x")),
        ] {
            assert_eq!(hints.hint(origin, host), None, "{origin:?} {host:?}");
        }
        // None of them used up a place: the cap still allows 16 distinct origins.
        for port in 0..MAX_HINTED_ORIGINS {
            let origin = format!("http://localhost:{}", 3000 + port);
            assert!(hints.hint(Some(&origin), Some("localhost:8000")).is_some());
        }
    }

    #[test]
    fn at_most_sixteen_origins_are_hinted_and_the_last_says_so() {
        let hints = ForeignOriginHints::new();
        let lines: Vec<String> = (0..20)
            .filter_map(|port| {
                let origin = format!("http://localhost:{}", 3000 + port);
                hints.hint(Some(&origin), Some("localhost:8000"))
            })
            .collect();
        assert_eq!(lines.len(), MAX_HINTED_ORIGINS);
        assert_eq!(MAX_HINTED_ORIGINS, 16);
        let (last, others) = lines.split_last().unwrap();
        assert!(
            last.ends_with(" (the last such hint: 16 origins named)"),
            "{last}"
        );
        assert!(others.iter().all(|line| !line.contains("last such hint")));
    }

    #[test]
    fn concurrent_requests_from_one_origin_get_one_hint() {
        let hints = ForeignOriginHints::new();
        let printed: usize = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| hints.hint(Some(PAGE), Some("localhost:8000")).is_some()))
                .collect();
            workers
                .into_iter()
                .map(|worker| usize::from(worker.join().unwrap()))
                .sum()
        });
        assert_eq!(printed, 1);
    }
}
