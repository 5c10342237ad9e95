//! Unit tests of CORS: configuration, the fields of every response, and preflights in CONTRACT
//! §12's order.
use super::*;

const PAGE: &str = "http://localhost:5173";

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| (*value).to_owned()).collect()
}

fn configured(values: &[&str]) -> Cors {
    Cors::from_config(&strings(values), None).expect("valid origins")
}

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, value)| value.as_str())
}

fn has_any_cors_field(fields: &Fields) -> bool {
    fields
        .iter()
        .any(|(name, _)| name.starts_with("Access-Control-"))
}

// --- configuration ---

#[test]
fn no_flag_and_no_variable_is_off() {
    for env in [None, Some(""), Some(" , ,\t,")] {
        let cors = Cors::from_config(&[], env).unwrap();
        assert_eq!(cors, Cors::off(), "{env:?}");
        assert!(!cors.is_enabled());
    }
}

#[test]
fn flags_and_variable_are_united() {
    let cors = Cors::from_config(
        &strings(&[PAGE, "https://app.example"]),
        Some(" http://localhost:3000 ,https://app.example,, "),
    )
    .unwrap();
    assert!(cors.is_enabled());
    for origin in [PAGE, "https://app.example", "http://localhost:3000"] {
        assert!(cors.allows(origin), "{origin}");
    }
    assert!(!cors.allows("http://localhost:4000"));
    assert_eq!(
        cors.allowed,
        Allowed::Origins(strings(&[
            PAGE,
            "https://app.example",
            "http://localhost:3000"
        ]))
    );
}

#[test]
fn a_star_anywhere_allows_every_origin() {
    for (flags, env) in [
        (vec!["*"], None),
        (vec![PAGE], Some("*")),
        (vec![], Some("http://a.example,*")),
    ] {
        let cors = Cors::from_config(&strings(&flags), env).unwrap();
        assert_eq!(cors.allowed, Allowed::Any, "{flags:?} {env:?}");
        assert!(cors.allows("https://anything.example"));
        assert!(cors.allows("null"));
    }
}

#[test]
fn origins_as_browsers_write_them_are_accepted() {
    for origin in [
        PAGE,
        "https://example.com",
        "http://127.0.0.1:8000",
        "http://[::1]:8000",
        "https://xn--bcher-kva.example",
        "http://my_host:3000",
        "http://localhost:65535",
        "chrome-extension://abcdefghijklmnop",
    ] {
        assert!(configured(&[origin]).allows(origin), "{origin}");
    }
}

/// Each refusal names its source and the value, and the fix where there is one.
#[test]
fn values_that_no_browser_sends_are_refused_with_the_fix() {
    let cases = [
        ("http://localhost:5173/", "write http://localhost:5173"),
        ("http://localhost:5173/app", "write http://localhost:5173"),
        ("HTTP://Localhost:5173", "write http://localhost:5173"),
        ("http://localhost:80", "write http://localhost"),
        ("https://example.com:443", "write https://example.com"),
        ("http://user:pw@example.com", "write http://example.com"),
        ("http://example.com?x=1", "write http://example.com"),
        ("http://example.com#top", "write http://example.com"),
        (" http://example.com", "write http://example.com"),
        (
            "http://bücher.example",
            "write http://xn--bcher-kva.example",
        ),
        ("http://[0:0::1]:8000", "write http://[::1]:8000"),
        ("http://0x7f.1:8000", "write http://127.0.0.1:8000"),
        ("localhost:5173", "expected scheme://host[:port]"),
        ("localhost", "expected scheme://host[:port]"),
        ("http://", "expected scheme://host[:port]"),
        ("file:///home/me/page.html", "expected scheme://host[:port]"),
        ("data:text/html,hi", "expected scheme://host[:port]"),
        ("http://a.example,http://b.example", "not an origin"),
        (
            "http://*.example.com",
            "wildcard patterns are not supported",
        ),
        ("**", "wildcard patterns are not supported"),
        ("null", "allow it only through `*`"),
        ("", "an empty value is not an origin"),
    ];
    for (value, fix) in cases {
        let message = Cors::from_config(&strings(&[value]), None).unwrap_err();
        let named = format!("--cors-origin {value:?}: ");
        assert!(message.starts_with(&named), "{value}: {message}");
        assert!(message.contains(fix), "{value}: {message}");
    }
}

#[test]
fn a_bad_value_in_the_variable_names_the_variable() {
    let message =
        Cors::from_config(&strings(&[PAGE]), Some("https://ok.example, http://x/")).unwrap_err();
    assert_eq!(
        message,
        "TASKD_CORS_ORIGINS \"http://x/\": not an origin as browsers send it (lower-case \
         scheme and host, no default port, no user, no path, not even `/`, no query): write \
         http://x"
    );
}

#[test]
fn the_first_bad_value_is_reported_flags_before_variable() {
    let message =
        Cors::from_config(&strings(&[PAGE, "bad", "worse"]), Some("http://x/")).unwrap_err();
    assert!(message.starts_with("--cors-origin \"bad\""), "{message}");
}

// --- the fields of every response ---

#[test]
fn exposed_headers_are_the_contracts_list() {
    assert_eq!(
        EXPOSED_HEADERS,
        "Location, ETag, Last-Modified, Content-Disposition, Content-Range, Accept-Ranges, \
         Link, X-Total-Count, Allow, Retry-After, WWW-Authenticate"
    );
}

#[test]
fn off_adds_no_field_at_all() {
    let cors = Cors::off();
    for origin in [None, Some(PAGE), Some("null")] {
        assert_eq!(cors.response_fields(origin), Fields::new(), "{origin:?}");
    }
}

#[test]
fn star_gives_every_response_the_same_fields_without_vary() {
    let cors = configured(&["*"]);
    let expected = vec![
        ("Access-Control-Allow-Origin", "*".to_owned()),
        ("Access-Control-Expose-Headers", EXPOSED_HEADERS.to_owned()),
    ];
    for origin in [None, Some(PAGE), Some("null"), Some("garbage")] {
        assert_eq!(cors.response_fields(origin), expected, "{origin:?}");
    }
}

#[test]
fn an_allowed_origin_is_named_and_exposed_and_varies() {
    let cors = configured(&[PAGE, "https://app.example"]);
    assert_eq!(
        cors.response_fields(Some(PAGE)),
        vec![
            ("Access-Control-Allow-Origin", PAGE.to_owned()),
            ("Access-Control-Expose-Headers", EXPOSED_HEADERS.to_owned()),
            ("Vary", "Origin".to_owned()),
        ]
    );
}

#[test]
fn other_origins_and_no_origin_get_only_vary() {
    let cors = configured(&[PAGE]);
    for origin in [
        None,
        Some("http://localhost:5174"),
        Some("http://LOCALHOST:5173"),
        Some("http://localhost:5173/"),
        Some("null"),
        Some("*"),
    ] {
        assert_eq!(
            cors.response_fields(origin),
            vec![("Vary", "Origin".to_owned())],
            "{origin:?}"
        );
    }
}

#[test]
fn vary_is_merged_into_an_existing_vary() {
    let mut headers: Fields = vec![
        ("Location", "/tasks/1".to_owned()),
        ("vary", "Accept".to_owned()),
    ];
    extend_headers(
        &mut headers,
        configured(&[PAGE]).response_fields(Some(PAGE)),
    );
    assert_eq!(field(&headers, "vary"), Some("Accept, Origin"));
    assert_eq!(field(&headers, "Vary"), None);
    assert_eq!(field(&headers, "Access-Control-Allow-Origin"), Some(PAGE));
    let mut headers = Fields::new();
    extend_headers(&mut headers, configured(&[PAGE]).response_fields(None));
    assert_eq!(headers, vec![("Vary", "Origin".to_owned())]);
}

// --- preflights ---

fn preflight<'a>(
    target: &'a str,
    origin: &'a str,
    method: &'a str,
    headers: Option<&'a str>,
) -> PreflightRequest<'a> {
    PreflightRequest {
        method: "OPTIONS",
        target,
        origin: Some(origin),
        request_method: Some(method),
        request_headers: headers,
    }
}

fn refusal(cors: &Cors, request: &PreflightRequest<'_>) -> String {
    match cors.preflight(request).expect("a preflight").outcome {
        PreflightOutcome::Refused(detail) => detail,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn only_options_with_origin_and_request_method_is_a_preflight() {
    let cors = configured(&[PAGE]);
    let full = preflight("/tasks", PAGE, "POST", None);
    assert!(cors.preflight(&full).is_some());
    let cases = [
        PreflightRequest {
            origin: None,
            ..full
        },
        PreflightRequest {
            request_method: None,
            ..full
        },
        PreflightRequest {
            method: "GET",
            ..full
        },
        PreflightRequest {
            method: "options",
            ..full
        },
    ];
    for request in cases {
        assert_eq!(cors.preflight(&request), None, "{request:?}");
    }
    assert_eq!(Cors::off().preflight(&full), None);
}

#[test]
fn an_allowed_preflight_is_a_204_with_every_field() {
    let cors = configured(&[PAGE]);
    let answer = cors
        .preflight(&preflight(
            "/tasks",
            PAGE,
            "POST",
            Some("content-type,authorization"),
        ))
        .unwrap();
    assert_eq!(answer.status(), 204);
    assert_eq!(answer.outcome, PreflightOutcome::Allowed);
    assert_eq!(
        answer.headers,
        vec![
            ("Access-Control-Allow-Origin", PAGE.to_owned()),
            ("Access-Control-Expose-Headers", EXPOSED_HEADERS.to_owned()),
            (
                "Vary",
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers".to_owned()
            ),
            ("Allow", "GET, HEAD, POST, OPTIONS".to_owned()),
            (
                "Access-Control-Allow-Methods",
                "GET, HEAD, POST, OPTIONS".to_owned()
            ),
            (
                "Access-Control-Allow-Headers",
                "content-type, authorization".to_owned()
            ),
            ("Access-Control-Max-Age", "600".to_owned()),
        ]
    );
}

#[test]
fn star_answers_a_preflight_with_star() {
    let answer = configured(&["*"])
        .preflight(&preflight("/tasks/3", "https://any.example", "PATCH", None))
        .unwrap();
    assert_eq!(answer.status(), 204);
    assert_eq!(
        field(&answer.headers, "Access-Control-Allow-Origin"),
        Some("*")
    );
    assert_eq!(
        field(&answer.headers, "Access-Control-Allow-Methods"),
        Some("GET, HEAD, PATCH, DELETE, OPTIONS")
    );
}

#[test]
fn no_requested_headers_means_no_allow_headers_field() {
    let cors = configured(&[PAGE]);
    for requested in [None, Some(""), Some(" , ,\t")] {
        let answer = cors
            .preflight(&preflight("/tasks/3", PAGE, "DELETE", requested))
            .unwrap();
        assert_eq!(answer.status(), 204, "{requested:?}");
        assert_eq!(field(&answer.headers, "Access-Control-Allow-Headers"), None);
    }
}

/// RFC 9110 §5.6.1: optional whitespace around elements, empty elements ignored.
#[test]
fn requested_headers_are_parsed_as_a_list() {
    let answer = configured(&[PAGE])
        .preflight(&preflight(
            "/tasks/3",
            PAGE,
            "PATCH",
            Some(" Content-Type ,,\tIf-Match\t, ,authorization,"),
        ))
        .unwrap();
    assert_eq!(
        field(&answer.headers, "Access-Control-Allow-Headers"),
        Some("Content-Type, If-Match, authorization")
    );
}

#[test]
fn every_allowed_request_header_passes_in_any_case() {
    let cors = configured(&[PAGE]);
    for name in ALLOWED_REQUEST_HEADERS {
        for spelled in [name.to_string(), name.to_lowercase(), name.to_uppercase()] {
            let request = preflight("/tasks/3/attachment", PAGE, "POST", Some(&spelled));
            let answer = cors.preflight(&request).unwrap();
            assert_eq!(answer.outcome, PreflightOutcome::Allowed, "{spelled}");
        }
    }
}

#[test]
fn each_route_allows_exactly_its_methods() {
    let cors = configured(&[PAGE]);
    let cases = [
        (
            "/tasks",
            ["GET", "HEAD", "POST", "OPTIONS"].as_slice(),
            ["PATCH", "DELETE", "PUT"].as_slice(),
        ),
        (
            "/tasks/7",
            &["GET", "HEAD", "PATCH", "DELETE", "OPTIONS"],
            &["POST", "PUT"],
        ),
        (
            "/tasks/7/attachment",
            &["GET", "HEAD", "POST", "DELETE", "OPTIONS"],
            &["PATCH", "PUT"],
        ),
        ("/healthz", &["GET", "HEAD", "OPTIONS"], &["POST", "DELETE"]),
        ("/openapi.json", &["GET"], &["PATCH"]),
        ("/docs", &["GET"], &["POST"]),
    ];
    for (path, allowed, refused) in cases {
        for method in allowed {
            let answer = cors
                .preflight(&preflight(path, PAGE, method, None))
                .unwrap();
            assert_eq!(answer.status(), 204, "{method} {path}");
        }
        for method in refused {
            assert_eq!(
                refusal(&cors, &preflight(path, PAGE, method, None)),
                format!("CORS preflight refused: method {method} is not allowed on {path}")
            );
        }
    }
}

/// RFC 9110 §9.1: methods are case-sensitive, and Fetch leaves `patch` as written.
#[test]
fn a_lower_case_method_is_refused() {
    let cors = configured(&[PAGE]);
    assert_eq!(
        refusal(&cors, &preflight("/tasks/3", PAGE, "patch", None)),
        "CORS preflight refused: method patch is not allowed on /tasks/3"
    );
}

#[test]
fn refusals_come_in_the_contracts_order() {
    let cors = configured(&[PAGE]);
    let evil = "http://evil.example";
    assert_eq!(
        refusal(&cors, &preflight("/tasks", evil, "PUT", Some("X-Custom"))),
        "CORS preflight refused: origin http://evil.example is not allowed"
    );
    assert_eq!(
        refusal(&cors, &preflight("/tasks", PAGE, "PUT", Some("X-Custom"))),
        "CORS preflight refused: method PUT is not allowed on /tasks"
    );
    assert_eq!(
        refusal(
            &cors,
            &preflight(
                "/tasks",
                PAGE,
                "POST",
                Some("content-type, x-custom, x-other")
            )
        ),
        "CORS preflight refused: header x-custom is not allowed"
    );
}

#[test]
fn headers_outside_the_list_are_refused() {
    let cors = configured(&[PAGE]);
    for name in [
        "Cookie",
        "X-Requested-With",
        "Content-Length",
        "Origin",
        "If",
        "Content-Type2",
    ] {
        assert_eq!(
            refusal(&cors, &preflight("/tasks", PAGE, "POST", Some(name))),
            format!("CORS preflight refused: header {name} is not allowed")
        );
    }
}

#[test]
fn a_refusal_to_an_allowed_origin_still_names_and_exposes_it() {
    let cors = configured(&[PAGE]);
    let answer = cors
        .preflight(&preflight("/tasks", PAGE, "PUT", None))
        .unwrap();
    assert_eq!(answer.status(), 403);
    assert_eq!(
        answer.headers,
        vec![
            ("Access-Control-Allow-Origin", PAGE.to_owned()),
            ("Access-Control-Expose-Headers", EXPOSED_HEADERS.to_owned()),
            ("Vary", PREFLIGHT_VARY.to_owned()),
        ]
    );
    let answer = cors
        .preflight(&preflight("/tasks", "http://evil.example", "POST", None))
        .unwrap();
    assert_eq!(answer.status(), 403);
    assert_eq!(answer.headers, vec![("Vary", PREFLIGHT_VARY.to_owned())]);
}

#[test]
fn a_path_that_would_307_is_answered_as_without_its_slashes() {
    let cors = configured(&[PAGE]);
    for target in ["/tasks/3/", "/tasks/3//", "/tasks/3%2F", "/tasks/3/?x=1"] {
        let answer = cors
            .preflight(&preflight(target, PAGE, "PATCH", None))
            .unwrap();
        assert_eq!(answer.status(), 204, "{target}");
        assert_eq!(
            field(&answer.headers, "Allow"),
            Some("GET, HEAD, PATCH, DELETE, OPTIONS")
        );
        assert_eq!(
            refusal(&cors, &preflight(target, PAGE, "POST", None)),
            "CORS preflight refused: method POST is not allowed on /tasks/3"
        );
    }
}

#[test]
fn the_refusal_names_the_path_without_query_or_authority() {
    let cors = configured(&[PAGE]);
    for target in [
        "/tasks?done=true",
        "http://localhost:8000/tasks",
        "HTTP://h/tasks?x",
    ] {
        assert_eq!(
            refusal(&cors, &preflight(target, PAGE, "PUT", None)),
            "CORS preflight refused: method PUT is not allowed on /tasks",
            "{target}"
        );
    }
}

/// CONTRACT §3: `OPTIONS` does not check the id.
#[test]
fn the_id_is_not_checked() {
    let answer = configured(&[PAGE])
        .preflight(&preflight("/tasks/abc", PAGE, "DELETE", None))
        .unwrap();
    assert_eq!(answer.status(), 204);
}

/// The path is looked at first: an unknown path is a 404 whatever the origin.
#[test]
fn an_unknown_path_is_a_404() {
    let cors = configured(&[PAGE]);
    for target in [
        "/",
        "/nope",
        "/nope/",
        "/TASKS",
        "/tasks/3/comments",
        "/%zz",
    ] {
        let answer = cors
            .preflight(&preflight(target, PAGE, "GET", None))
            .unwrap();
        assert_eq!(answer.outcome, PreflightOutcome::UnknownPath, "{target}");
        assert_eq!(answer.status(), 404);
        assert_eq!(
            field(&answer.headers, "Access-Control-Allow-Origin"),
            Some(PAGE)
        );
        assert_eq!(field(&answer.headers, "Vary"), Some(PREFLIGHT_VARY));
        assert_eq!(field(&answer.headers, "Allow"), None);
        let foreign = preflight(target, "http://evil.example", "GET", None);
        let answer = cors.preflight(&foreign).unwrap();
        assert_eq!(answer.status(), 404, "{target}");
        assert!(!has_any_cors_field(&answer.headers));
    }
}

#[test]
fn options_star_is_answered_with_the_servers_methods() {
    let answer = configured(&[PAGE])
        .preflight(&preflight("*", PAGE, "PATCH", None))
        .unwrap();
    assert_eq!(answer.status(), 204);
    assert_eq!(
        field(&answer.headers, "Allow"),
        Some("GET, HEAD, POST, PATCH, DELETE, OPTIONS")
    );
}

/// An empty `Access-Control-Request-Method` is still a preflight, for a method no route has.
#[test]
fn an_empty_request_method_is_refused() {
    let cors = configured(&[PAGE]);
    assert_eq!(
        refusal(&cors, &preflight("/tasks", PAGE, "", None)),
        "CORS preflight refused: method  is not allowed on /tasks"
    );
}
