//! The checks on refused requests: 409 for a duplicate title, 422 with FastAPI's item shape for
//! invalid fields, 400 / 422 for broken JSON, 415 / 422 for a body in the wrong format, and
//! what a bad id or a huge title gets. A 2xx here means something invalid was stored; a 5xx
//! means the server broke on a client's mistake.

use serde_json::Value;

use super::message::Response;
use super::report::Outcome;
use super::rules::{json_label_problem, server_error, status_text, unexpected};

/// Where FastAPI's 422 shape is written down; no RFC defines it.
const SHAPE_REF: &str = "RFC 9110 §15.5.21; the item shape {type, loc, msg} is FastAPI's, \
                         which the lesson's clients read (CONTRACT.md §1)";

/// A second `POST /tasks` with a title that is taken (exercise 1).
pub fn conflict(response: &Response) -> Outcome {
    match response.status {
        409 => explained(response),
        200..=299 => Outcome::fail(
            format!(
                "{}: a second task with the same title was stored",
                response.describe()
            ),
            "409 Conflict: the request is valid but clashes with the current state (a task \
             already has that title), as exercise 1 asks",
            "RFC 9110 §15.5.10",
        ),
        // Some APIs (Rails, for one) answer 422 for a uniqueness rule; the body is valid,
        // though, and only the server's state is in the way, which is what 409 says.
        400 | 422 => Outcome::note(format!(
            "{}: refused, good. Exercise 1 asks for 409 Conflict, the status for a clash with \
             the server's state (RFC 9110 §15.5.10); the body itself is valid.",
            status_text(response)
        )),
        _ => unexpected(response, "409 Conflict", "RFC 9110 §15.5.10"),
    }
}

/// A 4xx should explain itself (RFC 9110 §15.5), in a body whose label is right.
pub fn explained(response: &Response) -> Outcome {
    if response.body.is_empty() {
        return Outcome::fail(
            format!("{} with an empty body", status_text(response)),
            "a short explanation in the body, like {\"detail\": \"...\"}",
            "RFC 9110 §15.5 (a 4xx SHOULD carry an explanation)",
        );
    }
    json_label_problem(response).unwrap_or(Outcome::Pass)
}

/// An invalid field in a well-formed JSON body: 422 with an item of `kind` at `loc`.
pub fn invalid_field(response: &Response, kind: &str, loc: &[&str]) -> Outcome {
    match response.status {
        422 => item_at(response, kind, loc),
        // 400 is a valid refusal (RFC 9110 §15.5.1); only the lesson's clients lose the
        // per-field detail they read from FastAPI's 422.
        400 => Outcome::note(format!(
            "400: refused, which HTTP allows (RFC 9110 §15.5.1); the lesson's clients expect \
             FastAPI's 422 with an item at loc {loc:?}."
        )),
        200..=299 => Outcome::fail(
            format!("{}: the invalid task was stored", response.describe()),
            "422 Unprocessable Content: the JSON is well-formed but breaks the model's rules \
             (title 1 to 100 characters, priority low/medium/high)",
            "RFC 9110 §15.5.21",
        ),
        _ => unexpected(
            response,
            &format!("422 with an item of type {kind} at loc {loc:?}"),
            "RFC 9110 §15.5.21",
        ),
    }
}

/// The 422's `detail` holds an item at `loc`; a different `type` is only a note (a server
/// not built on pydantic names its errors its own way).
fn item_at(response: &Response, kind: &str, loc: &[&str]) -> Outcome {
    let Some(items) = items(response) else {
        return Outcome::fail(
            response.describe(),
            format!(
                "a 422 body like FastAPI's, {{\"detail\": [{{\"type\": \"{kind}\", \"loc\": \
                 {loc:?}, \"msg\": \"...\"}}]}}, so clients can point at the bad field"
            ),
            SHAPE_REF,
        );
    };
    let wanted: Vec<Value> = loc.iter().map(|part| Value::from(*part)).collect();
    match items
        .iter()
        .find(|item| item["loc"].as_array() == Some(&wanted))
    {
        None => Outcome::fail(
            response.describe(),
            format!("an item at loc {loc:?}, the field that is wrong"),
            SHAPE_REF,
        ),
        Some(item) if item["type"] != kind => Outcome::note(format!(
            "the item at loc {loc:?} has type {}; FastAPI says {kind:?}.",
            item["type"]
        )),
        Some(_) => Outcome::Pass,
    }
}

/// `detail` as a list of `{type, loc, msg}` objects, if it is one.
fn items(response: &Response) -> Option<Vec<Value>> {
    if !response.is_json_type() {
        return None;
    }
    let detail = response.json()?.get("detail")?.as_array()?.clone();
    let well_formed = |item: &Value| {
        item["type"].is_string() && item["loc"].is_array() && item["msg"].is_string()
    };
    (!detail.is_empty() && detail.iter().all(well_formed)).then_some(detail)
}

/// A body that is not JSON at all, sent as `application/json`.
pub fn malformed_json(response: &Response) -> Outcome {
    match response.status {
        // 400 is the textbook answer for malformed syntax (RFC 9110 §15.5.1); FastAPI and
        // taskd answer 422 `json_invalid`. Both blame the body, so both pass.
        400 | 422 => explained(response),
        200..=299 => Outcome::fail(
            format!("{}: broken JSON was accepted", response.describe()),
            "400 Bad Request (or FastAPI's 422 json_invalid): the body is not valid JSON",
            "RFC 9110 §15.5.1",
        ),
        _ => unexpected(
            response,
            "400 Bad Request or 422 for a body that is not valid JSON",
            "RFC 9110 §15.5.1",
        ),
    }
}

/// JSON text sent as `text/plain` to `POST /tasks`.
pub fn wrong_json_type(response: &Response) -> Outcome {
    match response.status {
        // 415 is the textbook answer (the request's Content-Type is the problem); FastAPI and
        // taskd answer 422 `model_attributes_type`, and 400 is a valid refusal too.
        400 | 415 | 422 => Outcome::Pass,
        // Reading a body as JSON whatever its label is lenient, not a protocol error.
        200..=299 => Outcome::note(format!(
            "{}: the text/plain body was read as JSON. The Content-Type says how to read the \
             content (RFC 9110 §8.3), so 415 Unsupported Media Type (or FastAPI's 422) would be \
             stricter.",
            status_text(response)
        )),
        _ => unexpected(
            response,
            "415 Unsupported Media Type (or FastAPI's 422): the body is not labelled JSON",
            "RFC 9110 §15.5.16",
        ),
    }
}

/// `GET /tasks/abc`: an id that is not a number.
pub fn bad_id(response: &Response) -> Outcome {
    match response.status {
        422 => match items(response) {
            Some(items) if items.iter().any(|item| item["loc"][0] == "path") => Outcome::Pass,
            _ => Outcome::fail(
                response.describe(),
                "a 422 like FastAPI's: {\"detail\": [{\"type\": \"int_parsing\", \"loc\": \
                 [\"path\", \"task_id\"], \"msg\": \"...\"}]}",
                SHAPE_REF,
            ),
        },
        // /tasks/abc names no task, so 404 is allowed; 400 is a valid refusal. The lesson's
        // app (and taskd) answer 422 saying the path parameter is not an integer.
        400 | 404 => Outcome::note(format!(
            "{}: allowed, /tasks/abc names no task. FastAPI and taskd answer 422 with loc \
             [\"path\", \"task_id\"], which tells the client why.",
            status_text(response)
        )),
        _ => unexpected(
            response,
            "a 4xx (FastAPI: 422 int_parsing at loc [\"path\", \"task_id\"]): abc is not an id",
            "RFC 9110 §15.5",
        ),
    }
}

/// A title of 100 000 characters: refused as too long, not a crash.
pub fn huge_title(response: &Response) -> Outcome {
    match response.status {
        422 => item_at(response, "string_too_long", &["body", "title"]),
        // A size limit below 100 kB is allowed; taskd's is 1 MiB, FastAPI has none.
        413 => Outcome::note(
            "413 Content Too Large: allowed (RFC 9110 §15.5.14); taskd's limit is 1 MiB, so it \
             answers 422 string_too_long for this 100 kB body.",
        ),
        400 => Outcome::note(
            "400: refused, which HTTP allows; the lesson's clients expect 422 string_too_long.",
        ),
        _ => server_error(response)
            .unwrap_or_else(|| invalid_field(response, "string_too_long", &["body", "title"])),
    }
}
