//! The stderr hints for a newcomer's common mistakes, read from the real binary's stderr: one
//! line per kind however often the mistake is made, none for correct requests, none under
//! `--quiet`, and the answers on the wire exactly the bodies CONTRACT gives (§4, §9, §11).

use crate::binary;
use crate::common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use binary::Taskd;
use common::*;

/// The hint lines of a stopped server's stderr.
fn hints(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| line.starts_with("taskd: hint: "))
        .collect()
}

/// Creates a task with a title no other call uses (a repeated title is a 409).
fn fresh_task(addr: SocketAddr) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    create_task(
        addr,
        &format!("Task {}", NEXT.fetch_add(1, Ordering::Relaxed)),
    )
}

/// Starts taskd, makes `mistake` twice, and returns its hint lines.
fn hints_after(mistake: impl Fn(SocketAddr)) -> Vec<String> {
    let taskd = Taskd::start(&[], &[]);
    mistake(taskd.addr());
    mistake(taskd.addr());
    mistake(taskd.addr());
    let stderr = taskd.stop();
    hints(&stderr).into_iter().map(str::to_owned).collect()
}

#[test]
fn json_without_its_content_type_is_hinted_once_and_answered_as_the_contract_says() {
    let lines = hints_after(|addr| {
        let headers = [("Content-Type", "text/plain")];
        let response = request(addr, "POST", "/tasks", &headers, br#"{"title":"a"}"#);
        assert_eq!(response.status, 422);
        assert_eq!(response.detail()[0]["type"], "model_attributes_type");
    });
    assert_eq!(
        lines,
        [
            "taskd: hint: POST /tasks sent a body with text/plain, not Content-Type: \
          application/json, so it was not read as JSON (422); send the header: curl -H \
          'Content-Type: application/json', or requests/httpx json=..."
        ]
    );
}

#[test]
fn an_upload_that_is_not_multipart_is_hinted() {
    let lines = hints_after(|addr| {
        let id = fresh_task(addr);
        let target = format!("/tasks/{id}/attachment");
        let response = request(addr, "POST", &target, &[], b"raw file bytes");
        assert_eq!(response.status, 422);
        assert_eq!(
            response.detail()[0]["loc"],
            serde_json::json!(["body", "file"])
        );
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "taskd: hint: POST /tasks/1/attachment sent no Content-Type, not \
             multipart/form-data, so it holds no file part (422); send the file as the form \
             field `file`: curl -F file=@notes.txt"
        ),
        "{lines:?}"
    );
}

#[test]
fn a_refused_upload_type_is_hinted_with_the_allowed_types() {
    let lines = hints_after(|addr| {
        let id = fresh_task(addr);
        let response = upload(addr, id, "report.pdf", Some("application/pdf"), b"%PDF");
        assert_error(&response, 400, "Unsupported file type: application/pdf");
    });
    assert_eq!(
        lines,
        [
            "taskd: hint: an upload typed application/pdf was refused (400); the file part's \
          Content-Type must be text/plain, image/png or image/jpeg (no Content-Type counts as \
          text/plain)"
        ]
    );
}

#[test]
fn a_stale_if_match_is_hinted_with_where_the_tag_comes_from() {
    let lines = hints_after(|addr| {
        let id = fresh_task(addr);
        let headers = [
            ("Content-Type", "application/json"),
            ("If-Match", "\"stale\""),
        ];
        let target = format!("/tasks/{id}");
        let response = request(addr, "PATCH", &target, &headers, br#"{"done":true}"#);
        assert_error(&response, 412, "Precondition Failed");
    });
    assert_eq!(
        lines,
        [
            "taskd: hint: PATCH /tasks/1 sent If-Match: \"stale\", which is not the current tag \
          (412): someone changed it since, or the tag is from elsewhere; GET /tasks/1 and send \
          its ETag back as If-Match"
        ]
    );
}

#[test]
fn get_of_the_root_points_at_the_docs() {
    let lines = hints_after(|addr| assert_error(&get(addr, "/"), 404, "Not Found"));
    assert_eq!(
        lines,
        [
            "taskd: hint: GET / has nothing here (404): the API is under /tasks; read it at /docs \
          (the page) or /openapi.json (the document)"
        ]
    );
}

#[test]
fn the_uploads_etag_sent_as_if_match_on_the_task_is_named_as_the_attachments() {
    let taskd = Taskd::start(&[], &[]);
    let addr = taskd.addr();
    let id = fresh_task(addr);
    let uploaded = upload(addr, id, "notes.txt", Some("text/plain"), b"hello");
    assert_eq!(uploaded.status, 200);
    let tag = uploaded
        .header("ETag")
        .expect("the upload's ETag")
        .to_owned();
    for _ in 0..2 {
        let headers = [("Content-Type", "application/json"), ("If-Match", &tag)];
        let target = format!("/tasks/{id}");
        let response = request(addr, "PATCH", &target, &headers, br#"{"done":true}"#);
        assert_error(&response, 412, "Precondition Failed");
    }
    let stderr = taskd.stop();
    assert_eq!(
        hints(&stderr),
        [format!(
            "taskd: hint: PATCH /tasks/{id} sent If-Match: {tag}, the ETag of an upload's \
             answer: that is the attachment's tag, not the task's (412); the task's current tag \
             is the ETag of GET /tasks/{id}"
        )]
    );
}

#[test]
fn correct_requests_get_no_hint_and_quiet_silences_every_hint() {
    let correct = hints_after(|addr| {
        let id = fresh_task(addr);
        assert_eq!(upload(addr, id, "a.txt", None, b"x").status, 200);
        let task = get(addr, &format!("/tasks/{id}"));
        let tag = task.header("ETag").expect("an ETag").to_owned();
        let headers = [("Content-Type", "application/json"), ("If-Match", &tag)];
        let target = format!("/tasks/{id}");
        let patched = request(addr, "PATCH", &target, &headers, br#"{"done":true}"#);
        assert_eq!(patched.status, 200);
        assert_eq!(get(addr, "/docs").status, 200);
    });
    assert_eq!(correct, Vec::<String>::new());

    let taskd = Taskd::start(&["--quiet"], &[]);
    assert_eq!(get(taskd.addr(), "/").status, 404);
    let headers = [("Content-Type", "text/plain")];
    let response = request(taskd.addr(), "POST", "/tasks", &headers, b"{}");
    assert_eq!(response.status, 422);
    let stderr = taskd.stop();
    assert_eq!(hints(&stderr), Vec::<&str>::new(), "{stderr}");
}
