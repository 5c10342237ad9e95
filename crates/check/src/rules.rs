//! The checks on status codes, methods and headers: 201 + `Location`, 404 bodies, 204 with
//! nothing after the head, HEAD, OPTIONS, 405 + `Allow`, trailing-slash redirects. Each is a pure
//! function from the response(s) to an [`Outcome`], so unit tests can feed canned responses.
//!
//! Where taskd's contract and the lesson's FastAPI app differ and HTTP allows both, the check
//! says NOTE, not FAIL; the comment on each such branch says why.

use serde_json::Value;
use url::Url;

use super::message::Response;
use super::report::Outcome;

/// A 5xx is never the right answer to a request the checker sends: each one is either valid or
/// a client mistake, which is a 4xx (RFC 9110 §15.5, §15.6).
pub fn server_error(response: &Response) -> Option<Outcome> {
    (response.status >= 500).then(|| {
        Outcome::fail(
            response.describe(),
            "a 5xx says the server itself broke; a request like this one is either fine (2xx) or \
             the client's mistake (4xx), and the client needs to know which",
            "RFC 9110 §15.5, §15.6.1",
        )
    })
}

/// Any answer but the expected one: a server error, or the wrong status.
pub fn unexpected(response: &Response, expected: &str, rfc: &str) -> Outcome {
    server_error(response).unwrap_or_else(|| Outcome::fail(response.describe(), expected, rfc))
}

/// A body that is there must say what it is, and a JSON label must hold JSON (RFC 9110 §8.3).
pub fn json_label_problem(response: &Response) -> Option<Outcome> {
    if response.body.is_empty() {
        return None;
    }
    let Some(kind) = response.header("Content-Type") else {
        return Some(Outcome::fail(
            format!("{}, and no Content-Type", response.describe()),
            "a Content-Type naming the body's format (application/json), so clients know how \
             to read it",
            "RFC 9110 §8.3",
        ));
    };
    let parses = response.json().is_some();
    if response.is_json_type() && !parses {
        return Some(Outcome::fail(
            format!("{} labelled {kind}", response.describe()),
            "a body that is the JSON its Content-Type promises",
            "RFC 9110 §8.3",
        ));
    }
    if parses && !response.is_json_type() {
        return Some(Outcome::fail(
            format!("a JSON body labelled Content-Type: {kind}"),
            "Content-Type: application/json: clients decide how to parse a body from its \
             Content-Type",
            "RFC 9110 §8.3",
        ));
    }
    None
}

/// `GET /tasks` before anything else: an empty list, ideally.
pub fn empty_store(response: &Response) -> Outcome {
    match (response.status, response.json()) {
        (200, Some(Value::Array(tasks))) => {
            if let Some(problem) = json_label_problem(response) {
                return problem;
            }
            if tasks.is_empty() {
                Outcome::Pass
            } else {
                Outcome::note(format!(
                    "the store already holds {} task(s). That is fine: the checker gives its \
                     tasks titles no one else uses and deletes only the tasks it created.",
                    tasks.len()
                ))
            }
        }
        // The lesson's app has no list (FastAPI answers 405 with `allow: POST`); taskd's
        // GET /tasks is an extra (CONTRACT §7), so its absence is a note, not a failure.
        (404 | 405, _) => Outcome::note(format!(
            "{}: no list of tasks here, like the lesson's app (taskd's GET /tasks is an extra), \
             so an empty store cannot be confirmed; the checker uses titles no one else uses.",
            status_text(response)
        )),
        _ => unexpected(
            response,
            "200 with a JSON array of tasks ([] on a fresh server)",
            "RFC 9110 §15.3.1, §8.3",
        ),
    }
}

/// `GET /healthz`: taskd has it, the lesson does not.
pub fn healthz(response: &Response) -> Outcome {
    match response.status {
        200..=299 => Outcome::Pass,
        // CONTRACT §10: /healthz is taskd's extra; the lesson's app answers 404.
        404 => Outcome::note(
            "404: no /healthz. Fine, the lesson has none; taskd adds one for supervisors.",
        ),
        _ => server_error(response).unwrap_or_else(|| {
            Outcome::note(format!("{}: no health route here.", status_text(response)))
        }),
    }
}

/// `POST /tasks` with a valid body.
pub fn created(response: &Response) -> Outcome {
    match response.status {
        201 => Outcome::Pass,
        200..=299 => Outcome::fail(
            response.describe(),
            "201 Created: the request made a new task, and 201 is the status that says so; a \
             plain 200 does not tell the client that something new exists",
            "RFC 9110 §15.3.2",
        ),
        _ => unexpected(
            response,
            "201 Created with the new task",
            "RFC 9110 §15.3.2",
        ),
    }
}

/// The 201's content describes the new task: JSON with its id and the title sent.
pub fn created_body(response: &Response, title: &str) -> Outcome {
    if !(200..300).contains(&response.status) {
        return not_checked("the create did not succeed");
    }
    if let Some(problem) = json_label_problem(response) {
        return problem;
    }
    let body = response.json().unwrap_or(Value::Null);
    let has_id = matches!(body.get("id"), Some(Value::Number(_) | Value::String(_)));
    if has_id && body.get("title").and_then(Value::as_str) == Some(title) {
        Outcome::Pass
    } else {
        Outcome::fail(
            response.describe(),
            format!(
                "a body describing the new task: a JSON object with its id and the title {title:?}"
            ),
            "RFC 9110 §15.3.2 (a 201's content describes what was created)",
        )
    }
}

/// The 201 names the new task in `Location`. `request_url` is the URL that was POSTed to.
pub fn created_location(response: &Response, request_url: &Url, task_path: &str) -> Outcome {
    if response.status != 201 {
        return not_checked("the create did not answer 201");
    }
    let Some(location) = response.header("Location") else {
        return Outcome::fail(
            "201 Created with no Location header",
            format!(
                "Location: {task_path}. A 201 identifies what it created by Location; without \
                 one, the new resource is the request's own URI, {}, which is the list, not the \
                 task",
                request_url.path()
            ),
            "RFC 9110 §15.3.2, §10.2.2",
        );
    };
    match resolve(location, request_url) {
        Err(outcome) => outcome,
        Ok(resolved) if !same_place(&resolved, request_url, task_path) => Outcome::fail(
            format!("201 Created with Location: {location}"),
            format!("a Location that leads to the new task, {task_path}"),
            "RFC 9110 §15.3.2, §10.2.2",
        ),
        Ok(_) => absolute_note(location).unwrap_or(Outcome::Pass),
    }
}

/// An absolute `Location` is valid (RFC 9110 §10.2.2 allows any URI reference), but it is
/// built from the client's `Host`; taskd sends a relative one, which trusts nothing. So: NOTE.
pub fn absolute_note(location: &str) -> Option<Outcome> {
    Url::parse(location).is_ok().then(|| {
        Outcome::note(format!(
            "Location is the absolute URL {location}. HTTP allows that (RFC 9110 §10.2.2); it \
             is built from the Host header the client sent, while taskd sends a relative path, \
             which trusts nothing."
        ))
    })
}

pub fn resolve(location: &str, base: &Url) -> Result<Url, Outcome> {
    base.join(location).map_err(|_| {
        Outcome::fail(
            format!("Location: {location}"),
            "a Location that is a URI reference",
            "RFC 9110 §10.2.2",
        )
    })
}

pub fn same_place(resolved: &Url, base: &Url, path: &str) -> bool {
    resolved.origin() == base.origin() && resolved.path() == path
}

/// `GET /tasks/{id}` of an existing task: 200 and the same task.
pub fn read_task(response: &Response, id: &Value) -> Outcome {
    if response.status != 200 {
        return unexpected(
            response,
            "200 OK with the task that was just created",
            "RFC 9110 §9.3.1, §15.3.1",
        );
    }
    if let Some(problem) = json_label_problem(response) {
        return problem;
    }
    match response.json() {
        Some(task) if task.get("id") == Some(id) => Outcome::Pass,
        _ => Outcome::fail(
            response.describe(),
            format!("the task with id {id}, as JSON"),
            "RFC 9110 §9.3.1",
        ),
    }
}

/// A request about a task (or attachment) that does not exist: 404 with an explanation.
pub fn not_found(response: &Response) -> Outcome {
    if response.status != 404 {
        return unexpected(
            response,
            "404 Not Found: there is no such task, and 404 is how HTTP says so",
            "RFC 9110 §15.5.5",
        );
    }
    if response.body.is_empty() {
        return Outcome::fail(
            "404 Not Found with an empty body",
            "a short explanation in the body, like {\"detail\":\"Task 999999999 not found\"}",
            "RFC 9110 §15.5 (a 4xx SHOULD carry an explanation)",
        );
    }
    if let Some(problem) = json_label_problem(response) {
        return problem;
    }
    match response.json() {
        Some(body) if body.get("detail").is_some_and(Value::is_string) => Outcome::Pass,
        _ => Outcome::note(format!(
            "404 is right, but the body is {}: the lesson's clients read \
             {{\"detail\": \"Task N not found\"}}.",
            super::message::quote_body(&response.body)
        )),
    }
}

/// `DELETE /tasks/{id}` of the checker's own task.
pub fn deleted(response: &Response) -> Outcome {
    match response.status {
        204 => Outcome::Pass,
        // RFC 9110 §9.3.5 allows 200 with a representation of the outcome, and 202.
        200 | 202 if !response.body.is_empty() => Outcome::note(format!(
            "{} with a body: allowed by RFC 9110 §9.3.5; the lesson's delete sends 204 No \
             Content with nothing in it.",
            status_text(response)
        )),
        200..=299 => Outcome::fail(
            response.describe(),
            "204 No Content: the task is gone and there is nothing to say",
            "RFC 9110 §9.3.5, §15.3.5",
        ),
        _ => unexpected(response, "204 No Content", "RFC 9110 §9.3.5"),
    }
}

/// A 204 ends at the blank line after its header section.
pub fn no_content_body(response: &Response) -> Outcome {
    if response.status != 204 {
        return not_checked("the answer was not a 204");
    }
    if response.body.is_empty() {
        return Outcome::Pass;
    }
    Outcome::fail(
        format!(
            "204 No Content followed by {}",
            super::message::quote_body(&response.body)
        ),
        "nothing after the header section: a 204 cannot contain content, and a client on a \
         kept-alive connection would read those bytes as the start of the next response",
        "RFC 9110 §15.3.5; RFC 9112 §6.3",
    )
}

/// A 204 has no `Content-Type`: there is no content for it to describe.
///
/// RFC 9110 has no MUST NOT here, unlike `Content-Length` (§8.6). But `Content-Type` describes
/// content (§8.3) and a 204 cannot have any (§15.3.5); the lesson teaches "a truly empty 204",
/// and the issue lists this rule, so it is a FAIL, worded as what the header claims.
pub fn no_content_type(response: &Response) -> Outcome {
    if response.status != 204 {
        return not_checked("the answer was not a 204");
    }
    match response.header("Content-Type") {
        None => Outcome::Pass,
        Some(kind) => Outcome::fail(
            format!("204 No Content with Content-Type: {kind}"),
            "no Content-Type: it describes the content, and a 204 has none, so the header \
             announces a body that is not there (the lesson's FastAPI app sends \
             application/json here; taskd sends nothing)",
            "RFC 9110 §15.3.5, §8.3",
        ),
    }
}

/// A 204 has no `Content-Length`, not even 0.
pub fn no_content_length(response: &Response) -> Outcome {
    if response.status != 204 {
        return not_checked("the answer was not a 204");
    }
    match response.header("Content-Length") {
        None => Outcome::Pass,
        Some(length) => Outcome::fail(
            format!("204 No Content with Content-Length: {length}"),
            "no Content-Length: a server MUST NOT send it in a 204",
            "RFC 9110 §8.6",
        ),
    }
}

/// A note for a check that could not run.
pub fn not_checked(why: &str) -> Outcome {
    Outcome::note(format!("not checked: {why}."))
}

/// `405 Method Not Allowed`, from the status and reason as sent.
pub fn status_text(response: &Response) -> String {
    format!("{} {}", response.status, response.reason)
        .trim_end()
        .to_owned()
}
