//! The rounds after the lesson's script: the HTTP rules of CONTRACT.md a lesson-level server
//! should get right (HEAD, byte-identical uploads, Content-Disposition, trailing slashes,
//! OPTIONS, 405), then the refusals (422 shapes, a huge title, broken JSON, a bad id).

use serde_json::json;

use super::message::{Request, Response};
use super::methods;
use super::requests::{create, get, post_json, tricky_content, upload, NOTES};
use super::session::{Seen, Session};
use super::uploads;
use super::validation;

/// HEAD, byte-identical uploads, Content-Disposition, trailing slashes, OPTIONS and 405.
pub fn rules_round(session: &mut Session) {
    let Some((id, title)) = create(session, "HTTP rules") else {
        return;
    };
    let task = format!("/tasks/{id}");
    let attachment = format!("{task}/attachment");
    head_round(session, &task, "head.task", |seen| &mut seen.task);

    let content = tricky_content(&session.boundary);
    let request = upload(
        session,
        &attachment,
        "tricky.png",
        Some("image/png"),
        &content,
    );
    let title_upload = format!(
        "an upload with CRLFs and boundary-like bytes keeps all {} bytes",
        content.len()
    );
    let rule = |r: &Response| uploads::uploaded(r, content.len());
    session.check("upload.tricky", &title_upload, &request, rule);
    let title_download = "the download of that upload is byte-identical";
    let rule = |r: &Response| uploads::download(r, &content);
    session.check(
        "download.tricky",
        title_download,
        &get(session, &attachment),
        rule,
    );
    head_round(session, &attachment, "head.download", |seen| {
        &mut seen.attachment
    });

    for (name, file, label) in [
        (
            "disposition.quotes",
            "say \"hi\".txt",
            "a filename with quotes comes back escaped in Content-Disposition",
        ),
        (
            "disposition.rfc8187",
            "résumé 😀.txt",
            "a non-ASCII filename comes back in filename* (RFC 8187)",
        ),
    ] {
        let request = upload(session, &attachment, file, Some("text/plain"), NOTES);
        if session.setup(&request).is_some() {
            let rule = |r: &Response| uploads::download_name(r, file);
            session.check(name, label, &get(session, &attachment), rule);
        }
    }
    let request =
        Request::new("POST", session.path(&attachment)).with_json(&json!({"file": "notes.txt"}));
    let label = "an upload sent as JSON, not multipart/form-data, is refused (415 or 422)";
    session.check("upload.json", label, &request, uploads::not_multipart);
    slash_round(session, &task);
    options_round(session, &task);
    not_allowed_round(session, &task, &title);
}

/// HEAD of `path` against a GET of it; a HEAD that matches is a method seen to work.
fn head_round(
    session: &mut Session,
    path: &str,
    name: &'static str,
    list: fn(&mut Seen) -> &mut Vec<&'static str>,
) {
    let Some(get_response) = session.setup(&get(session, path)) else {
        return;
    };
    let request = Request::new("HEAD", session.path(path));
    let title = format!(
        "HEAD {} answers like GET, without the body",
        session.path(path)
    );
    let rule = |head: &Response| methods::head_matches(&get_response, head);
    if let Some(head) = session.check(name, &title, &request, rule) {
        if head.status == get_response.status {
            Seen::add(list(&mut session.seen), "HEAD", &head);
        }
    }
}

/// A trailing slash on a task (GET) and on the collection (POST, which must keep its method).
fn slash_round(session: &mut Session, task: &str) {
    let slashed = session.path(&format!("{task}/"));
    let expected = session.path(task);
    let url = session.url(&slashed);
    let title = format!("GET {slashed} is served or redirected to {expected}");
    let rule = |r: &Response| methods::trailing_slash(r, "GET", &url, &expected);
    session.check(
        "slash.get",
        &title,
        &Request::new("GET", slashed.clone()),
        rule,
    );

    let body = [("title", json!(format!("Slash ({})", session.tag)))];
    let request = post_json(session, "/tasks/", &body);
    let url = session.url(&session.path("/tasks/"));
    let expected = session.path("/tasks");
    let title = format!(
        "POST {} is served, or redirected keeping the method",
        request.target
    );
    let rule = |r: &Response| methods::trailing_slash(r, "POST", &url, &expected);
    if let Some(response) = session.check("slash.post", &title, &request, rule) {
        session.adopt(&response);
    }
}

fn options_round(session: &mut Session, task: &str) {
    let seen_task = session.seen.task.clone();
    let request = Request::new("OPTIONS", session.path(task));
    let title = format!("OPTIONS {} lists the methods in Allow", request.target);
    session.check("options.task", &title, &request, |r| {
        methods::options(r, &seen_task)
    });
    let seen_collection = session.seen.collection.clone();
    let request = Request::new("OPTIONS", session.path("/tasks"));
    let title = format!("OPTIONS {} lists the methods in Allow", request.target);
    session.check("options.collection", &title, &request, |r| {
        methods::options(r, &seen_collection)
    });
    let request = Request::new("OPTIONS", "*");
    let title = "OPTIONS * answers for the whole server";
    session.check("options.star", title, &request, methods::options_star);
}

/// PUT where the lesson has none: 405 with `Allow`. The PUT of the task carries its own title,
/// so a server that does support PUT changes nothing that matters.
fn not_allowed_round(session: &mut Session, task: &str, title: &str) {
    let rounds = [
        (
            "405.task",
            task.to_owned(),
            session.seen.task.clone(),
            Some(json!({"title": title})),
        ),
        (
            "405.collection",
            "/tasks".to_owned(),
            session.seen.collection.clone(),
            None,
        ),
        (
            "405.attachment",
            format!("{task}/attachment"),
            session.seen.attachment.clone(),
            None,
        ),
    ];
    for (name, path, seen, body) in rounds {
        let mut request = Request::new("PUT", session.path(&path));
        if let Some(body) = body {
            request = request.with_json(&body);
        }
        let title = format!("PUT {} answers 405 with a complete Allow", request.target);
        let rule = |r: &Response| methods::method_not_allowed(r, "PUT", &seen);
        session.check(name, &title, &request, rule);
    }
}

/// Bodies and ids that must be refused with the right 4xx: 422 shapes, a huge title, broken
/// JSON, a body that is not JSON, a bad id, an upload that is not multipart.
pub fn invalid_round(session: &mut Session) {
    let tag = session.tag.clone();
    let long = |n: usize| format!("{tag} {}", "x".repeat(n - tag.len() - 1));
    let fields = [
        (
            "422.empty_title",
            vec![("title", json!(""))],
            "string_too_short",
            "title",
            "an empty title",
        ),
        (
            "422.priority",
            vec![
                ("title", json!(format!("Bad priority ({tag})"))),
                ("priority", json!("urgent")),
            ],
            "value_error",
            "priority",
            "priority \"urgent\"",
        ),
        (
            "422.missing_title",
            vec![("priority", json!("high"))],
            "missing",
            "title",
            "a body without a title",
        ),
        (
            "422.long_title",
            vec![("title", json!(long(101)))],
            "string_too_long",
            "title",
            "a 101-character title",
        ),
    ];
    for (name, body, kind, field, what) in fields {
        let request = post_json(session, "/tasks", &body);
        let title = format!("{what} answers 422 with a {kind} item at [\"body\", \"{field}\"]");
        let rule = |r: &Response| validation::invalid_field(r, kind, &["body", field]);
        if let Some(response) = session.check(name, &title, &request, rule) {
            session.adopt(&response);
        }
    }
    let huge = post_json(session, "/tasks", &[("title", json!(long(100_000)))]);
    let title = "a 100 000-character title is refused with 422, not a crash";
    if let Some(response) = session.check("huge.title", title, &huge, validation::huge_title) {
        session.adopt(&response);
    }
    let broken = Request::new("POST", session.path("/tasks")).with_body(
        "application/json",
        format!("{{\"title\": \"Broken ({tag})\","),
    );
    let title = "broken JSON is refused with 400 or 422";
    if let Some(response) = session.check("json.broken", title, &broken, validation::malformed_json)
    {
        session.adopt(&response);
    }
    let plain = Request::new("POST", session.path("/tasks")).with_body(
        "text/plain",
        json!({"title": format!("Plain ({tag})")}).to_string(),
    );
    let title = "a JSON body sent as text/plain is refused (415 or 422)";
    if let Some(response) = session.check(
        "json.text_plain",
        title,
        &plain,
        validation::wrong_json_type,
    ) {
        session.adopt(&response);
    }
    let title = "GET /tasks/abc is refused with 422 (a 4xx, not a crash)";
    session.check(
        "id.bad",
        title,
        &get(session, "/tasks/abc"),
        validation::bad_id,
    );
}
