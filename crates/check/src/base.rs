//! The base URL a learner gives. The checker adds `/tasks` itself, so
//! `taskd check http://127.0.0.1:8000/tasks` would send `GET /tasks/tasks` and report a dozen
//! 404s that say nothing about the server. A path naming one of the API's own routes is
//! refused instead, with the root to use and what the root serves at `/docs` and
//! `/openapi.json`, which is how FastAPI (and taskd) show what they are. A path that names no
//! route (`http://host/api`) stays a prefix: an app mounted there is checked under it.

use serde_json::Value;

use super::client::{Target, Transport};
use super::message::Request;

/// Path segments that are routes of the lesson's API or of the servers that implement it.
const ROUTE_SEGMENTS: [&str; 6] = [
    "tasks",
    "attachment",
    "docs",
    "redoc",
    "openapi.json",
    "healthz",
];

/// Whether the URL's path names a route (`/tasks`, `/docs`, ...), not a prefix.
pub fn names_a_route(target: &Target) -> bool {
    target
        .base_path
        .split('/')
        .any(|segment| ROUTE_SEGMENTS.contains(&segment))
}

/// The usage error for a URL with a route in its path: the root to give instead, and what
/// `GET /docs` and `GET /openapi.json` at the root answered, through `transport`.
pub fn explain(target: &Target, transport: &mut dyn Transport) -> String {
    let mut root = target.url.clone();
    root.set_path("/");
    let root = root.as_str().trim_end_matches('/').to_owned();
    let mut found = Vec::new();
    for path in ["/docs", "/openapi.json"] {
        let request = Request::new("GET", path.to_owned());
        match transport.send(&request) {
            Ok(response) if response.status == 200 && path == "/openapi.json" => {
                found.push(format!("GET {path} answered 200{}", api_summary(&response)));
            }
            Ok(response) => found.push(format!("GET {path} answered {}", response.status)),
            Err(why) => found.push(format!("GET {path} got no answer ({why})")),
        }
    }
    format!(
        "{} has a path, {}, and the checker adds /tasks itself (it would send GET {}/tasks).\n\
         Give the server's root: taskd check {root}\n\
         At {root}: {}.",
        target.url,
        target.base_path,
        target.base_path,
        found.join("; ")
    )
}

/// `: an OpenAPI document, "FastAPI" 0.1.0, paths /tasks, /tasks/{task_id}`, from its JSON.
fn api_summary(response: &super::message::Response) -> String {
    let Some(document) = response.json() else {
        return String::new();
    };
    let info = &document["info"];
    let title = info["title"].as_str().unwrap_or("untitled");
    let version = info["version"].as_str().unwrap_or_default();
    let paths: Vec<&str> = match &document["paths"] {
        Value::Object(paths) => paths.keys().map(String::as_str).take(6).collect(),
        _ => Vec::new(),
    };
    format!(
        ": an OpenAPI document, {title:?} {version}, paths {}",
        paths.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::TransportError;
    use crate::message::Response;

    struct Docs;

    impl Transport for Docs {
        fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
            Ok(match request.target.as_str() {
                "/openapi.json" => Response::new(200).with_json(
                    r#"{"info":{"title":"FastAPI","version":"0.1.0"},
                        "paths":{"/tasks":{},"/tasks/{task_id}":{}}}"#,
                ),
                _ => Response::new(404),
            })
        }
    }

    #[test]
    fn a_route_in_the_path_is_refused_and_a_prefix_is_not() {
        for url in ["h:1/tasks", "h:1/tasks/", "h:1/docs", "h:1/api/tasks/7"] {
            assert!(names_a_route(&Target::parse(url).unwrap()), "{url}");
        }
        for url in ["h:1", "h:1/", "h:1/api", "h:1/taskservice"] {
            assert!(!names_a_route(&Target::parse(url).unwrap()), "{url}");
        }
    }

    #[test]
    fn the_explanation_names_the_root_and_what_it_serves() {
        let target = Target::parse("http://127.0.0.1:8000/tasks").unwrap();
        let text = explain(&target, &mut Docs);
        assert_eq!(
            text,
            "http://127.0.0.1:8000/tasks has a path, /tasks, and the checker adds /tasks itself \
             (it would send GET /tasks/tasks).\n\
             Give the server's root: taskd check http://127.0.0.1:8000\n\
             At http://127.0.0.1:8000: GET /docs answered 404; GET /openapi.json answered 200: \
             an OpenAPI document, \"FastAPI\" 0.1.0, paths /tasks, /tasks/{task_id}."
        );
    }
}
