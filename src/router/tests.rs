//! Unit tests of the router, and the check that `src/openapi.json` and the router agree.
use serde_json::Value;

use super::*;

fn id(n: u64) -> PathId {
    Ok(TaskId::Number(n))
}

#[test]
fn routes_every_operation() {
    let cases = [
        ("GET", "/tasks", Route::ListTasks { query: "".into() }),
        ("POST", "/tasks", Route::CreateTask),
        ("GET", "/tasks/3", Route::GetTask(id(3))),
        ("PATCH", "/tasks/3", Route::UpdateTask(id(3))),
        ("DELETE", "/tasks/3", Route::DeleteTask(id(3))),
        (
            "GET",
            "/tasks/3/attachment",
            Route::DownloadAttachment(id(3)),
        ),
        (
            "POST",
            "/tasks/3/attachment",
            Route::UploadAttachment(id(3)),
        ),
        (
            "DELETE",
            "/tasks/3/attachment",
            Route::DeleteAttachment(id(3)),
        ),
        ("GET", "/healthz", Route::Health),
        ("GET", "/openapi.json", Route::OpenApi),
        ("GET", "/docs", Route::Docs),
        ("GET", "/metrics", Route::Metrics),
        ("HEAD", "/tasks/3", Route::GetTask(id(3))),
    ];
    for (method, target, expected) in cases {
        assert_eq!(route(method, target), Ok(expected), "{method} {target}");
    }
}

#[test]
fn unknown_paths_are_404() {
    for target in [
        "/",
        "/nope",
        "//tasks/3",
        "/tasks//3",
        "/TASKS/3",
        "/tasks/3/comments",
        "/redoc",
        "/static/docs.js",
        "/tasks/%zz",
        "/tasks/%",
        "/tasks/%FF",
        "tasks",
    ] {
        assert_eq!(route("GET", target), Err(ApiError::no_route()), "{target}");
    }
}

#[test]
fn wrong_method_is_405_before_the_id_is_parsed() {
    for (method, target, allow) in [
        ("PUT", "/tasks", ALLOW_TASKS),
        ("POST", "/tasks/3", ALLOW_TASK),
        ("FROB", "/tasks/3", ALLOW_TASK),
        ("get", "/tasks/3", ALLOW_TASK),
        ("PUT", "/tasks/abc", ALLOW_TASK),
        ("PATCH", "/tasks/1/attachment", ALLOW_ATTACHMENT),
        ("POST", "/healthz", ALLOW_READ_ONLY),
    ] {
        assert_eq!(
            route(method, target),
            Err(ApiError::MethodNotAllowed { allow }),
            "{method} {target}"
        );
    }
}

#[test]
fn path_is_decoded_before_matching() {
    assert_eq!(route("GET", "/tasks/%33"), Ok(Route::GetTask(id(3))));
    assert_eq!(
        route("GET", "/%74asks"),
        Ok(Route::ListTasks { query: "".into() })
    );
}

#[test]
fn trailing_slashes_redirect_to_the_canonical_path() {
    for (target, location) in [
        ("/tasks/", "/tasks"),
        ("/tasks/3/", "/tasks/3"),
        ("/tasks/3%2F", "/tasks/3"),
        ("/healthz//", "/healthz"),
        ("/tasks/?done=true", "/tasks?done=true"),
        ("/tasks/a%20b/", "/tasks/a%20b"),
        ("/tasks/%0D%0A/", "/tasks/%0D%0A"),
    ] {
        let expected = Route::Redirect {
            location: location.into(),
        };
        assert_eq!(route("DELETE", target), Ok(expected), "{target}");
    }
    assert_eq!(route("GET", "/nope/"), Err(ApiError::no_route()));
}

#[test]
fn options_answers_for_known_paths_and_star() {
    assert_eq!(
        route("OPTIONS", "/tasks/abc"),
        Ok(Route::Options { allow: ALLOW_TASK })
    );
    assert_eq!(
        route("OPTIONS", "*"),
        Ok(Route::Options {
            allow: ALLOW_SERVER
        })
    );
    assert_eq!(route("GET", "*"), Err(ApiError::no_route()));
}

#[test]
fn absolute_form_is_routed_by_its_path() {
    assert_eq!(
        route("GET", "http://example.test/tasks/3"),
        Ok(Route::GetTask(id(3)))
    );
    assert_eq!(
        route("GET", "HTTP://example.test"),
        Err(ApiError::no_route())
    );
}

#[test]
fn task_ids_parse_and_canonicalise() {
    for (segment, canonical) in [
        ("3", "3"),
        ("+3", "3"),
        ("007", "7"),
        ("-0", "0"),
        ("-12", "-12"),
        ("+0009223372036854775808", "9223372036854775808"),
        ("99999999999999999999999999", "99999999999999999999999999"),
    ] {
        assert_eq!(TaskId::parse(segment).unwrap().to_string(), canonical);
    }
}

#[test]
fn malformed_ids_are_int_parsing() {
    for segment in [
        "abc", "1.5", "1e3", "3.", "3.0", "1_0", " 3 ", "\u{a0}3", "٣", "0x1f", "+", "-", "",
    ] {
        let item = TaskId::parse(segment).unwrap_err();
        assert_eq!(item.kind, "int_parsing", "{segment:?}");
        assert_eq!(item.input, serde_json::Value::from(segment));
    }
}

/// A concrete path for a template.
pub(super) fn sample(template: &str) -> String {
    template.replace("{task_id}", "1")
}

#[test]
fn route_templates_are_the_routers_resources() {
    for template in ROUTE_TEMPLATES {
        let path = sample(template);
        let resource = resource(&path).unwrap_or_else(|| panic!("{template} is not routed"));
        // `Resource::template` is an exhaustive match, so a new resource needs a template, and this
        // round trip puts it in `ROUTE_TEMPLATES`, which the OpenAPI tests hold the document to.
        assert_eq!(resource.template(), *template);
        assert_eq!(super::template(&path), Some(*template));
        let unique = ROUTE_TEMPLATES.iter().filter(|t| *t == template).count();
        assert_eq!(unique, 1, "{template} is listed twice");
    }
}

/// Whether `path` matches `template`, `{task_id}` standing for any non-empty segment.
fn matches(template: &str, path: &str) -> bool {
    let (template, path): (Vec<_>, Vec<_>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| t == p || (*t == "{task_id}" && !p.is_empty()))
}

/// The router and `ROUTE_TEMPLATES` agree on every route and on its neighbours: a segment
/// more or less, another id, another name.
#[test]
fn route_templates_match_what_the_router_routes() {
    let mut paths = vec!["/".to_owned(), "/x".to_owned(), "/tasks/abc/x".to_owned()];
    for template in ROUTE_TEMPLATES {
        let path = sample(template);
        paths.push(format!("{path}/x"));
        paths.push(format!("{path}/attachment"));
        paths.push(template.replace("{task_id}", "abc"));
        paths.push(
            path.rsplit_once('/')
                .map_or("/", |(head, _)| head)
                .to_owned(),
        );
        paths.push(path.to_uppercase());
        paths.push(path);
    }
    for path in paths {
        let by_router = resource(&path).map(|resource| resource.template());
        let by_list = ROUTE_TEMPLATES.iter().copied().find(|t| matches(t, &path));
        assert_eq!(by_router, by_list, "{path}");
    }
}

// ---- src/openapi.json against the router (issue 4) ----
//
// The document lists GET, POST, PATCH and DELETE operations. HEAD and OPTIONS exist on every
// path (CONTRACT §3) and are deliberately not operations, as in most OpenAPI documents: HEAD
// is GET without a body, OPTIONS is 204 + Allow. The tests below enforce that rule.

/// Methods tried on every path, documented or not.
const PROBE_METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];
/// The order of methods in `Allow` (CONTRACT §2).
const ALLOW_ORDER: [&str; 6] = ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"];
/// The keys of an OpenAPI 3.1 path item that are operations.
const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub(super) fn openapi() -> Value {
    serde_json::from_str(crate::handlers::OPENAPI_JSON).expect("src/openapi.json is JSON")
}

/// Every operation as (path template, upper-case method, operation object).
pub(super) fn operations(doc: &Value) -> Vec<(&str, String, &Value)> {
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for (key, operation) in item.as_object().expect("a path item is an object") {
            if OPENAPI_METHODS.contains(&key.as_str()) {
                operations.push((path.as_str(), key.to_uppercase(), operation));
            }
        }
    }
    operations
}

/// The upper-case methods the document gives `template`.
fn documented_methods(doc: &Value, template: &str) -> Vec<String> {
    operations(doc)
        .into_iter()
        .filter(|(path, _, _)| *path == template)
        .map(|(_, method, _)| method)
        .collect()
}

/// The methods the router must answer on a path whose operations use `documented`.
fn supported(documented: &[String]) -> Vec<&'static str> {
    let has = |method: &str| documented.iter().any(|m| m == method);
    ALLOW_ORDER
        .into_iter()
        .filter(|m| has(m) || (*m == "HEAD" && has("GET")) || *m == "OPTIONS")
        .collect()
}

/// Follows local `$ref`s (`#/components/...`) to the node they name.
pub(super) fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').expect("only local $refs");
        node = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    node
}

/// The handler a route runs, by its operationId; `None` for the router's own answers.
/// Exhaustive, so a new route must be named here (and so in the document).
fn operation_id(route: &Route) -> Option<&'static str> {
    match route {
        Route::ListTasks { .. } => Some("list_tasks"),
        Route::CreateTask => Some("create_task"),
        Route::GetTask(_) => Some("get_task"),
        Route::UpdateTask(_) => Some("update_task"),
        Route::DeleteTask(_) => Some("delete_task"),
        Route::DownloadAttachment(_) => Some("download_attachment"),
        Route::UploadAttachment(_) => Some("upload_attachment"),
        Route::DeleteAttachment(_) => Some("delete_attachment"),
        Route::Health => Some("health"),
        Route::OpenApi => Some("openapi"),
        Route::Docs => Some("docs"),
        Route::Metrics => Some("metrics"),
        Route::Options { .. } | Route::Redirect { .. } => None,
    }
}

#[test]
fn openapi_paths_are_the_routers_paths() {
    let doc = openapi();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "OpenAPI {version}");
    let mut documented: Vec<&str> = doc["paths"]
        .as_object()
        .expect("`paths` is an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut routed = ROUTE_TEMPLATES.to_vec();
    documented.sort_unstable();
    routed.sort_unstable();
    assert_eq!(documented, routed, "document paths vs ROUTE_TEMPLATES");
}

/// Every method on every path routes iff the document lists it, or it is HEAD on a path
/// with GET, or OPTIONS; and each routes to the handler the document names.
#[test]
fn openapi_methods_are_the_methods_the_router_answers() {
    let doc = openapi();
    for template in ROUTE_TEMPLATES {
        let documented = documented_methods(&doc, template);
        for implicit in ["HEAD", "OPTIONS"] {
            let listed = documented.iter().any(|m| m == implicit);
            assert!(
                !listed,
                "{implicit} {template} is implicit, not an operation"
            );
        }
        let supported = supported(&documented);
        for method in &documented {
            let known = supported.contains(&method.as_str());
            assert!(known, "{method} {template} is documented but not supported");
        }
        let path = sample(template);
        for method in PROBE_METHODS {
            let routed = route(method, &path);
            let expected = supported.contains(&method);
            assert_eq!(routed.is_ok(), expected, "{method} {template}: {routed:?}");
            let Ok(routed) = routed else { continue };
            let documented_id =
                doc["paths"][template][method.to_lowercase()]["operationId"].as_str();
            match method {
                "HEAD" => assert_eq!(Ok(routed), route("GET", &path), "HEAD {template}"),
                "OPTIONS" => assert!(matches!(routed, Route::Options { .. })),
                _ => assert_eq!(documented_id, operation_id(&routed), "{method} {template}"),
            }
        }
    }
}

/// RFC 9110 §15.5.6 / §9.3.7: the `Allow` of a 405 and of OPTIONS lists exactly the
/// documented methods, plus HEAD where GET is and OPTIONS everywhere.
#[test]
fn allow_is_the_documented_methods() {
    let doc = openapi();
    for template in ROUTE_TEMPLATES {
        let expected = supported(&documented_methods(&doc, template)).join(", ");
        let path = sample(template);
        let options = match route("OPTIONS", &path) {
            Ok(Route::Options { allow }) => allow,
            other => panic!("OPTIONS {template}: {other:?}"),
        };
        let refused = match route("TRACE", &path) {
            Err(ApiError::MethodNotAllowed { allow }) => allow,
            other => panic!("TRACE {template}: {other:?}"),
        };
        assert_eq!(options, expected, "OPTIONS {template}");
        assert_eq!(refused, expected, "405 on {template}");
    }
    let allow = doc.pointer("/components/responses/MethodNotAllowed/headers/Allow");
    assert!(
        allow.is_some(),
        "the 405 + Allow of every path is documented"
    );
}

#[test]
fn openapi_operation_ids_are_the_handlers() {
    let doc = openapi();
    let mut ids: Vec<&str> = operations(&doc)
        .into_iter()
        .map(|(path, method, op)| {
            op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
        })
        .collect();
    ids.sort_unstable();
    let mut handlers = [
        "list_tasks",
        "create_task",
        "get_task",
        "update_task",
        "delete_task",
        "upload_attachment",
        "download_attachment",
        "delete_attachment",
        "health",
        "openapi",
        "docs",
        "metrics",
    ];
    handlers.sort_unstable();
    assert_eq!(ids, handlers);
}

/// The statuses each operation must document: its success, 500, the id's 404 / 422, the
/// body's 400 / 413 / 422, the query's 422, the documents' 304.
fn required_statuses(route: &Route, template: &str, has_body: bool) -> Vec<&'static str> {
    let success = match route {
        Route::CreateTask => "201",
        Route::DeleteTask(_) | Route::DeleteAttachment(_) => "204",
        _ => "200",
    };
    let mut statuses = vec![success, "500"];
    if template.contains("{task_id}") {
        statuses.extend(["404", "422"]);
    }
    if has_body {
        statuses.extend(["400", "413", "422"]);
    }
    if matches!(route, Route::ListTasks { .. }) {
        statuses.push("422");
    }
    // CONTRACT §10: the documents carry a strong tag, so `If-None-Match` can answer 304.
    if matches!(route, Route::OpenApi | Route::Docs) {
        statuses.push("304");
    }
    // CONTRACT §14: every route that reads or changes storage, and /healthz, can find the
    // database away (--database-url). /metrics answers 200 then too, without the tasks gauge.
    if !matches!(route, Route::OpenApi | Route::Docs | Route::Metrics) {
        statuses.push("503");
    }
    statuses
}

/// The `$ref` of a response's JSON body schema, if it has one.
fn json_schema_ref<'a>(doc: &'a Value, response: &'a Value) -> Option<&'a str> {
    resolve(doc, response)
        .pointer("/content/application~1json/schema/$ref")
        .and_then(Value::as_str)
}

#[test]
fn openapi_documents_each_operations_statuses_and_bodies() {
    let doc = openapi();
    for (template, method, operation) in operations(&doc) {
        let routed = route(&method, &sample(template)).expect("documented, so routed");
        let responses = operation["responses"].as_object().expect("responses");
        let has_body = operation.get("requestBody").is_some();
        for status in required_statuses(&routed, template, has_body) {
            assert!(
                responses.contains_key(status),
                "{method} {template}: {status}"
            );
        }
        for (status, response) in responses {
            let schema = json_schema_ref(&doc, response);
            let expected = match status.as_str() {
                "422" => Some("#/components/schemas/ValidationError"),
                // /healthz keeps its own shape: `{"status":"database unavailable"}`.
                "503" if routed == Route::Health => Some("#/components/schemas/HealthUnavailable"),
                s if s.starts_with('4') || s.starts_with('5') => Some("#/components/schemas/Error"),
                _ => schema,
            };
            assert_eq!(schema, expected, "{method} {template}: {status} body");
        }
        if let Some(no_content) = responses.get("204") {
            // RFC 9110 §8.6 / §15.3.5: a 204 has no body.
            assert!(resolve(&doc, no_content).get("content").is_none());
        }
        if let Some(created) = responses.get("201") {
            // RFC 9110 §15.3.2: 201 names the new resource in Location.
            assert!(resolve(&doc, created)
                .pointer("/headers/Location")
                .is_some());
        }
    }
}

#[test]
fn openapi_task_id_is_a_required_path_parameter() {
    let doc = openapi();
    for (template, method, operation) in operations(&doc) {
        let parameters = operation["parameters"].as_array().map(Vec::as_slice);
        let task_id = parameters
            .unwrap_or_default()
            .iter()
            .map(|parameter| resolve(&doc, parameter))
            .find(|parameter| parameter["in"] == "path" && parameter["name"] == "task_id");
        let expected = template.contains("{task_id}");
        assert_eq!(task_id.is_some(), expected, "{method} {template}");
        if let Some(task_id) = task_id {
            assert_eq!(task_id["required"], true, "{method} {template}");
        }
    }
}

#[test]
fn openapi_refs_all_resolve() {
    fn walk(doc: &Value, node: &Value) {
        match node {
            Value::Object(map) => {
                if map.contains_key("$ref") {
                    resolve(doc, node);
                }
                map.values().for_each(|child| walk(doc, child));
            }
            Value::Array(items) => items.iter().for_each(|child| walk(doc, child)),
            _ => {}
        }
    }
    let doc = openapi();
    walk(&doc, &doc);
}

/// Found by fuzzing: the query was copied verbatim, so a lone LF from the request line could
/// split the response header.
#[test]
fn redirect_query_never_carries_control_bytes() {
    for (target, location) in [
        ("/tasks/?a\nSet-Cookie:x=1", "/tasks?a%0ASet-Cookie:x=1"),
        ("/tasks/?\0", "/tasks?%00"),
        ("/tasks/?a\rb c", "/tasks?a%0Db%20c"),
        ("/tasks/?q=%41&x=\u{e9}", "/tasks?q=%41&x=%C3%A9"),
    ] {
        let expected = Route::Redirect {
            location: location.into(),
        };
        assert_eq!(route("GET", target), Ok(expected), "{target:?}");
    }
}

/// `/metrics` labels each request with `template` (allocation-free) rather than `route`: the two
/// must agree on which paths exist, including escapes, absolute form and trailing slashes.
#[test]
fn template_knows_exactly_the_paths_the_router_knows() {
    for target in [
        "/tasks",
        "/tasks?x=1",
        "/tasks/",
        "/tasks//",
        "/tasks/7",
        "/tasks/%37",
        "/tasks/7/",
        "/tasks/7/attachment",
        "/tasks/7/attachment/",
        "/tasks//attachment",
        "/tasks/7/x",
        "/%74asks",
        "/tasks/%zz",
        "/tasks/%C3%A9",
        "/healthz",
        "/healthz/",
        "/docs",
        "/metrics",
        "/metrics/x",
        "/openapi.json",
        "http://h/tasks/1",
        "HTTPS://h",
        "/",
        "",
        "//tasks",
        "*",
        "/tasks/7/attachment%2F",
    ] {
        let routed = route("OPTIONS", target).is_ok();
        assert_eq!(template(target).is_some(), routed, "{target:?}");
    }
}
