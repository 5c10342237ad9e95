//! The checks on methods and redirects: HEAD mirrors GET, OPTIONS and 405 list the methods in
//! `Allow`, and a trailing slash is either served or redirected without losing the method.
//!
//! "Complete" `Allow` means: it names every method the checker has already seen succeed on that
//! resource. The checker cannot know methods it never tried, so it never asks for more.

use url::Url;

use super::message::{quote_body, Response};
use super::report::Outcome;
use super::rules::{absolute_note, resolve, same_place, server_error, status_text};

/// `HEAD` answers like `GET` without the content. `get` is the GET of the same target.
pub fn head_matches(get: &Response, head: &Response) -> Outcome {
    if head.status != get.status {
        return Outcome::fail(
            format!(
                "{} to HEAD, while GET answered {}",
                status_text(head),
                get.status
            ),
            "the status and headers GET gives, without the body: every general-purpose server \
             MUST support HEAD wherever it supports GET",
            "RFC 9110 §9.1, §9.3.2",
        );
    }
    if !head.body.is_empty() {
        return Outcome::fail(
            format!(
                "{} followed by {}",
                status_text(head),
                quote_body(&head.body)
            ),
            "no content: HEAD is GET without the body, and a server MUST NOT send one",
            "RFC 9110 §9.3.2",
        );
    }
    if head.header("Content-Type") != get.header("Content-Type") {
        return Outcome::fail(
            format!(
                "HEAD with Content-Type {:?}, GET with {:?}",
                head.header("Content-Type"),
                get.header("Content-Type")
            ),
            "the header fields GET sends, so a client can learn about the response without \
             downloading it",
            "RFC 9110 §9.3.2",
        );
    }
    match head.header("Content-Length") {
        Some(length) if length.parse::<usize>().ok() != Some(get.body.len()) => Outcome::fail(
            format!(
                "HEAD with Content-Length: {length}, while GET sends {} bytes",
                get.body.len()
            ),
            "no Content-Length, or the one GET would send: a server MUST NOT send any other",
            "RFC 9110 §8.6, §9.3.2",
        ),
        _ => Outcome::Pass,
    }
}

/// The methods in the response's `Allow` header fields, or `None` without one.
pub fn allowed(response: &Response) -> Option<Vec<String>> {
    let values = response.header_values("Allow");
    if values.is_empty() {
        return None;
    }
    let methods = values.iter().flat_map(|value| value.split(','));
    let methods = methods.map(str::trim).filter(|method| !method.is_empty());
    Some(methods.map(str::to_owned).collect())
}

/// The methods of `seen` that `Allow` leaves out (methods are case-sensitive, RFC 9110 §9.1).
fn missing_from(allow: &[String], seen: &[&str]) -> Vec<String> {
    let missing = seen
        .iter()
        .filter(|method| !allow.iter().any(|m| m == *method));
    missing.map(|method| (*method).to_owned()).collect()
}

/// The FAIL for an `Allow` that is absent or leaves out methods seen to work, if any.
fn allow_problem(response: &Response, seen: &[&str], rfc: &str) -> Option<Outcome> {
    let seen_list = seen.join(", ");
    let Some(allow) = allowed(response) else {
        return Some(Outcome::fail(
            format!("{} with no Allow header", status_text(response)),
            format!("an Allow header listing what this resource supports ({seen_list})"),
            rfc,
        ));
    };
    let missing = missing_from(&allow, seen);
    (!missing.is_empty()).then(|| {
        Outcome::fail(
            format!(
                "{} with Allow: {}",
                status_text(response),
                response.header_values("Allow").join(", ")
            ),
            format!(
                "Allow listing every method the resource supports; {} worked on this kind of \
                 resource earlier in the run but is not listed",
                missing.join(", ")
            ),
            rfc,
        )
    })
}

/// `OPTIONS` on a resource: 2xx with a complete `Allow`; a 405 is allowed.
pub fn options(response: &Response, seen: &[&str]) -> Outcome {
    match response.status {
        200..=299 => {
            let rfc = "RFC 9110 §9.3.7, §10.2.1";
            if let Some(problem) = allow_problem(response, seen, rfc) {
                return problem;
            }
            if response.status == 204 {
                return no_content_problem(response).unwrap_or(Outcome::Pass);
            }
            // RFC 7231 §4.3.7 required `Content-Length: 0` on an empty OPTIONS answer; RFC 9110
            // §9.3.7 dropped that sentence, so an unframed empty 200 is not checked here.
            Outcome::Pass
        }
        // Only GET and HEAD are required (RFC 9110 §9.1), so refusing OPTIONS is allowed; the
        // lesson's FastAPI app answers 405, taskd 204 + Allow (CONTRACT §3).
        405 | 501 => Outcome::note(format!(
            "{}: OPTIONS is optional in HTTP (only GET and HEAD are required, RFC 9110 §9.1). \
             taskd answers 204 with Allow, so a client can ask what it may do here.",
            status_text(response)
        )),
        _ => server_error(response).unwrap_or_else(|| {
            Outcome::fail(
                response.describe(),
                "2xx with an Allow header, or 405 if OPTIONS is not supported",
                "RFC 9110 §9.3.7",
            )
        }),
    }
}

/// The FAIL for a 204 that carries content or `Content-Length`.
fn no_content_problem(response: &Response) -> Option<Outcome> {
    if !response.body.is_empty() {
        return Some(Outcome::fail(
            format!("204 followed by {}", quote_body(&response.body)),
            "nothing after the header section of a 204",
            "RFC 9110 §15.3.5",
        ));
    }
    response.header("Content-Length").map(|length| {
        Outcome::fail(
            format!("204 with Content-Length: {length}"),
            "no Content-Length in a 204",
            "RFC 9110 §8.6",
        )
    })
}

/// `OPTIONS *`: about the server as a whole; optional.
pub fn options_star(response: &Response) -> Outcome {
    match response.status {
        200..=299 => Outcome::Pass,
        // RFC 9110 §9.3.7 defines it but nothing requires it; FastAPI answers 404.
        _ => server_error(response).unwrap_or_else(|| {
            Outcome::note(format!(
                "{}: OPTIONS * asks about the server as a whole (RFC 9110 §9.3.7); supporting \
                 it is optional. taskd answers 204 with Allow.",
                status_text(response)
            ))
        }),
    }
}

/// A method the resource does not support: 405 with a complete `Allow`.
pub fn method_not_allowed(response: &Response, method: &str, seen: &[&str]) -> Outcome {
    match response.status {
        405 => allow_problem(response, seen, "RFC 9110 §15.5.6 (Allow is a MUST on 405)")
            .unwrap_or(Outcome::Pass),
        // RFC 9110 §9.1: 501 is the answer for a method the server does not implement at all.
        501 => Outcome::note(
            "501: allowed for a method the server does not implement anywhere (RFC 9110 §9.1); \
             taskd answers 405 with Allow, which also tells the client what does work.",
        ),
        404 => Outcome::fail(
            response.describe(),
            format!(
                "405 Method Not Allowed with Allow: the resource exists, only {method} is not \
                 supported on it; a 404 says the resource does not exist"
            ),
            "RFC 9110 §9.1, §15.5.6",
        ),
        200..=299 => Outcome::note(format!(
            "{}: this server supports {method} here, so there is no 405 to check.",
            status_text(response)
        )),
        _ => server_error(response).unwrap_or_else(|| {
            Outcome::note(format!(
                "{}: the server seems to handle {method} here, so there is no 405 to check.",
                status_text(response)
            ))
        }),
    }
}

/// A path with a trailing slash (`request_url`) whose slashless form is `expected_path`:
/// serving it or redirecting there are both fine, but a redirect must keep the method.
pub fn trailing_slash(
    response: &Response,
    method: &str,
    request_url: &Url,
    expected_path: &str,
) -> Outcome {
    let keeps_method = matches!(method, "GET" | "HEAD");
    match response.status {
        // Serving the same resource at both URIs is allowed.
        200..=299 => Outcome::Pass,
        301..=303 if !keeps_method => Outcome::fail(
            response.describe(),
            format!(
                "307 or 308 (or serving the request): after a 301 or 302 a client may, and after \
                 a 303 it must, repeat the request as GET, so this {method} and its body would \
                 be lost"
            ),
            "RFC 9110 §15.4.2, §15.4.3, §15.4.4, §15.4.8",
        ),
        301..=303 | 307 | 308 => redirect_target(response, request_url, expected_path),
        // /tasks/1/ is another URI; saying it does not exist is allowed. FastAPI and taskd
        // redirect instead, which spares clients a confusing 404.
        404 => Outcome::note(format!(
            "404: {} is a different URI, so that is allowed; FastAPI and taskd answer 307 with \
             Location: {expected_path}, which helps clients that add a slash.",
            request_url.path()
        )),
        300..=399 => Outcome::fail(
            response.describe(),
            format!("a 307 or 308 redirect to {expected_path}, or the resource itself"),
            "RFC 9110 §15.4",
        ),
        _ => server_error(response).unwrap_or_else(|| {
            Outcome::note(format!(
                "{}: the slash is not redirected; taskd answers 307 to {expected_path}.",
                status_text(response)
            ))
        }),
    }
}

fn redirect_target(response: &Response, request_url: &Url, expected_path: &str) -> Outcome {
    let Some(location) = response.header("Location") else {
        return Outcome::fail(
            format!("{} with no Location header", status_text(response)),
            format!("Location: {expected_path}, so the client knows where to go"),
            "RFC 9110 §15.4, §10.2.2",
        );
    };
    match resolve(location, request_url) {
        Err(outcome) => outcome,
        Ok(resolved) if !same_place(&resolved, request_url, expected_path) => Outcome::fail(
            format!("{} with Location: {location}", status_text(response)),
            format!("a Location that leads to {expected_path} on this server"),
            "RFC 9110 §15.4, §10.2.2",
        ),
        // FastAPI's 307 carries an absolute URL built from Host: valid, so a NOTE.
        Ok(_) => absolute_note(location).unwrap_or(Outcome::Pass),
    }
}
