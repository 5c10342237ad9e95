//! CORS (the Fetch standard, CONTRACT §12): which origins may read taskd's answers, the fields
//! every response gets for them, and the answer to a preflight. Pure values: the server asks
//! and adds what it is told; nothing here touches a socket.
//!
//! A browser lets a page read a cross-origin answer only when that answer names the page's
//! origin in `Access-Control-Allow-Origin` (Fetch §3.2.3, "CORS check"), and lets the page read
//! only the CORS-safelisted response fields unless `Access-Control-Expose-Headers` names the
//! others. Before a request that is not "simple" (a JSON body, an `Authorization` or `If-Match`
//! field, `PATCH` or `DELETE`) it sends an `OPTIONS` preflight and goes on only if the answer
//! is a 2xx allowing that method and those fields (Fetch §4.8, "CORS-preflight fetch").

mod hints;
mod origin;

pub use hints::ForeignOriginHints;

use crate::error::ApiError;
use crate::message::Reply;
use crate::router::{self, Route};

/// The flag that names an allowed origin (repeatable).
#[cfg(test)]
pub const CORS_ORIGIN_FLAG: &str = "--cors-origin";
/// The environment variable that names allowed origins, comma-separated.
pub const CORS_ORIGINS_VAR: &str = "TASKD_CORS_ORIGINS";

/// Every response field a page may need to read besides the CORS-safelisted ones (Fetch §2.2.6
/// safelists only `Cache-Control`, `Content-Language`, `Content-Length`, `Content-Type`,
/// `Expires`, `Last-Modified` and `Pragma`).
pub const EXPOSED_HEADERS: &str = "Location, ETag, Last-Modified, Content-Disposition, \
     Content-Range, Accept-Ranges, Link, X-Total-Count, Allow, Retry-After, WWW-Authenticate";

/// The request fields a preflight may ask for (compared case-insensitively, RFC 9110 §5.1).
pub const ALLOWED_REQUEST_HEADERS: &[&str] = &[
    "Content-Type",
    "Authorization",
    "If-Match",
    "If-None-Match",
    "If-Modified-Since",
    "If-Unmodified-Since",
    "If-Range",
    "Range",
    "Accept",
    "Accept-Language",
    "Content-Language",
];

/// How long a browser may reuse a preflight's answer (`Access-Control-Max-Age`).
pub const PREFLIGHT_MAX_AGE_SECONDS: u32 = 600;

/// `Vary` on every answer to a preflight: it depends on all three request fields.
pub const PREFLIGHT_VARY: &str = "Origin, Access-Control-Request-Method, \
     Access-Control-Request-Headers";

/// Response fields to add, in the shape of [`crate::message::Reply::headers`].
pub type Fields = Vec<(&'static str, String)>;

/// Which origins may read the answers; built once at start, shared by every connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    allowed: Allowed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Allowed {
    /// No `Access-Control-*` field at all, and preflights are plain `OPTIONS` requests.
    #[default]
    Off,
    /// `*`: any origin, the same fields on every response.
    Any,
    /// These serialized origins, compared byte for byte with `Origin`; never empty.
    Origins(Vec<String>),
}

/// The CORS fields of an `OPTIONS` request, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreflightRequest<'a> {
    /// The request method (case-sensitive: only `OPTIONS` can be a preflight).
    pub method: &'a str,
    /// The request target as received (origin-form, absolute-form or `*`).
    pub target: &'a str,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// `Access-Control-Request-Method`: the method the page wants to use.
    pub request_method: Option<&'a str>,
    /// `Access-Control-Request-Headers`: the fields the page wants to send, comma-separated.
    pub request_headers: Option<&'a str>,
}

/// How a preflight is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreflightOutcome {
    /// 204, no body.
    Allowed,
    /// 403 `{"detail": <this text>}`.
    Refused(String),
    /// 404 `{"detail": "Not Found"}`: no route has this path.
    UnknownPath,
}

/// The whole answer to a preflight: its outcome and every field to send with it (the CORS
/// fields of [`Cors::response_fields`] included: add nothing else from this module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightAnswer {
    /// What to answer.
    pub outcome: PreflightOutcome,
    /// The fields, `Allow` included on a 204.
    pub headers: Fields,
}

impl PreflightAnswer {
    /// The status code of the outcome: 204, 403 or 404.
    #[cfg(test)]
    pub fn status(&self) -> u16 {
        match self.outcome {
            PreflightOutcome::Allowed => 204,
            PreflightOutcome::Refused(_) => 403,
            PreflightOutcome::UnknownPath => 404,
        }
    }

    /// The reply to send: 204 with no body, or the JSON error of a 403 or a 404, each with
    /// every field of the answer.
    pub fn into_reply(self) -> Reply {
        let mut reply = match self.outcome {
            PreflightOutcome::Allowed => Reply::no_content(),
            PreflightOutcome::Refused(detail) => Reply::from(ApiError::Forbidden(detail)),
            PreflightOutcome::UnknownPath => Reply::from(ApiError::no_route()),
        };
        extend_headers(&mut reply.headers, self.headers);
        reply
    }
}

impl Cors {
    /// CORS off: taskd answers as CONTRACT §1–§11 say and sends no `Access-Control-*` field.
    pub fn off() -> Cors {
        Cors::default()
    }

    /// The union of the `--cors-origin` values and the comma-separated `TASKD_CORS_ORIGINS`
    /// (empty list elements skipped); off when both are empty. Any `*` allows every origin.
    ///
    /// # Errors
    /// The first value that is neither `*` nor an origin exactly as browsers write it (see the
    /// `origin` module), in a message naming its source, the value and the fix.
    #[cfg(test)]
    pub fn from_config(flag_values: &[String], env_value: Option<&str>) -> Result<Cors, String> {
        let cors = Cors::off()
            .allowing(flag_values)
            .map_err(|why| format!("{CORS_ORIGIN_FLAG} {why}"))?;
        cors.allowing(split_origins(env_value.unwrap_or_default()))
            .map_err(|why| format!("{CORS_ORIGINS_VAR} {why}"))
    }

    /// These origins allowed too (`*`: every origin); CORS is on once any value is given.
    ///
    /// # Errors
    /// The first value that is neither `*` nor an origin exactly as browsers write it, as
    /// `"<value>": <why and the fix>`.
    pub fn allowing<I, S>(self, values: I) -> Result<Cors, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let (mut any, mut origins) = match self.allowed {
            Allowed::Off => (false, Vec::new()),
            Allowed::Any => (true, Vec::new()),
            Allowed::Origins(origins) => (false, origins),
        };
        for value in values {
            let value = value.as_ref();
            if value == "*" {
                any = true;
                continue;
            }
            origin::check_configured(value).map_err(|why| format!("{value:?}: {why}"))?;
            if !origins.iter().any(|known| known == value) {
                origins.push(value.to_owned());
            }
        }
        let allowed = match (any, origins.is_empty()) {
            (true, _) => Allowed::Any,
            (false, true) => Allowed::Off,
            (false, false) => Allowed::Origins(origins),
        };
        Ok(Cors { allowed })
    }

    /// Whether any origin is allowed; when not, the server sends no `Access-Control-*` field
    /// and may hint instead ([`ForeignOriginHints`]).
    pub fn is_enabled(&self) -> bool {
        self.allowed != Allowed::Off
    }

    /// Whether a request with this `Origin` may read the answer.
    pub fn allows(&self, origin: &str) -> bool {
        match &self.allowed {
            Allowed::Off => false,
            Allowed::Any => true,
            Allowed::Origins(origins) => origins.iter().any(|allowed| allowed == origin),
        }
    }

    /// The CORS fields for any response (every status, 401 and transport errors included) to
    /// a request with this `Origin`, except a preflight's ([`Cors::preflight`] gives those).
    ///
    /// With `*` every response is the same whatever the `Origin` (no `Vary` needed, so a cached
    /// answer to a request without `Origin` still serves a page); with a list, every response
    /// says it varies by `Origin` (RFC 9110 §12.5.5) and names the origin when it is allowed.
    pub fn response_fields(&self, origin: Option<&str>) -> Fields {
        let mut fields = Fields::new();
        match &self.allowed {
            Allowed::Off => {}
            Allowed::Any => push_allow_origin(&mut fields, "*"),
            Allowed::Origins(_) => {
                if let Some(origin) = origin.filter(|origin| self.allows(origin)) {
                    push_allow_origin(&mut fields, origin);
                }
                fields.push(("Vary", "Origin".to_owned()));
            }
        }
        fields
    }

    /// The answer to a CORS preflight, or `None` when the request is not one (CORS off, not
    /// `OPTIONS`, no `Origin` or no `Access-Control-Request-Method`): then it is served as
    /// usual, token check included.
    ///
    /// Call it before the token check: browsers never send credentials on a preflight. On a
    /// known path, or one that would 307 (answered as for the path without the slashes), the
    /// origin, then the method, then each requested field is checked, and the first that is
    /// not allowed refuses the preflight; on an unknown path the answer is 404.
    pub fn preflight(&self, request: &PreflightRequest<'_>) -> Option<PreflightAnswer> {
        let (Some(origin), Some(method)) = (request.origin, request.request_method) else {
            return None;
        };
        if !self.is_enabled() || request.method != "OPTIONS" {
            return None;
        }
        let mut headers = self.preflight_base_fields(origin);
        let Some(target) = resolve_target(request.target) else {
            return Some(PreflightAnswer {
                outcome: PreflightOutcome::UnknownPath,
                headers,
            });
        };
        let requested = request_header_names(request.request_headers.unwrap_or_default());
        let outcome = match self.refusal(origin, method, &requested, &target) {
            Some(detail) => PreflightOutcome::Refused(detail),
            None => {
                headers.extend(allowed_fields(target.allow, &requested));
                PreflightOutcome::Allowed
            }
        };
        Some(PreflightAnswer { outcome, headers })
    }

    /// The fields every answer to a preflight carries, whatever its outcome.
    fn preflight_base_fields(&self, origin: &str) -> Fields {
        let mut fields = Fields::new();
        if self.allows(origin) {
            let value = if self.allowed == Allowed::Any {
                "*"
            } else {
                origin
            };
            push_allow_origin(&mut fields, value);
        }
        fields.push(("Vary", PREFLIGHT_VARY.to_owned()));
        fields
    }

    /// CONTRACT §12's refusal texts, the first that applies in the contract's order.
    fn refusal(
        &self,
        origin: &str,
        method: &str,
        requested: &[&str],
        target: &PreflightTarget,
    ) -> Option<String> {
        if !self.allows(origin) {
            return Some(format!(
                "CORS preflight refused: origin {origin} is not allowed"
            ));
        }
        // Methods are case-sensitive (RFC 9110 §9.1); Fetch upper-cases only the standard
        // ones, so a page's `patch` arrives as `patch` and is refused, as its request would be.
        if !list_elements(target.allow).any(|allowed| allowed == method) {
            return Some(format!(
                "CORS preflight refused: method {method} is not allowed on {}",
                target.path
            ));
        }
        let refused = requested.iter().find(|name| {
            !ALLOWED_REQUEST_HEADERS
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(name))
        })?;
        Some(format!(
            "CORS preflight refused: header {refused} is not allowed"
        ))
    }
}

/// Adds `fields` to a reply's headers, merging `Vary` into a `Vary` already there (RFC 9110
/// §12.5.5 makes it one list; one field reads better than two).
pub fn extend_headers(headers: &mut Fields, fields: Fields) {
    for (name, value) in fields {
        let existing = headers
            .iter_mut()
            .find(|(known, _)| name == "Vary" && known.eq_ignore_ascii_case("Vary"));
        match existing {
            Some((_, list)) => {
                list.push_str(", ");
                list.push_str(&value);
            }
            None => headers.push((name, value)),
        }
    }
}

fn push_allow_origin(fields: &mut Fields, value: &str) {
    fields.push(("Access-Control-Allow-Origin", value.to_owned()));
    fields.push(("Access-Control-Expose-Headers", EXPOSED_HEADERS.to_owned()));
}

/// The 204's own fields: `Allow` as CONTRACT §3 gives it to `OPTIONS`, and what Fetch §4.8
/// checks (`Access-Control-Allow-Methods`, `-Headers`) and caches (`-Max-Age`).
fn allowed_fields(allow: &'static str, requested: &[&str]) -> Fields {
    let mut fields = vec![
        ("Allow", allow.to_owned()),
        ("Access-Control-Allow-Methods", allow.to_owned()),
    ];
    if !requested.is_empty() {
        // Echoing client text is safe here: a 204 means every name matched the fixed list.
        fields.push(("Access-Control-Allow-Headers", requested.join(", ")));
    }
    fields.push((
        "Access-Control-Max-Age",
        PREFLIGHT_MAX_AGE_SECONDS.to_string(),
    ));
    fields
}

/// The elements of a comma-separated field value (RFC 9110 §5.6.1): optional whitespace
/// around each, empty elements ignored.
fn list_elements(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(|element| element.trim_matches([' ', '\t']))
        .filter(|element| !element.is_empty())
}

/// The names in `Access-Control-Request-Headers`, as sent (browsers send them lower-case).
fn request_header_names(value: &str) -> Vec<&str> {
    list_elements(value).collect()
}

/// What the router says about a preflight's path.
#[derive(Debug)]
struct PreflightTarget {
    /// The path's `Allow` (CONTRACT §2).
    allow: &'static str,
    /// The path for the refusal text: as sent, without the query (and without the trailing
    /// slashes when it would 307).
    path: String,
}

/// The path's `Allow`, or `None` for a path no route has (404). A path that would 307 is
/// answered as for its `Location`: a browser does not follow a redirect on a preflight (Fetch
/// §4.8 wants a 2xx), and the request that follows will get the 307 with the CORS fields.
fn resolve_target(target: &str) -> Option<PreflightTarget> {
    let resolved = |target: &str| match router::route("OPTIONS", target) {
        Ok(Route::Options { allow }) => Some(PreflightTarget {
            allow,
            path: path_of(target).to_owned(),
        }),
        _ => None,
    };
    match router::route("OPTIONS", target) {
        Ok(Route::Redirect { location }) => resolved(&location),
        _ => resolved(target),
    }
}

/// The path of a request target: without the query, and without `scheme://authority` in
/// absolute-form (RFC 9112 §3.2.2).
fn path_of(target: &str) -> &str {
    let without_query = target.split_once('?').map_or(target, |(path, _)| path);
    match without_query.split_once("://") {
        Some((scheme, rest)) if !scheme.contains('/') => {
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        _ => without_query,
    }
}

#[cfg(test)]
mod tests;

/// The elements of a comma-separated list of origins (`TASKD_CORS_ORIGINS`), empty ones and
/// the whitespace around each skipped.
pub fn split_origins(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(|value| value.trim_matches([' ', '\t']))
        .filter(|value| !value.is_empty())
}
