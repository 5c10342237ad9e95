//! What `taskd check` sends first: an empty-store probe, the lesson's Stage 4 sequence and its
//! three exercises (the HTTP-rules rounds that follow are in `rounds.rs`, the order of all of
//! them in the crate's `check`). Every id comes from an answer, every title ends in the run's tag, and only
//! the run's own tasks are deleted.

use serde_json::json;

use super::message::{Request, Response};
use super::report::Outcome;
use super::requests::{create, get, post_json, upload, NOTES};
use super::rules;
use super::session::{task_id, Seen, Session, Stop};
use super::uploads;
use super::validation;

/// An id no task is likely to have; it is only ever DELETEd after a GET of it answered 404.
const MISSING_ID: &str = "999999999";

/// `GET /tasks` on what should be an empty store, and `/healthz`.
pub fn start(session: &mut Session) -> Result<(), Stop> {
    let request = get(session, "/tasks");
    let title = "GET /tasks on a fresh server answers 200 []";
    if let Some(response) = session.first(&request)? {
        Seen::add(&mut session.seen.collection, "GET", &response);
        let outcome = rules::empty_store(&response);
        session.record("start.empty", title, Some(request.describe()), outcome);
    }
    let title = "GET /healthz answers 200 (taskd's extra)";
    session.check(
        "start.healthz",
        title,
        &get(session, "/healthz"),
        rules::healthz,
    );
    Ok(())
}

/// The lesson's Stage 4: create, read, two 404s, upload, 404 upload, delete (204), gone.
pub fn stage_four(session: &mut Session) {
    let title = format!("Write the report ({})", session.tag);
    let create = post_json(
        session,
        "/tasks",
        &[("title", json!(title)), ("priority", json!("high"))],
    );
    let name = "POST /tasks answers 201 Created";
    let Some(created) = session.check("stage4.create", name, &create, rules::created) else {
        return;
    };
    Seen::add(&mut session.seen.collection, "POST", &created);
    session.adopt(&created);
    let sent = Some(create.describe());
    let outcome = rules::created_body(&created, &title);
    session.record(
        "stage4.body",
        "the 201 describes the new task in JSON",
        sent.clone(),
        outcome,
    );
    let Some(id) = task_id(&created) else {
        let why = "the rest of Stage 4 needs the new task's id, and the answer had none";
        return session.skip("stage4.rest", "Stage 4", why);
    };
    let task = session.path(&format!("/tasks/{id}"));
    let outcome = rules::created_location(&created, &session.url(&session.path("/tasks")), &task);
    session.record(
        "stage4.location",
        "the 201 names the new task in Location",
        sent,
        outcome,
    );

    let id_value = created.json().and_then(|body| body.get("id").cloned());
    let id_value = id_value.unwrap_or_default();
    let title = format!("GET {task} answers 200 with the task");
    let read = Request::new("GET", task.clone());
    let rule = |response: &Response| rules::read_task(response, &id_value);
    if let Some(response) = session.check("stage4.get", &title, &read, rule) {
        Seen::add(&mut session.seen.task, "GET", &response);
    }
    let missing = session.path(&format!("/tasks/{MISSING_ID}"));
    let missing_is_404 = missing_round(session, &missing);

    let attachment = format!("/tasks/{id}/attachment");
    let request = upload(session, &attachment, "notes.txt", Some("text/plain"), NOTES);
    let title = format!(
        "POST {} stores notes.txt, 19 bytes",
        session.path(&attachment)
    );
    let rule = |response: &Response| uploads::uploaded(response, NOTES.len());
    if let Some(response) = session.check("stage4.upload", &title, &request, rule) {
        Seen::add(&mut session.seen.attachment, "POST", &response);
    }
    if missing_is_404 {
        let path = format!("/tasks/{MISSING_ID}/attachment");
        let request = upload(session, &path, "notes.txt", Some("text/plain"), NOTES);
        let title = format!("POST {} answers 404", session.path(&path));
        session.check("stage4.upload_missing", &title, &request, rules::not_found);
    }
    delete_round(session, &id, &task);
}

/// GET and DELETE of a task that does not exist. Returns whether the GET said 404.
fn missing_round(session: &mut Session, missing: &str) -> bool {
    let title = format!("GET {missing} answers 404 with a detail");
    let request = Request::new("GET", missing.to_owned());
    let response = session.check("stage4.get_missing", &title, &request, rules::not_found);
    let is_404 = response.is_some_and(|response| response.status == 404);
    let title = format!("DELETE {missing} answers 404 with a detail");
    if is_404 {
        // Only after a 404 for this very id: the checker never deletes what it did not create.
        let request = Request::new("DELETE", missing.to_owned());
        session.check("stage4.delete_missing", &title, &request, rules::not_found);
    } else {
        let why =
            format!("GET {missing} did not answer 404, and the checker deletes only its own tasks");
        session.skip("stage4.delete_missing", &title, &why);
    }
    is_404
}

/// DELETE of the Stage 4 task: 204 with nothing after the head; then it is gone.
fn delete_round(session: &mut Session, id: &str, task: &str) {
    let request = Request::new("DELETE", task.to_owned());
    let title = format!("DELETE {task} answers 204 No Content");
    let Some(deleted) = session.check("stage4.delete", &title, &request, rules::deleted) else {
        return;
    };
    Seen::add(&mut session.seen.task, "DELETE", &deleted);
    if (200..300).contains(&deleted.status) {
        session.disown(id);
    }
    let sent = Some(request.describe());
    let checks: [(&'static str, &str, Rule); 3] = [
        (
            "stage4.no_body",
            "the 204 has no body",
            rules::no_content_body,
        ),
        (
            "stage4.no_type",
            "the 204 has no Content-Type",
            rules::no_content_type,
        ),
        (
            "stage4.no_length",
            "the 204 has no Content-Length",
            rules::no_content_length,
        ),
    ];
    for (name, title, rule) in checks {
        session.record(name, title, sent.clone(), rule(&deleted));
    }
    let title = format!("GET {task} after the delete answers 404");
    let request = Request::new("GET", task.to_owned());
    session.check("stage4.gone", &title, &request, rules::not_found);
}

/// A check of one response.
type Rule = fn(&Response) -> Outcome;

/// The three exercises: 409 on a duplicate title, 400 for a refused type (and acceptance of
/// types that only look different), and the download.
pub fn exercises(session: &mut Session) {
    let Some((id, title)) = create(session, "Exercises") else {
        return;
    };
    let duplicate = post_json(
        session,
        "/tasks",
        &[("title", json!(title)), ("priority", json!("low"))],
    );
    let name = "a second POST /tasks with the same title answers 409 Conflict";
    if let Some(response) =
        session.check("exercise1.conflict", name, &duplicate, validation::conflict)
    {
        session.adopt(&response);
    }
    let path = format!("/tasks/{id}/attachment");
    let title = format!("GET {} before any upload answers 404", session.path(&path));
    session.check(
        "exercise3.none",
        &title,
        &get(session, &path),
        uploads::no_attachment,
    );

    let pdf = upload(
        session,
        &path,
        "report.pdf",
        Some("application/pdf"),
        b"%PDF-1.7\n",
    );
    let title = "an application/pdf upload is refused with 400";
    session.check("exercise2.pdf", title, &pdf, uploads::refused_type);
    let kind = "Text/Plain; charset=utf-8";
    let request = upload(session, &path, "notes.txt", Some(kind), NOTES);
    let title = format!("an upload typed {kind} is accepted as text/plain");
    let expected = "media types compare case-insensitively and a charset parameter does not \
                    change the type, so Text/Plain; charset=utf-8 is text/plain";
    let rule = |r: &Response| uploads::accepted_type(r, expected, "RFC 9110 §8.3.1; RFC 2045 §5.1");
    session.check("exercise2.case", &title, &request, rule);
    let request = upload(session, &path, "notes.txt", None, NOTES);
    let title = "an upload part without Content-Type is accepted as text/plain";
    let expected = "a part without Content-Type is text/plain by definition";
    let rule = |r: &Response| uploads::accepted_type(r, expected, "RFC 7578 §4.4");
    session.check("exercise2.untyped", title, &request, rule);

    let request = upload(session, &path, "notes.txt", Some("text/plain"), NOTES);
    session.setup(&request);
    let title = format!("GET {} returns the 19 bytes uploaded", session.path(&path));
    let rule = |r: &Response| uploads::download(r, NOTES);
    let Some(download) = session.check("exercise3.download", &title, &get(session, &path), rule)
    else {
        return;
    };
    Seen::add(&mut session.seen.attachment, "GET", &download);
    let sent = Some(get(session, &path).describe());
    let outcome = uploads::download_type(&download, "text/plain");
    let title = "the download's Content-Type is text/plain, as uploaded";
    session.record("exercise3.type", title, sent.clone(), outcome);
    let outcome = uploads::download_name(&download, "notes.txt");
    let title = "the download's Content-Disposition names notes.txt";
    session.record("exercise3.name", title, sent, outcome);
}
