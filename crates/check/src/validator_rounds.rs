//! What `taskd check` sends about validators and ranges (the checks are in `validators.rs`):
//! a task's `ETag` before and after a PATCH, a revalidation with `If-None-Match`, a PATCH with
//! the stale tag, then an upload of the alphabet, its revalidation and three ranged downloads.

use serde_json::json;

use super::message::{Request, Response};
use super::requests::{create, get, upload};
use super::session::Session;
use super::validators::{self, entity_tag, ALPHABET};

/// Tags and conditional requests on one task, then ranges of its attachment.
pub fn validators_round(session: &mut Session) {
    let Some((id, _)) = create(session, "Validators") else {
        return;
    };
    let task = format!("/tasks/{id}");
    tags_round(session, &task);
    ranges_round(session, &format!("{task}/attachment"));
}

/// `ETag` on a GET; changed after a PATCH; 304 for `If-None-Match`; 412 for a stale `If-Match`.
/// A server without tags gets one NOTE and nothing more: there is nothing to revalidate with.
fn tags_round(session: &mut Session, task: &str) {
    let path = session.path(task);
    let title = format!("GET {path} carries an ETag");
    let first = session.check(
        "etag.task",
        &title,
        &get(session, task),
        validators::has_tag,
    );
    let Some(before) = first.as_ref().and_then(entity_tag).map(str::to_owned) else {
        return;
    };
    let done = Request::new("PATCH", path.clone()).with_json(&json!({"done": true}));
    let changed = session
        .setup(&done)
        .is_some_and(|response| (200..300).contains(&response.status));
    let current = if changed {
        tag_after_change(session, task, &before)
    } else {
        before.clone()
    };
    let revalidate = get(session, task).with_header("If-None-Match", &current);
    let title = "GET with If-None-Match: <its ETag> answers 304 with no body";
    let rule = |response: &Response| validators::not_modified(response, &current);
    session.check("etag.304", title, &revalidate, rule);
    let title = "PATCH with a stale If-Match answers 412 Precondition Failed";
    if current == before {
        let why = "the PATCH did not change the task's tag, so no tag was stale";
        return session.skip("etag.if_match", title, why);
    }
    let stale = Request::new("PATCH", path)
        .with_header("If-Match", &before)
        .with_json(&json!({"done": false}));
    session.check("etag.if_match", title, &stale, validators::stale_if_match);
}

/// The task's tag after the PATCH changed it (checked to differ from `before`); `before` when
/// there is none.
fn tag_after_change(session: &mut Session, task: &str, before: &str) -> String {
    let title = "the ETag changes when a PATCH changes the task";
    let rule = |response: &Response| validators::tag_changed(before, response);
    let after = session.check("etag.changed", title, &get(session, task), rule);
    let tag = after.as_ref().and_then(entity_tag);
    tag.map_or_else(|| before.to_owned(), str::to_owned)
}

/// A download that has an `ETag` is revalidated with it: 304 (FastAPI's `FileResponse` sends a tag
/// but answers 200 again). Without a tag there is nothing to check; the task's NOTE said why.
fn revalidate_download(session: &mut Session, attachment: &str) {
    let plain = session.setup(&get(session, attachment));
    let Some(tag) = plain.as_ref().and_then(entity_tag).map(str::to_owned) else {
        return;
    };
    let revalidate = get(session, attachment).with_header("If-None-Match", &tag);
    let title = "a download with If-None-Match: <its ETag> answers 304 with no body";
    let rule = |response: &Response| validators::not_modified(response, &tag);
    session.check("etag.download_304", title, &revalidate, rule);
}

/// A revalidation of the download, then a single range, two ranges, and a unit nobody knows,
/// on a download of the alphabet.
fn ranges_round(session: &mut Session, attachment: &str) {
    let request = upload(
        session,
        attachment,
        "alphabet.txt",
        Some("text/plain"),
        ALPHABET,
    );
    let stored = session
        .setup(&request)
        .is_some_and(|response| (200..300).contains(&response.status));
    if !stored {
        let why = "the upload of alphabet.txt did not succeed";
        return session.skip("range.single", "the range checks", why);
    }
    revalidate_download(session, attachment);
    let ranged =
        |session: &Session, range: &str| get(session, attachment).with_header("Range", range);
    let title = "Range: bytes=0-3 answers 206 with those 4 bytes and Content-Range";
    let rule = |response: &Response| validators::single_range(response, ALPHABET, 0, 3);
    session.check("range.single", title, &ranged(session, "bytes=0-3"), rule);
    let title = "Range: bytes=0-1,4-5 answers 206 with both ranges";
    let rule =
        |response: &Response| validators::multiple_ranges(response, ALPHABET, &[(0, 1), (4, 5)]);
    session.check(
        "range.multiple",
        title,
        &ranged(session, "bytes=0-1,4-5"),
        rule,
    );
    let title = "Range: lines=1-2, a unit the server does not know, is ignored (200)";
    let rule = |response: &Response| validators::unknown_unit(response, ALPHABET);
    session.check(
        "range.unknown_unit",
        title,
        &ranged(session, "lines=1-2"),
        rule,
    );
}
