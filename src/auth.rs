//! The optional bearer token (RFC 6750): which paths need it, and a constant-time check of the
//! `Authorization` header. It runs before routing and before any body is read.

use crate::router::{self, Route};

/// Whether `target` is served without a token: the health check and the documentation, so a
/// load balancer and a learner's browser need no secret.
pub fn is_public(target: &str) -> bool {
    matches!(
        router::route("GET", target),
        Ok(Route::Health | Route::OpenApi | Route::Docs)
    )
}

/// Whether an `Authorization` header value carries `token` as a Bearer credential.
///
/// The scheme is case-insensitive (RFC 9110 §11.1); the token is compared in constant time for
/// its length, so response timing does not reveal how many leading bytes were right.
pub fn is_authorized(token: &str, authorization: Option<&str>) -> bool {
    let Some(value) = authorization else {
        return false;
    };
    let Some((scheme, credentials)) = value.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("Bearer") && constant_time_eq(credentials.trim(), token)
}

fn constant_time_eq(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    // Fold over the expected length whatever was given, so the loop's duration depends only on
    // the secret's length, which a client cannot learn anything from.
    let mut difference = u8::from(given.len() != expected.len());
    for (index, &byte) in expected.iter().enumerate() {
        difference |= byte ^ given.get(index).copied().unwrap_or(!byte);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_is_accepted_whatever_the_scheme_case() {
        assert!(is_authorized("s3cret", Some("Bearer s3cret")));
        assert!(is_authorized("s3cret", Some("bearer s3cret")));
        assert!(is_authorized("s3cret", Some("BEARER  s3cret ")));
    }

    #[test]
    fn anything_else_is_refused() {
        for header in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("Bearer S3CRET"),
            Some("Basic s3cret"),
            Some("s3cret"),
        ] {
            assert!(!is_authorized("s3cret", header), "{header:?}");
        }
    }

    #[test]
    fn only_health_and_docs_are_public() {
        for target in ["/healthz", "/docs", "/openapi.json", "/healthz?x=1"] {
            assert!(is_public(target), "{target}");
        }
        for target in [
            "/tasks",
            "/tasks/1",
            "/nope",
            "/healthz/",
            "*",
            "/tasks/1/attachment",
        ] {
            assert!(!is_public(target), "{target}");
        }
    }
}
