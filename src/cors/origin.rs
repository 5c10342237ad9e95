//! Origins as browsers write them (RFC 6454 §6.2, the URL standard's origin serialization):
//! which `--cors-origin` values are valid, and whether a request's `Origin` names another host
//! and port than its `Host`.
//!
//! A valid configured origin is exactly the string a browser puts in `Origin`, because that is
//! what it is compared with, byte for byte: a lower-case scheme, `://`, the host as the URL
//! standard serializes it (lower case, punycode for non-ASCII names, `[...]` compressed IPv6,
//! dotted-quad IPv4), and `:port` only when it is not the scheme's default (80 for `http`, 443
//! for `https`); no user info, no path (not even `/`), no query, no fragment. Anything else is
//! refused with the spelling that would work, rather than accepted and never matched.

use url::Url;

/// Why `value` is not an origin as a browser would send it, or `Ok` when it is.
///
/// # Errors
/// A sentence saying what is wrong and, where one exists, the spelling to use instead.
pub(crate) fn check_configured(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("an empty value is not an origin".to_owned());
    }
    if value == "null" {
        // RFC 6454 §7.3 / Fetch: file:// pages and sandboxed frames send the opaque `null`,
        // which many unrelated pages share, so it is never listed by name.
        return Err(
            "`null` is the origin of file:// pages and sandboxed frames, shared by \
                    all of them; allow it only through `*`"
                .to_owned(),
        );
    }
    if value.contains('*') {
        return Err(
            "wildcard patterns are not supported: list each origin, or use a lone `*` \
                    for any origin"
                .to_owned(),
        );
    }
    let canonical = Url::parse(value)
        .ok()
        .as_ref()
        .and_then(serialize)
        .ok_or_else(|| "not an origin: expected scheme://host[:port]".to_owned())?;
    if canonical != value {
        return Err(format!(
            "not an origin as browsers send it (lower-case scheme and host, no default port, \
             no user, no path, not even `/`, no query): write {canonical}"
        ));
    }
    Ok(())
}

/// `scheme://host[:port]` of a URL, in the URL standard's origin serialization; `None` when
/// the URL has no host (`file:///x`, `data:...`, `mailto:...`).
fn serialize(url: &Url) -> Option<String> {
    let host = url.host_str().filter(|host| !host.is_empty())?;
    // `port()` is `None` for a special scheme's default port, which an origin omits.
    let port = url
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    Some(format!("{}://{host}{port}", url.scheme()))
}

/// A request's `Origin` when it is a well-formed origin a browser could send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequestOrigin {
    /// `null`: a file:// page, a sandboxed frame, a cross-origin redirect.
    Opaque,
    /// `scheme://host[:port]`, exactly as `check_configured` accepts it.
    Tuple {
        /// The whole value, valid as a `--cors-origin`.
        serialized: String,
        /// The lower-case host (IPv6 in brackets).
        host: String,
        /// The explicit port, or the scheme's default; `None` for a scheme without one.
        port: Option<u16>,
        /// The scheme's default port, which a `Host` without a port stands for.
        default_port: Option<u16>,
    },
}

impl RequestOrigin {
    /// Parses an `Origin` field value; `None` for anything a browser would not send.
    pub(crate) fn parse(value: &str) -> Option<RequestOrigin> {
        if value == "null" {
            return Some(RequestOrigin::Opaque);
        }
        check_configured(value).ok()?;
        let url = Url::parse(value).ok()?;
        Some(RequestOrigin::Tuple {
            serialized: value.to_owned(),
            host: url.host_str()?.to_owned(),
            port: url.port_or_known_default(),
            default_port: default_port(url.scheme()),
        })
    }

    /// Whether a page of this origin is not the server the request was sent to: RFC 6454 §5
    /// compares scheme, host and port; only host and port can be seen here (taskd does not
    /// know whether a proxy in front of it spoke TLS), so those two are compared.
    ///
    /// A `Host` without a port stands for the default port of the origin's scheme: `Origin:
    /// https://tasks.example` with `Host: tasks.example` came through a TLS proxy to the same
    /// site. `None` when `Host` is missing or malformed: nothing can be said.
    pub(crate) fn is_foreign_to(&self, host_field: &str) -> Option<bool> {
        let (host, explicit_port) = split_host_field(host_field)?;
        match self {
            RequestOrigin::Opaque => Some(true),
            RequestOrigin::Tuple {
                host: origin_host,
                port: origin_port,
                default_port,
                ..
            } => {
                let same_host = origin_host.eq_ignore_ascii_case(host);
                let same_port = explicit_port.or(*default_port) == *origin_port;
                Some(!(same_host && same_port))
            }
        }
    }
}

/// The default port of a scheme the URL standard calls special, which an origin omits.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        "ftp" => Some(21),
        _ => None,
    }
}

/// `Host` (RFC 9110 §7.2: `uri-host [ ":" port ]`) as its host and explicit port. An empty
/// port (`localhost:`) is the default, as RFC 3986 §3.2.3 allows.
fn split_host_field(value: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if value.starts_with('[') {
        let close = value.find(']')?;
        let (host, rest) = value.split_at(close + 1);
        (
            host,
            rest.strip_prefix(':').or(rest.is_empty().then_some(""))?,
        )
    } else {
        value.split_once(':').unwrap_or((value, ""))
    };
    if host.is_empty() {
        return None;
    }
    if port.is_empty() {
        return Some((host, None));
    }
    if !port.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some((host, Some(port.parse().ok()?)))
}
