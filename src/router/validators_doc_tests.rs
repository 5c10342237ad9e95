//! `src/openapi.json` against CONTRACT §11: each operation documents exactly the precondition
//! and range fields its handler reads, the statuses they can give (304, 206, 412, 416), and the
//! validator fields of its success; and nothing of the kind where the handler has none.
use serde_json::Value;

use super::tests::{openapi, operations, resolve, sample};
use super::*;

/// What §11 adds to one operation.
struct Expected {
    /// Header parameters, in any order.
    fields: &'static [&'static str],
    /// Statuses beside the operation's others.
    statuses: &'static [&'static str],
    /// Fields of the success response (200 or 201).
    success_headers: &'static [&'static str],
}

const NOTHING: Expected = Expected {
    fields: &[],
    statuses: &[],
    success_headers: &[],
};
const TAGS: &[&str] = &["If-Match", "If-None-Match"];
const CHANGE_OF_ATTACHMENT: &[&str] = &["If-Match", "If-None-Match", "If-Unmodified-Since"];
const VALIDATED: &[&str] = &["ETag", "Cache-Control"];

/// CONTRACT §11, per route.
fn expected(route: &Route) -> Expected {
    match route {
        Route::ListTasks { .. } => Expected {
            fields: TAGS,
            statuses: &["304", "412"],
            success_headers: &["ETag", "Cache-Control", "X-Total-Count", "Link"],
        },
        // §11: `POST /tasks` ignores preconditions; its 201 carries the new task's tag.
        Route::CreateTask => Expected {
            success_headers: &["ETag", "Location"],
            ..NOTHING
        },
        Route::GetTask(_) => Expected {
            fields: TAGS,
            statuses: &["304", "412"],
            success_headers: VALIDATED,
        },
        Route::UpdateTask(_) => Expected {
            fields: TAGS,
            statuses: &["412"],
            success_headers: VALIDATED,
        },
        Route::DeleteTask(_) => Expected {
            fields: TAGS,
            statuses: &["412"],
            success_headers: &[],
        },
        Route::DownloadAttachment(_) => Expected {
            fields: &[
                "If-Match",
                "If-None-Match",
                "If-Modified-Since",
                "If-Unmodified-Since",
                "Range",
                "If-Range",
            ],
            statuses: &["206", "304", "412", "416"],
            success_headers: &[
                "Content-Length",
                "Content-Disposition",
                "ETag",
                "Cache-Control",
                "Last-Modified",
                "Accept-Ranges",
            ],
        },
        Route::UploadAttachment(_) => Expected {
            fields: CHANGE_OF_ATTACHMENT,
            statuses: &["412"],
            success_headers: VALIDATED,
        },
        Route::DeleteAttachment(_) => Expected {
            fields: CHANGE_OF_ATTACHMENT,
            statuses: &["412"],
            success_headers: &[],
        },
        // CONTRACT §10: the documents compiled into the binary are tagged like a task.
        Route::OpenApi | Route::Docs => Expected {
            fields: TAGS,
            statuses: &["304", "412"],
            success_headers: VALIDATED,
        },
        // CONTRACT §10: `no-store`, and nothing to revalidate.
        Route::Health | Route::Metrics => Expected {
            success_headers: &["Cache-Control"],
            ..NOTHING
        },
        Route::Options { .. } | Route::Redirect { .. } => NOTHING,
    }
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

fn header_parameters(doc: &Value, operation: &Value) -> Vec<String> {
    let parameters = operation["parameters"].as_array().map(Vec::as_slice);
    let names = parameters
        .unwrap_or_default()
        .iter()
        .map(|parameter| resolve(doc, parameter))
        .filter(|parameter| parameter["in"] == "header")
        .map(|parameter| parameter["name"].as_str().unwrap_or_default().to_owned());
    sorted(names.collect())
}

fn response_headers(doc: &Value, response: &Value) -> Vec<String> {
    let headers = resolve(doc, response)["headers"].as_object();
    sorted(
        headers
            .into_iter()
            .flat_map(|map| map.keys().cloned())
            .collect(),
    )
}

fn strings(names: &[&str]) -> Vec<String> {
    sorted(names.iter().map(|name| (*name).to_owned()).collect())
}

/// §11's statuses: documented where they can happen, and only there.
const VALIDATOR_STATUSES: [&str; 4] = ["206", "304", "412", "416"];

#[test]
fn openapi_documents_each_operations_validator_fields_and_statuses() {
    let doc = openapi();
    for (template, method, operation) in operations(&doc) {
        let routed = route(&method, &sample(template)).expect("documented, so routed");
        let expected = expected(&routed);
        let here = format!("{method} {template}");
        let fields = header_parameters(&doc, operation);
        assert_eq!(
            fields,
            strings(expected.fields),
            "{here}: header parameters"
        );
        let responses = operation["responses"].as_object().expect("responses");
        for status in VALIDATOR_STATUSES {
            let wanted = expected.statuses.contains(&status);
            assert_eq!(responses.contains_key(status), wanted, "{here}: {status}");
        }
        let success = ["200", "201", "204"]
            .into_iter()
            .find_map(|status| responses.get(status))
            .expect("a success");
        let headers = response_headers(&doc, success);
        for name in expected.success_headers {
            assert!(
                headers.iter().any(|h| h == name),
                "{here}: {name} on success"
            );
        }
    }
}

/// RFC 9110 §15.4.5, §15.3.7, §15.5.17: what each of those responses carries.
#[test]
fn openapi_validator_responses_have_their_fields() {
    let doc = openapi();
    let not_modified = resolve(&doc, &doc["components"]["responses"]["NotModified"]);
    assert!(not_modified.get("content").is_none(), "a 304 has no body");
    assert_eq!(response_headers(&doc, not_modified), strings(VALIDATED));
    let unsatisfiable = &doc["components"]["responses"]["RangeNotSatisfiable"];
    assert_eq!(
        response_headers(&doc, unsatisfiable),
        strings(&["Content-Range"])
    );
    let download = &doc["paths"]["/tasks/{task_id}/attachment"]["get"]["responses"]["206"];
    let headers = response_headers(&doc, download);
    for name in ["Content-Range", "ETag", "Last-Modified", "Accept-Ranges"] {
        assert!(headers.iter().any(|h| h == name), "206: {name}");
    }
    assert!(download["content"].get("multipart/byteranges").is_some());
    for parameter in doc["components"]["parameters"]
        .as_object()
        .unwrap()
        .values()
    {
        if parameter["in"] == "header" {
            assert_eq!(parameter["required"], false, "{}", parameter["name"]);
        }
    }
}
