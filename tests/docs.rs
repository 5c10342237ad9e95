//! The documentation routes (CONTRACT §10): `GET /openapi.json` and `GET /docs`, their methods,
//! and the page's promise to be self-contained.

use crate::common;
use common::*;

#[test]
fn openapi_json_is_served_as_json() {
    let server = spawn_server();
    let response = get(server.addr(), "/openapi.json");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    let document = response.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1."));
}

#[test]
fn docs_page_is_served_as_html() {
    let server = spawn_server();
    let response = get(server.addr(), "/docs");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert!(response.text().starts_with("<!doctype html>"));
}

/// The page must work offline: no absolute URL but XML namespace names.
#[test]
fn docs_page_has_no_absolute_urls() {
    let server = spawn_server();
    let page = get(server.addr(), "/docs").text();
    let namespaces = ["http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"];
    let mut rest = page.as_str();
    while let Some(start) = rest.find("http") {
        let candidate = &rest[start..];
        let is_url = candidate.starts_with("http://") || candidate.starts_with("https://");
        let allowed = namespaces.iter().any(|ns| candidate.starts_with(ns));
        assert!(
            !is_url || allowed,
            "absolute URL in /docs: {}",
            &candidate[..40.min(candidate.len())]
        );
        rest = &candidate[4..];
    }
}

/// RFC 9110 §15.5.6: the read-only routes list their methods on 405.
#[test]
fn wrong_method_on_docs_routes_is_405_with_allow() {
    let server = spawn_server();
    for target in ["/openapi.json", "/docs"] {
        let response = request(server.addr(), "DELETE", target, &[], b"");
        assert_eq!(response.status, 405, "{target}");
        assert_eq!(response.header("Allow"), Some("GET, HEAD, OPTIONS"));
    }
}

#[test]
fn options_on_docs_routes_is_204_with_allow() {
    let server = spawn_server();
    for target in ["/openapi.json", "/docs"] {
        let response = request(server.addr(), "OPTIONS", target, &[], b"");
        assert_eq!(response.status, 204, "{target}");
        assert_eq!(response.header("Allow"), Some("GET, HEAD, OPTIONS"));
        assert!(!response.has_header("Content-Length"));
    }
}

/// RFC 9110 §9.3.2: HEAD has GET's Content-Length and no body.
#[test]
fn head_on_docs_routes_has_length_but_no_body() {
    let server = spawn_server();
    for target in ["/openapi.json", "/docs"] {
        let full = get(server.addr(), target);
        let head = request(server.addr(), "HEAD", target, &[], b"");
        assert_eq!(head.status, 200);
        assert_eq!(
            head.header("Content-Length"),
            Some(full.body.len().to_string().as_str())
        );
        assert!(head.body.is_empty());
    }
}

#[test]
fn redoc_is_not_served() {
    let server = spawn_server();
    assert_eq!(get(server.addr(), "/redoc").status, 404);
}

/// CONTRACT §10: both documents carry a strong tag and `no-cache`, so a cache (or REDbot) sees
/// a validator and no heuristic freshness (RFC 9111 §4.2.2); the tag is stable and differs
/// between the two documents.
#[test]
fn documents_have_a_strong_stable_tag_and_no_cache() {
    let server = spawn_server();
    let mut tags = Vec::new();
    for target in ["/openapi.json", "/docs"] {
        let first = get(server.addr(), target);
        let tag = first.header("ETag").expect("ETag").to_owned();
        assert!(
            tag.starts_with('"') && tag.ends_with('"'),
            "{target}: {tag}"
        );
        assert_eq!(first.header("Cache-Control"), Some("no-cache"), "{target}");
        assert_eq!(
            get(server.addr(), target).header("ETag"),
            Some(tag.as_str())
        );
        let head = request(server.addr(), "HEAD", target, &[], b"");
        assert_eq!(head.header("ETag"), Some(tag.as_str()), "{target}");
        assert_eq!(head.header("Cache-Control"), Some("no-cache"), "{target}");
        tags.push(tag);
    }
    assert_ne!(tags[0], tags[1]);
}

/// RFC 9110 §13.1.2 as in CONTRACT §11: `If-None-Match` compares weakly and `*` matches, so
/// GET and HEAD answer 304 with the tag and `Cache-Control` and no body; another tag gets 200.
#[test]
fn documents_answer_304_to_a_matching_if_none_match() {
    let server = spawn_server();
    for target in ["/openapi.json", "/docs"] {
        let tag = get(server.addr(), target)
            .header("ETag")
            .unwrap()
            .to_owned();
        let weak = format!("W/{tag}");
        let listed = format!("\"other\", {tag}");
        for method in ["GET", "HEAD"] {
            for value in [tag.as_str(), weak.as_str(), listed.as_str(), "*"] {
                let headers = [("If-None-Match", value)];
                let response = request(server.addr(), method, target, &headers, b"");
                assert_eq!(response.status, 304, "{method} {target} {value}");
                assert_eq!(response.header("ETag"), Some(tag.as_str()));
                assert_eq!(response.header("Cache-Control"), Some("no-cache"));
                assert!(!response.has_header("Content-Length"));
                assert!(response.body.is_empty());
            }
            let headers = [("If-None-Match", "\"not-this-one\"")];
            let response = request(server.addr(), method, target, &headers, b"");
            assert_eq!(response.status, 200, "{method} {target}");
        }
    }
}

/// RFC 9110 §13.1.1: `If-Match` that matches nothing fails a GET too, as on a task.
#[test]
fn documents_answer_412_to_an_if_match_that_fails() {
    let server = spawn_server();
    for target in ["/openapi.json", "/docs"] {
        let tag = get(server.addr(), target)
            .header("ETag")
            .unwrap()
            .to_owned();
        let matching = request(server.addr(), "GET", target, &[("If-Match", &tag)], b"");
        assert_eq!(matching.status, 200, "{target}");
        let headers = [("If-Match", "\"stale\"")];
        let failing = request(server.addr(), "GET", target, &headers, b"");
        assert_eq!(failing.status, 412, "{target}");
    }
}
