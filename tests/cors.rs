//! CORS, CONTRACT §12, over raw TCP: off by default (no `Access-Control-*` field anywhere), `*`,
//! a list of origins with `Vary: Origin`, the exposed fields on every status (the layer's own
//! errors included), preflights answered before the token, their three refusals in order, paths
//! that would 307 and unknown paths; through the binary, the flags, the variable, and the hint
//! for a foreign origin when CORS is off.

use crate::binary;
use crate::common;

use std::io::Write;
use std::time::Duration;

use common::*;
use serde_json::json;
use taskd::test_hooks::{EXPOSED_HEADERS, PREFLIGHT_VARY};
use taskd::Config;

const PAGE: &str = "http://localhost:5173";
const TOKEN: &str = "s3cret";

/// The ephemeral config with these origins allowed.
fn cors(origins: &[&str]) -> Config {
    Config::ephemeral()
        .with_cors_origins(origins)
        .expect("valid origins")
}

fn server(origins: &[&str]) -> TestServer {
    spawn_server_with(cors(origins))
}

fn server_with_token(origins: &[&str]) -> TestServer {
    spawn_server_with(cors(origins).with_token(TOKEN).with_fault_injection(true))
}

/// Every field a request from `origin` carries here, plus `extra`.
fn from(origin: &str, extra: &[&str]) -> Vec<String> {
    let mut lines = vec![format!("Origin: {origin}")];
    lines.extend(extra.iter().map(|line| (*line).to_owned()));
    lines
}

fn send(addr: std::net::SocketAddr, method: &str, target: &str, lines: &[String]) -> Response {
    send_with_body(addr, method, target, lines, "")
}

/// A request with these field lines (`Content-Length` among them when `body` is not empty).
fn send_with_body(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    lines: &[String],
    body: &str,
) -> Response {
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut bytes = request_head(addr, method, target, &lines);
    bytes.extend_from_slice(body.as_bytes());
    send_raw(addr, &bytes)
}

/// A preflight from `origin` for `method`, asking for `headers` when not empty.
fn preflight(
    addr: std::net::SocketAddr,
    target: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> Response {
    let mut lines = from(
        origin,
        &[&format!("Access-Control-Request-Method: {method}")],
    );
    if !headers.is_empty() {
        lines.push(format!("Access-Control-Request-Headers: {headers}"));
    }
    send(addr, "OPTIONS", target, &lines)
}

fn cors_fields(response: &Response) -> Vec<(String, String)> {
    response
        .headers
        .iter()
        .filter(|(name, _)| {
            name.to_ascii_lowercase().starts_with("access-control-")
                || name.eq_ignore_ascii_case("Vary")
        })
        .cloned()
        .collect()
}

/// The answer names `origin`, exposes the contract's list, and says it varies by `Origin`.
fn assert_readable_by(response: &Response, origin: &str) {
    let fields = cors_fields(response);
    let expected = [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
        ("Vary", "Origin"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    assert_eq!(fields, expected, "{} {}", response.status, response.text());
}

fn assert_only_vary(response: &Response) {
    let fields = cors_fields(response);
    assert_eq!(
        fields,
        [("Vary".to_owned(), "Origin".to_owned())],
        "{}",
        response.status
    );
}

#[test]
fn off_by_default_no_cors_field_on_any_answer() {
    let server = server_with_task();
    let addr = server.addr();
    let origin = from(PAGE, &[]);
    let answers = [
        send(addr, "GET", "/tasks", &origin),
        send(addr, "GET", "/tasks/1", &origin),
        send(addr, "GET", "/nowhere", &origin),
        send(addr, "PUT", "/tasks", &origin),
        send(addr, "GET", "/tasks/", &origin),
        preflight(addr, "/tasks", PAGE, "POST", "content-type"),
        send_raw(
            addr,
            b"GET /tasks HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:5173\r\nBad line\r\n\r\n",
        ),
    ];
    let statuses: Vec<u16> = answers.iter().map(|answer| answer.status).collect();
    assert_eq!(statuses, [200, 200, 404, 405, 307, 204, 400]);
    for answer in &answers {
        assert_eq!(cors_fields(answer), [], "{}", answer.status);
    }
    // A preflight-shaped OPTIONS is a plain OPTIONS when CORS is off (CONTRACT §3).
    assert_eq!(answers[5].header("Allow"), Some("GET, HEAD, POST, OPTIONS"));
}

#[test]
fn star_gives_every_answer_allow_origin_star() {
    let server = server(&["*"]);
    let addr = server.addr();
    for lines in [from(PAGE, &[]), from("null", &[]), Vec::new()] {
        for target in ["/tasks", "/nowhere"] {
            let response = send(addr, "GET", target, &lines);
            let expected = [
                ("Access-Control-Allow-Origin".to_owned(), "*".to_owned()),
                (
                    "Access-Control-Expose-Headers".to_owned(),
                    EXPOSED_HEADERS.to_owned(),
                ),
            ];
            assert_eq!(cors_fields(&response), expected, "{target} {lines:?}");
        }
    }
}

#[test]
fn a_listed_origin_is_named_and_every_answer_varies_by_origin() {
    let server = server(&[PAGE, "https://app.example"]);
    let addr = server.addr();
    assert_readable_by(&send(addr, "GET", "/tasks", &from(PAGE, &[])), PAGE);
    let other = "https://app.example";
    assert_readable_by(&send(addr, "GET", "/tasks", &from(other, &[])), other);
    // Not listed, not exactly as listed, or no Origin at all: the answer only varies.
    for origin in ["http://localhost:5174", "http://LOCALHOST:5173", "null"] {
        assert_only_vary(&send(addr, "GET", "/tasks", &from(origin, &[])));
    }
    assert_only_vary(&send(addr, "GET", "/tasks", &[]));
}

/// Every status, 401 included: a page must be able to read why it failed, and the
/// `WWW-Authenticate` of a 401, the `Allow` of a 405 and the `Location` of a 307 are exposed.
#[test]
fn errors_401_redirects_and_panics_carry_the_fields() {
    let server = server_with_token(&[PAGE]);
    let addr = server.addr();
    let auth = format!("Authorization: Bearer {TOKEN}");
    let authed = |extra: &[&str]| {
        let mut lines = from(PAGE, &[&auth]);
        lines.extend(extra.iter().map(|line| (*line).to_owned()));
        lines
    };
    let body = r#"{"title":"Report"}"#;
    let create = |lines: &[String]| send_with_body(addr, "POST", "/tasks", lines, body);
    let json_lines = authed(&[
        "Content-Type: application/json",
        &format!("Content-Length: {}", body.len()),
    ]);
    let cases = [
        (401, send(addr, "GET", "/tasks", &from(PAGE, &[]))),
        (201, create(&json_lines)),
        (409, create(&json_lines)),
        (404, send(addr, "GET", "/tasks/9", &authed(&[]))),
        (404, send(addr, "GET", "/nowhere", &authed(&[]))),
        (405, send(addr, "PUT", "/tasks", &authed(&[]))),
        (422, send(addr, "GET", "/tasks/abc", &authed(&[]))),
        (
            413,
            send(
                addr,
                "POST",
                "/tasks",
                &authed(&["Content-Type: application/json", "Content-Length: 2000000"]),
            ),
        ),
        (307, send(addr, "GET", "/tasks/1/", &authed(&[]))),
        (500, send(addr, "GET", "/_test/panic", &authed(&[]))),
    ];
    for (status, response) in &cases {
        assert_eq!(response.status, *status, "{}", response.text());
        assert_readable_by(response, PAGE);
    }
    assert_eq!(cases[0].1.header("WWW-Authenticate"), Some("Bearer"));
    // CONTRACT §11's answers too: a 304 (RFC 9110 §15.4.5 lets it carry these fields) and a 412.
    let tag = cases[1].1.header("ETag").expect("the 201 has a tag");
    let if_none_match = format!("If-None-Match: {tag}");
    let not_modified = send(addr, "GET", "/tasks/1", &authed(&[&if_none_match]));
    assert_eq!(not_modified.status, 304);
    assert_readable_by(&not_modified, PAGE);
    let stale = send(
        addr,
        "DELETE",
        "/tasks/1",
        &authed(&["If-Match: \"stale\""]),
    );
    assert_eq!(stale.status, 412, "{}", stale.text());
    assert_readable_by(&stale, PAGE);
}

/// The layer's own 400 (broken chunked framing) and 408 (a body too slow) replace the answer
/// after the head parsed, so they still name the page's origin.
#[test]
fn the_layers_400_and_408_after_the_head_carry_the_fields() {
    let server = spawn_server_with(cors(&[PAGE]).with_io_timeout(Duration::from_millis(300)));
    let addr = server.addr();
    let mut broken = request_head(
        addr,
        "POST",
        "/tasks",
        &[
            "Origin: http://localhost:5173",
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
    );
    broken.extend_from_slice(b"zz\r\n{}\r\n0\r\n\r\n");
    let response = send_raw(addr, &broken);
    assert_error(&response, 400, "Bad Request");
    assert_readable_by(&response, PAGE);

    // Ten bytes of a hundred, then nothing: 408 once --io-timeout passes.
    let mut stream = connect(addr);
    let head = request_head(
        addr,
        "POST",
        "/tasks",
        &[
            "Origin: http://localhost:5173",
            "Content-Type: application/json",
            "Content-Length: 100",
        ],
    );
    stream.write_all(&head).unwrap();
    stream.write_all(br#"{"title":"#).unwrap();
    let response = read_one_response(&mut stream, &mut Vec::new(), false);
    assert_error(&response, 408, "Request Timeout");
    assert_readable_by(&response, PAGE);
}

/// A head refused before it parsed tells nothing that can be trusted, `Origin` included: the
/// answer gets only the fields that do not depend on it.
#[test]
fn a_head_refused_before_it_parsed_gets_only_origin_independent_fields() {
    let bad_head =
        b"GET /tasks HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:5173\r\nBad line\r\n\r\n";
    let listed = server(&[PAGE]);
    let response = send_raw(listed.addr(), bad_head);
    assert_error(&response, 400, "Bad Request");
    assert_only_vary(&response);
    let any = server(&["*"]);
    let response = send_raw(any.addr(), bad_head);
    assert_eq!(response.status, 400);
    assert_eq!(response.header("Access-Control-Allow-Origin"), Some("*"));
}

/// The 503 at the connection cap is decided before any head is read: `*`'s field only.
#[test]
fn the_503_at_the_cap_gets_origin_independent_fields() {
    let server = spawn_server_with(cors(&["*"]).with_max_connections(1));
    let addr = server.addr();
    // A request provably in the handler's hands: it has been told to send its body.
    let mut busy = connect(addr);
    let head = request_head(
        addr,
        "POST",
        "/tasks",
        &[
            "Content-Type: application/json",
            "Content-Length: 16",
            "Expect: 100-continue",
        ],
    );
    busy.write_all(&head).unwrap();
    let mut buffer = Vec::new();
    assert_eq!(read_one_response(&mut busy, &mut buffer, false).status, 100);
    let refused = send(addr, "GET", "/healthz", &from(PAGE, &[]));
    assert_error(&refused, 503, "Service Unavailable");
    assert_eq!(refused.header("Access-Control-Allow-Origin"), Some("*"));
    busy.write_all(br#"{"title":"Busy"}"#).unwrap();
    assert_eq!(read_one_response(&mut busy, &mut buffer, false).status, 201);
}

/// Fetch §4.8: a browser sends no credentials on a preflight, so it is answered before the token
/// is checked, with everything the browser checks and caches.
#[test]
fn an_allowed_preflight_is_a_204_with_every_field_before_the_token() {
    let server = server_with_token(&[PAGE]);
    let response = preflight(
        server.addr(),
        "/tasks/7",
        PAGE,
        "PATCH",
        "content-type,if-match, authorization",
    );
    assert_eq!(response.status, 204);
    assert!(response.body.is_empty() && !response.has_header("Content-Length"));
    let fields: Vec<(String, String)> = without_date(&response)
        .into_iter()
        .filter(|(name, _)| name != "Connection")
        .collect();
    let expected = [
        ("Access-Control-Allow-Origin", PAGE),
        ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
        ("Vary", PREFLIGHT_VARY),
        ("Allow", "GET, HEAD, PATCH, DELETE, OPTIONS"),
        (
            "Access-Control-Allow-Methods",
            "GET, HEAD, PATCH, DELETE, OPTIONS",
        ),
        (
            "Access-Control-Allow-Headers",
            "content-type, if-match, authorization",
        ),
        ("Access-Control-Max-Age", "600"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(fields, expected);
    // Without Access-Control-Request-Headers there is no Access-Control-Allow-Headers.
    let simple = preflight(server.addr(), "/tasks", PAGE, "POST", "");
    assert_eq!(simple.status, 204);
    assert!(!simple.has_header("Access-Control-Allow-Headers"));
}

/// CONTRACT §12: the origin, then the method, then each header; the first that fails is the
/// 403's detail.
#[test]
fn a_refused_preflight_is_a_403_saying_the_first_reason() {
    let server = server_with_token(&[PAGE]);
    let addr = server.addr();
    let stranger = "http://evil.example";
    let cases = [
        (
            stranger,
            "PUT",
            "x-custom",
            format!("CORS preflight refused: origin {stranger} is not allowed"),
        ),
        (
            PAGE,
            "PUT",
            "x-custom",
            "CORS preflight refused: method PUT is not allowed on /tasks".to_owned(),
        ),
        (
            PAGE,
            "POST",
            "content-type, X-Custom",
            "CORS preflight refused: header X-Custom is not allowed".to_owned(),
        ),
    ];
    for (origin, method, headers, detail) in cases {
        let response = preflight(addr, "/tasks?x=1", origin, method, headers);
        assert_error(&response, 403, &detail);
        assert!(
            !response.has_header("Access-Control-Allow-Methods"),
            "{detail}"
        );
        assert!(!response.has_header("Allow"), "{detail}");
        assert_eq!(response.header("Vary"), Some(PREFLIGHT_VARY));
        // A page of an allowed origin may read why (every status carries the fields).
        let named = response.header("Access-Control-Allow-Origin");
        assert_eq!(named, (origin == PAGE).then_some(PAGE), "{detail}");
    }
}

#[test]
fn a_preflight_to_a_path_that_would_307_is_answered_as_without_the_slashes() {
    let server = server_with_token(&[PAGE]);
    let addr = server.addr();
    let response = preflight(addr, "/tasks/1//", PAGE, "PATCH", "if-match");
    assert_eq!(response.status, 204);
    assert_eq!(
        response.header("Access-Control-Allow-Methods"),
        Some("GET, HEAD, PATCH, DELETE, OPTIONS")
    );
    let refused = preflight(addr, "/tasks/", PAGE, "PATCH", "");
    assert_error(
        &refused,
        403,
        "CORS preflight refused: method PATCH is not allowed on /tasks",
    );
}

#[test]
fn a_preflight_to_an_unknown_path_is_a_404_without_a_token() {
    let server = server_with_token(&[PAGE]);
    let response = preflight(server.addr(), "/nowhere", PAGE, "GET", "");
    assert_error(&response, 404, "Not Found");
    assert_eq!(response.header("Access-Control-Allow-Origin"), Some(PAGE));
    assert_eq!(response.header("Vary"), Some(PREFLIGHT_VARY));
}

/// `OPTIONS` without `Access-Control-Request-Method` is no preflight: the plain §3 answer with
/// the fields of any response (and, with a token, the token is needed).
#[test]
fn options_without_a_request_method_is_the_plain_answer_with_the_fields() {
    let server = server(&[PAGE]);
    let response = send(server.addr(), "OPTIONS", "/tasks", &from(PAGE, &[]));
    assert_eq!(response.status, 204);
    assert_eq!(response.header("Allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert!(!response.has_header("Access-Control-Allow-Methods"));
    assert_readable_by(&response, PAGE);
    let guarded = server_with_token(&[PAGE]);
    let response = send(guarded.addr(), "OPTIONS", "/tasks", &from(PAGE, &[]));
    assert_eq!(response.status, 401);
    assert_readable_by(&response, PAGE);
}

/// The whole exchange a page makes: the preflight, then the request, whose `Location` it reads.
#[test]
fn a_page_creates_a_task_and_reads_its_location() {
    let server = server_with_token(&[PAGE]);
    let addr = server.addr();
    let allowed = preflight(addr, "/tasks", PAGE, "POST", "authorization,content-type");
    assert_eq!(allowed.status, 204);
    let body = r#"{"title":"From a page"}"#;
    let lines = from(
        PAGE,
        &[
            &format!("Authorization: Bearer {TOKEN}"),
            "Content-Type: application/json",
            &format!("Content-Length: {}", body.len()),
        ],
    );
    let created = send_with_body(addr, "POST", "/tasks", &lines, body);
    assert_eq!(created.status, 201);
    assert_eq!(created.header("Location"), Some("/tasks/1"));
    assert_readable_by(&created, PAGE);
    assert!(EXPOSED_HEADERS.split(", ").any(|name| name == "Location"));
    assert_eq!(created.json()["title"], json!("From a page"));
}

// Through the binary: flags, the variable, the hint.

/// The hints of a stderr, in order.
fn hints(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.contains("CORS is off"))
        .collect()
}

#[test]
fn flags_and_the_variable_enable_cors_together() {
    let env = [(
        "TASKD_CORS_ORIGINS",
        "https://app.example, http://localhost:3000",
    )];
    let taskd = binary::Taskd::start(&["--quiet", "--cors-origin", PAGE], &env);
    for origin in [PAGE, "https://app.example", "http://localhost:3000"] {
        let response = send(taskd.addr(), "GET", "/healthz", &from(origin, &[]));
        assert_readable_by(&response, origin);
    }
    assert_only_vary(&send(
        taskd.addr(),
        "GET",
        "/healthz",
        &from("http://localhost:4000", &[]),
    ));
}

#[test]
fn a_bad_origin_exits_2_naming_the_value_and_where_it_came_from() {
    let (code, stderr) = binary::run_to_exit(&["--cors-origin", "http://localhost:5173/"], &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("taskd: --cors-origin \"http://localhost:5173/\": "),
        "{stderr}"
    );
    assert!(stderr.contains("write http://localhost:5173"), "{stderr}");
    let env = [("TASKD_CORS_ORIGINS", "http://ok.example,localhost:5173")];
    let (code, stderr) = binary::run_to_exit(&[], &env);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("taskd: TASKD_CORS_ORIGINS \"localhost:5173\": "),
        "{stderr}"
    );
}

#[test]
fn with_cors_off_a_foreign_origin_is_hinted_once() {
    let taskd = binary::Taskd::start(&[], &[]);
    let addr = taskd.addr();
    for _ in 0..3 {
        assert_eq!(send(addr, "GET", "/tasks", &from(PAGE, &[])).status, 200);
    }
    // The server's own origin (Host's host and port) is no reason for a hint.
    assert_eq!(
        send(addr, "GET", "/tasks", &from(&format!("http://{addr}"), &[])).status,
        200
    );
    let stderr = taskd.stop();
    assert_eq!(
        hints(&stderr),
        ["taskd: a page on http://localhost:5173 sent a request, but CORS is off, so the browser \
          hides the answer from that page; start taskd with --cors-origin http://localhost:5173 \
          to let it read the answers"],
        "{stderr}"
    );
}

#[test]
fn at_most_sixteen_origins_are_hinted() {
    let taskd = binary::Taskd::start(&[], &[]);
    for port in 3000..3020 {
        let origin = format!("http://localhost:{port}");
        assert_eq!(
            send(taskd.addr(), "GET", "/healthz", &from(&origin, &[])).status,
            200
        );
    }
    let stderr = taskd.stop();
    let hints = hints(&stderr);
    assert_eq!(hints.len(), 16, "{stderr}");
    assert!(
        hints[15].contains("http://localhost:3015")
            && hints[15].ends_with("(the last such hint: 16 origins named)")
    );
}

#[test]
fn no_hint_under_quiet_nor_with_cors_on() {
    for args in [
        &["--quiet"][..],
        &["--cors-origin", "http://localhost:3000"],
    ] {
        let taskd = binary::Taskd::start(args, &[]);
        assert_eq!(
            send(taskd.addr(), "GET", "/tasks", &from(PAGE, &[])).status,
            200
        );
        let stderr = taskd.stop();
        assert_eq!(hints(&stderr), Vec::<&str>::new(), "{args:?}: {stderr}");
    }
}

/// The hint follows `--quiet` only: `--trace` replaces the access log, not the hint.
#[test]
fn the_hint_is_printed_while_tracing() {
    let taskd = binary::Taskd::start(&["--trace"], &[]);
    assert_eq!(
        send(taskd.addr(), "GET", "/tasks", &from(PAGE, &[])).status,
        200
    );
    let stderr = taskd.stop();
    assert_eq!(hints(&stderr).len(), 1, "{stderr}");
}
