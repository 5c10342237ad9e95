//! What the `/docs` page needs from itself and from `/openapi.json` (CONTRACT §10): it loads
//! nothing from elsewhere, it explains every status the document lists, and the document gives it
//! what it builds its forms from. The page itself is driven in a real browser by
//! `tests/browser/docs.test.mjs` (`.ci/check-browser`).

use crate::common;
use common::*;

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn page_and_document() -> (String, Value) {
    let server = spawn_server();
    let page = get(server.addr(), "/docs").text();
    let document = get(server.addr(), "/openapi.json").json();
    (page, document)
}

/// Follows a local `$ref` (`#/components/...`), as the page does.
fn deref<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("only local $refs");
            let target = document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"));
            deref(document, target)
        }
        None => value,
    }
}

/// Every `(method, path, operation)` of the document.
fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let paths = document["paths"].as_object().expect("paths is an object");
    let mut found = Vec::new();
    for (path, item) in paths {
        let item = deref(document, item);
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((method.to_string(), path.clone(), deref(document, operation)));
            }
        }
    }
    found
}

/// The status codes of the page's teaching table (`const STATUS = { 200: { reason: ... } ...`).
fn explained_statuses(page: &str) -> Vec<(u16, String)> {
    let start = page
        .find("const STATUS = {")
        .expect("the page has its STATUS table");
    let block = &page[start..];
    let block = &block[..block.find("\n};").expect("the STATUS table ends")];
    block
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (code, rest) = line.split_once(": { reason: '")?;
            let reason = rest.split('\'').next()?;
            Some((code.parse().ok()?, reason.to_string()))
        })
        .collect()
}

/// CONTRACT §10: self-contained, so nothing is loaded by a tag: no `src=`, no stylesheet link, no
/// CSS `@import` or `url(` (the only link is the `data:` favicon that stops the browser asking).
#[test]
fn docs_page_loads_no_resource_by_tag() {
    let (page, _) = page_and_document();
    let lower = page.to_ascii_lowercase();
    for needle in [" src=", "<script src", "rel=\"stylesheet\""] {
        assert!(!lower.contains(needle), "/docs contains {needle:?}");
    }
    let style = &lower[lower.find("<style>").unwrap()..lower.find("</style>").unwrap()];
    for needle in ["@import", "url("] {
        assert!(
            !style.contains(needle),
            "the style sheet contains {needle:?}"
        );
    }
    assert_eq!(lower.matches("<link ").count(), 1, "only the favicon link");
    assert!(lower.contains("<link rel=\"icon\" href=\"data:,\">"));
    assert_eq!(lower.matches("<script>").count(), 1, "one inline script");
    assert_eq!(
        lower.matches("<style>").count(),
        1,
        "one inline style sheet"
    );
}

/// The page fetches only `openapi.json` by name; every other fetch is a request the user sends.
#[test]
fn docs_page_fetches_only_openapi_json_by_name() {
    let (page, _) = page_and_document();
    let literal_fetches: Vec<&str> = page
        .match_indices("fetch(")
        .map(|(at, _)| &page[at + 6..])
        .filter(|rest| rest.starts_with('\'') || rest.starts_with('"') || rest.starts_with('`'))
        .map(|rest| &rest[..rest[1..].find(['\'', '"', '`']).map_or(0, |end| end + 2)])
        .collect();
    assert_eq!(literal_fetches, ["'openapi.json'"]);
}

/// Phones: the page sets a viewport, so a 390 px screen is not shown a shrunken desktop page.
#[test]
fn docs_page_is_laid_out_for_phones() {
    let (page, _) = page_and_document();
    assert!(
        page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(page.contains("<html lang=\"en\">"));
    assert!(page.contains("@media (max-width: 40rem)"));
}

/// Next to each response the page explains the status from its table: every status that
/// `/openapi.json` lists for an operation has a row, with its RFC 9110 section.
#[test]
fn every_documented_status_is_explained_by_the_page() {
    let (page, document) = page_and_document();
    let explained = explained_statuses(&page);
    for code in [
        200, 201, 204, 206, 304, 307, 400, 404, 405, 409, 412, 413, 416, 422, 500,
    ] {
        assert!(
            explained.iter().any(|(c, _)| *c == code),
            "no row for {code}"
        );
    }
    for (method, path, operation) in operations(&document) {
        let responses = operation["responses"].as_object().expect("responses");
        for code in responses.keys() {
            let code: u16 = code
                .parse()
                .unwrap_or_else(|_| panic!("{method} {path}: {code}"));
            assert!(
                explained.iter().any(|(c, _)| *c == code),
                "{method} {path} documents {code}, which the page cannot explain"
            );
        }
    }
    let start = page.find("const STATUS = {").unwrap();
    let table = &page[start..start + page[start..].find("\n};").unwrap()];
    assert_eq!(
        table.matches("rfc: 'RFC 9110 §").count(),
        explained.len(),
        "every row cites its RFC 9110 section"
    );
}

/// The rows use RFC 9110's names (§15), even where tiny_http's status line uses older ones.
#[test]
fn status_rows_use_rfc_9110_reason_phrases() {
    let (page, _) = page_and_document();
    let explained = explained_statuses(&page);
    for (code, reason) in [
        (201, "Created"),
        (204, "No Content"),
        (206, "Partial Content"),
        (304, "Not Modified"),
        (412, "Precondition Failed"),
        (416, "Range Not Satisfiable"),
        (307, "Temporary Redirect"),
        (405, "Method Not Allowed"),
        (413, "Content Too Large"),
        (422, "Unprocessable Content"),
    ] {
        assert!(
            explained.contains(&(code, reason.to_string())),
            "{code} {reason}"
        );
    }
}

/// The page names each form `data-operation="<operationId>"`, and the browser test drives them by
/// those names: every operation has a unique operationId, and the ones it drives exist.
#[test]
fn every_operation_has_a_unique_operation_id() {
    let (_, document) = page_and_document();
    let mut ids: Vec<String> = operations(&document)
        .iter()
        .map(|(method, path, operation)| {
            operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
                .to_string()
        })
        .collect();
    ids.sort();
    let count = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), count, "duplicate operationIds: {ids:?}");
    for needed in [
        "create_task",
        "get_task",
        "delete_task",
        "upload_attachment",
        "download_attachment",
    ] {
        assert!(ids.iter().any(|id| id == needed), "no {needed}");
    }
}

/// The upload form gets a file picker for each binary property of the multipart schema
/// (`format: binary`), so the document must describe `file` that way.
#[test]
fn upload_body_has_a_binary_file_field_for_the_picker() {
    let (_, document) = page_and_document();
    let (_, _, upload) = operations(&document)
        .into_iter()
        .find(|(_, _, op)| op["operationId"] == "upload_attachment")
        .expect("upload_attachment");
    let body = deref(&document, &upload["requestBody"]);
    let schema = deref(&document, &body["content"]["multipart/form-data"]["schema"]);
    let file = deref(&document, &schema["properties"]["file"]);
    assert!(
        file["format"] == "binary" || file.get("contentMediaType").is_some(),
        "file is not binary: {file}"
    );
}

/// The JSON editors start from an example, which the page takes from the document or builds from
/// the schema: both JSON bodies are objects whose schema the page can read.
#[test]
fn json_bodies_are_object_schemas() {
    let (_, document) = page_and_document();
    for (method, path, operation) in operations(&document) {
        let Some(body) = operation.get("requestBody") else {
            continue;
        };
        let body = deref(&document, body);
        if let Some(media) = body["content"].get("application/json") {
            let schema = deref(&document, &media["schema"]);
            assert!(
                schema["type"] == "object" || schema.get("properties").is_some(),
                "{method} {path}: the JSON body schema is not an object"
            );
        }
    }
}

/// Issue 13: the page's About box (the document's `info.description`) tells a learner how to
/// call taskd from a page on another origin and how to watch the wire.
#[test]
fn the_about_box_mentions_cors_and_the_trace() {
    let (_, document) = page_and_document();
    let about = document["info"]["description"]
        .as_str()
        .expect("info.description");
    for needle in [
        "--cors-origin",
        "TASKD_CORS_ORIGINS",
        "preflight",
        "--trace",
        "[redacted]",
    ] {
        assert!(about.contains(needle), "the About box lacks {needle}");
    }
}

/// CONTRACT §11 on the page: every card can send `If-Match`, `If-None-Match` and `Range` (from
/// the document where it lists them, else as fields taskd ignores there), the page sends header
/// fields, and the header table explains the validators' fields.
#[test]
fn every_card_can_send_conditional_and_range_fields() {
    let (page, document) = page_and_document();
    let start = page
        .find("const CONDITIONAL_FIELDS = [")
        .expect("CONDITIONAL_FIELDS");
    let block = &page[start..start + page[start..].find("];").unwrap()];
    for name in ["If-Match", "If-None-Match", "Range"] {
        assert!(block.contains(&format!("name: '{name}'")), "{name}");
    }
    assert!(page.contains(".concat(conditionalExtras(entry.params))"));
    assert!(
        page.contains("conditionalExtras([]).map("),
        "the probe cards too"
    );
    assert!(page.contains("where === 'header' && input.value.trim() !== ''"));
    // The download lists them itself, so its fields are the document's (with their hints).
    let (_, _, download) = operations(&document)
        .into_iter()
        .find(|(_, _, op)| op["operationId"] == "download_attachment")
        .expect("download_attachment");
    let headers: Vec<&str> = download["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| deref(&document, p))
        .filter(|p| p["in"] == "header")
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["If-Match", "If-None-Match", "Range", "If-Range"] {
        assert!(headers.contains(&name), "{name}");
    }
    let rows = &page[page.find("const HEADER_ROWS = [").unwrap()..];
    for name in [
        "'ETag'",
        "'Last-Modified'",
        "'Content-Range'",
        "'X-Total-Count'",
        "'Link'",
    ] {
        assert!(rows.contains(name), "{name} in the header table");
    }
}
