//! Uploading an attachment, `POST /tasks/{task_id}/attachment` (CONTRACT §9): reading the
//! multipart body and its 400s, which part counts as `file`, the 422s, the order of the checks,
//! the accepted part types, and the upload limit (§10). What is stored and served back
//! (filenames, bytes, chunked and `Expect: 100-continue` uploads, the download's headers) and
//! deleting attachments are in `tests/downloads.rs`.

use crate::common;
use common::*;

use std::net::SocketAddr;

use serde_json::{json, Value};

const TARGET: &str = "/tasks/1/attachment";
const TEXT_FILE_MSG: &str = "Value error, Expected UploadFile, received: <class 'str'>";
const INVALID: &str = "Invalid multipart data.";
const NO_BOUNDARY: &str = "Missing boundary in multipart.";
const NO_NAME: &str = "The Content-Disposition header field \"name\" must be provided.";
/// A text field may hold 1 MiB.
const MAX_TEXT: usize = 1024 * 1024;

// ---- helpers ----------------------------------------------------------------------------------

/// One part as raw bytes: the delimiter, `headers` verbatim, the blank line, `content`, CRLF.
fn raw_part(headers: &[u8], content: &[u8]) -> Vec<u8> {
    let delimiter = format!("--{BOUNDARY}\r\n");
    [delimiter.as_bytes(), headers, b"\r\n\r\n", content, b"\r\n"].concat()
}

/// The closing delimiter.
fn closing() -> Vec<u8> {
    format!("--{BOUNDARY}--\r\n").into_bytes()
}

/// A complete body of raw `parts`.
fn raw_body(parts: &[Vec<u8>]) -> Vec<u8> {
    [parts.concat(), closing()].concat()
}

/// A `text/plain` part whose Content-Disposition parameters after `form-data; ` are raw bytes.
fn part_with_params(params: &[u8], content: &[u8]) -> Vec<u8> {
    let headers = [
        b"Content-Disposition: form-data; ".as_slice(),
        params,
        b"\r\nContent-Type: text/plain",
    ]
    .concat();
    raw_part(&headers, content)
}

/// `count` parts: text fields `f0`, `f1`, … or, with `files`, `file` parts `0.txt`, `1.txt`, …
fn many_parts(count: usize, files: bool) -> Vec<Vec<u8>> {
    let params = |i| match files {
        true => format!("name=\"file\"; filename=\"{i}.txt\""),
        false => format!("name=\"f{i}\""),
    };
    (0..count)
        .map(|i| part_with_params(params(i).as_bytes(), b"x"))
        .collect()
}

/// POSTs `body` with `Content-Length` and this `Content-Type` (or none).
fn post_body(addr: SocketAddr, target: &str, content_type: Option<&str>, body: &[u8]) -> Response {
    let length = format!("Content-Length: {}", body.len());
    let type_line = content_type.map(|t| format!("Content-Type: {t}"));
    let mut lines = vec![length.as_str()];
    lines.extend(type_line.as_deref());
    let bytes = [request_head(addr, "POST", target, &lines), body.to_vec()].concat();
    send_raw(addr, &bytes)
}

/// `post_body` to `target` on a fresh server with task 1.
fn post_fresh(target: &str, content_type: Option<&str>, body: &[u8]) -> Response {
    let server = server_with_task();
    post_body(server.addr(), target, content_type, body)
}

/// A raw multipart `body` with `BOUNDARY` to task 1 on a fresh server.
fn post_form(body: &[u8]) -> Response {
    post_fresh(TARGET, Some(&form_type()), body)
}

/// `parts` to `target` on a fresh server with task 1.
fn post_parts(target: &str, parts: &[Part]) -> Response {
    let server = server_with_task();
    post_multipart(server.addr(), target, parts)
}

/// One `file` part to task 1 on a fresh server.
fn upload_fresh(filename: &str, content_type: Option<&str>, content: &[u8]) -> Response {
    let server = server_with_task();
    upload(server.addr(), 1, filename, content_type, content)
}

/// Task 1 (`Report`, defaults) as the exact JSON text, keys in the contract's order.
fn report(attachment: Option<(&str, usize)>) -> String {
    let attachment = match attachment {
        // `Value`'s Display is the JSON string, escapes included.
        Some((filename, size)) => {
            format!(r#"{{"filename":{},"size":{size}}}"#, Value::from(filename))
        }
        None => "null".to_owned(),
    };
    format!(
        r#"{{"id":1,"title":"Report","priority":"medium","done":false,"attachment":{attachment}}}"#
    )
}

/// A 200 whose body is exactly task 1 with this attachment.
fn assert_attached(response: &Response, filename: &str, size: usize) {
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.text(), report(Some((filename, size))));
}

/// Task 1's `attachment` as `GET /tasks/1` shows it.
fn attachment(addr: SocketAddr) -> Value {
    let response = get(addr, "/tasks/1");
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["attachment"].clone()
}

fn notes_attachment() -> Value {
    json!({"filename": "notes.txt", "size": 19})
}

/// Uploads `notes.txt` (19 bytes) to task 1 and checks the 200.
fn upload_notes(addr: SocketAddr) {
    let response = upload(
        addr,
        1,
        "notes.txt",
        Some("text/plain"),
        b"remember the milk\r\n",
    );
    assert_attached(&response, "notes.txt", 19);
}

/// A 422 with exactly these items.
fn assert_422(response: &Response, items: &[Value]) {
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.json(), json!({ "detail": items }));
}

fn missing_file() -> Value {
    json!({"type": "missing", "loc": ["body", "file"], "msg": "Field required", "input": null})
}

fn text_file(input: &str) -> Value {
    json!({
        "type": "value_error",
        "loc": ["body", "file"],
        "msg": TEXT_FILE_MSG,
        "input": input,
        "ctx": {"error": {}},
    })
}

/// A file part of type `content_type` is accepted.
fn assert_type_accepted(content_type: &str) {
    let response = upload_fresh("a.bin", Some(content_type), b"abc");
    assert_attached(&response, "a.bin", 3);
}

/// A file part whose raw `Content-Type` value is `content_type` is refused with a 400 that
/// echoes it, and nothing is attached.
fn assert_type_refused(content_type: &[u8]) {
    let server = server_with_task();
    let headers = [
        b"Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: "
            .as_slice(),
        content_type,
    ]
    .concat();
    let body = raw_body(&[raw_part(&headers, b"abc")]);
    let response = post_body(server.addr(), TARGET, Some(&form_type()), &body);
    let sent = String::from_utf8(content_type.to_vec()).expect("a UTF-8 type");
    assert_error(&response, 400, &format!("Unsupported file type: {sent}"));
    assert_eq!(attachment(server.addr()), Value::Null);
}

// ---- success ----------------------------------------------------------------------------------

fn upload_is_200_with_the_task_and_its_attachment() {
    let server = server_with_task();
    upload_notes(server.addr());
}

fn uploaded_attachment_shows_on_the_task() {
    let server = server_with_task();
    upload_notes(server.addr());
    let response = get(server.addr(), "/tasks/1");
    assert_eq!(response.text(), report(Some(("notes.txt", 19))));
}

fn uploaded_attachment_shows_in_the_list() {
    let server = server_with_task();
    create_task(server.addr(), "Other");
    upload_notes(server.addr());
    let list = get(server.addr(), "/tasks").json();
    assert_eq!(list[0]["attachment"], notes_attachment());
    assert_eq!(list[1]["attachment"], Value::Null);
}

fn upload_attaches_to_that_task_only() {
    let server = server_with_task();
    create_task(server.addr(), "Other");
    let response = upload(server.addr(), 2, "b.png", Some("image/png"), b"png");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.text(),
        concat!(
            r#"{"id":2,"title":"Other","priority":"medium","done":false,"#,
            r#""attachment":{"filename":"b.png","size":3}}"#
        )
    );
    assert_eq!(attachment(server.addr()), Value::Null);
}

fn upload_replaces_an_earlier_attachment() {
    let server = server_with_task();
    upload_notes(server.addr());
    let response = upload(server.addr(), 1, "photo.png", Some("image/png"), b"\x89PNG");
    assert_attached(&response, "photo.png", 4);
    let download = get(server.addr(), TARGET);
    assert_eq!(download.body, b"\x89PNG");
    assert_eq!(download.header("Content-Type"), Some("image/png"));
}

fn upload_of_an_unsupported_type_keeps_the_earlier_attachment() {
    let server = server_with_task();
    upload_notes(server.addr());
    let response = upload(server.addr(), 1, "a.pdf", Some("application/pdf"), b"%PDF");
    assert_error(&response, 400, "Unsupported file type: application/pdf");
    assert_eq!(attachment(server.addr()), notes_attachment());
    assert_eq!(get(server.addr(), TARGET).body, b"remember the milk\r\n");
}

fn upload_without_a_file_keeps_the_earlier_attachment() {
    let server = server_with_task();
    upload_notes(server.addr());
    let response = post_multipart(server.addr(), TARGET, &[Part::text("note", b"hi")]);
    assert_422(&response, &[missing_file()]);
    assert_eq!(attachment(server.addr()), notes_attachment());
}

fn unreadable_upload_keeps_the_earlier_attachment() {
    let server = server_with_task();
    upload_notes(server.addr());
    let body = multipart_body(&[Part::file("x.txt", None, b"x")]);
    let response = post_body(server.addr(), TARGET, Some("multipart/form-data"), &body);
    assert_error(&response, 400, NO_BOUNDARY);
    assert_eq!(attachment(server.addr()), notes_attachment());
}

fn empty_file_is_accepted_with_size_0() {
    let response = upload_fresh("empty.txt", Some("text/plain"), b"");
    assert_attached(&response, "empty.txt", 0);
}

fn other_text_fields_are_ignored() {
    let parts = [
        Part::text("title", b"Hijack"),
        Part::text("size", b"99"),
        Part::file("notes.txt", Some("text/plain"), b"abc"),
        Part::text("filename", b"evil.txt"),
    ];
    assert_attached(&post_parts(TARGET, &parts), "notes.txt", 3);
}

fn other_file_parts_are_ignored_whatever_their_type() {
    let other = Part {
        disposition: "form-data; name=\"other\"; filename=\"x.pdf\"",
        content_type: Some("application/pdf"),
        content: b"%PDF-1.7",
    };
    let parts = [Part::file("notes.txt", Some("text/plain"), b"abc"), other];
    assert_attached(&post_parts(TARGET, &parts), "notes.txt", 3);
}

fn query_string_is_ignored() {
    let parts = [Part::file("notes.txt", Some("text/plain"), b"abc")];
    let response = post_parts("/tasks/1/attachment?file=x&filename=evil.txt", &parts);
    assert_attached(&response, "notes.txt", 3);
}

// ---- order of checks: reading → 422 → 404 → 400 type ------------------------------------------

fn bad_id_with_a_valid_file_is_422_int_parsing_only() {
    let parts = [Part::file("notes.txt", Some("text/plain"), b"abc")];
    let response = post_parts("/tasks/abc/attachment", &parts);
    assert_422(&response, &[bad_id("abc")]);
}

/// The 422 comes before the type check.
fn bad_id_with_an_unsupported_type_is_422_int_parsing_only() {
    let parts = [Part::file("a.pdf", Some("application/pdf"), b"%PDF")];
    let response = post_parts("/tasks/1.5/attachment", &parts);
    assert_422(&response, &[bad_id("1.5")]);
}

fn bad_id_and_no_file_is_int_parsing_then_missing() {
    let response = post_parts("/tasks/abc/attachment", &[Part::text("note", b"hi")]);
    assert_422(&response, &[bad_id("abc"), missing_file()]);
}

fn bad_id_and_no_body_is_int_parsing_then_missing() {
    let response = post_fresh("/tasks/x/attachment", None, b"");
    assert_422(&response, &[bad_id("x"), missing_file()]);
}

fn bad_id_and_a_text_file_field_is_int_parsing_then_value_error() {
    let response = post_parts("/tasks/abc/attachment", &[Part::text("file", b"hello")]);
    assert_422(&response, &[bad_id("abc"), text_file("hello")]);
}

fn missing_task_with_a_supported_file_is_404() {
    let server = server_with_task();
    let response = upload(server.addr(), 2, "notes.txt", Some("text/plain"), b"abc");
    assert_error(&response, 404, "Task 2 not found");
}

/// The 404 comes before the type check.
fn missing_task_with_an_unsupported_type_is_404() {
    let server = server_with_task();
    let response = upload(server.addr(), 7, "a.pdf", Some("application/pdf"), b"%PDF");
    assert_error(&response, 404, "Task 7 not found");
}

fn missing_task_id_is_reported_in_canonical_form() {
    let parts = [Part::file("notes.txt", Some("text/plain"), b"abc")];
    let response = post_parts("/tasks/+0009/attachment", &parts);
    assert_error(&response, 404, "Task 9 not found");
}

/// The 422 comes before the 404.
fn missing_task_and_no_file_is_422_missing() {
    let response = post_parts("/tasks/9/attachment", &[Part::text("note", b"hi")]);
    assert_422(&response, &[missing_file()]);
}

fn deleted_task_cannot_get_an_attachment() {
    let server = server_with_task();
    assert_eq!(delete(server.addr(), "/tasks/1").status, 204);
    let response = upload(server.addr(), 1, "notes.txt", Some("text/plain"), b"abc");
    assert_error(&response, 404, "Task 1 not found");
}

/// Reading errors come first, before the id is judged.
fn unreadable_body_on_a_bad_id_is_400() {
    let body = multipart_body(&[Part::file("x.txt", None, b"x")]);
    let response = post_fresh("/tasks/abc/attachment", Some("multipart/form-data"), &body);
    assert_error(&response, 400, NO_BOUNDARY);
}

/// Reading errors come first, before the task is looked up.
fn unreadable_body_on_a_missing_task_is_400() {
    let body = [b"preamble\r\n".as_slice(), &closing()].concat();
    let response = post_fresh("/tasks/9/attachment", Some(&form_type()), &body);
    assert_error(&response, 400, INVALID);
}

// ---- reading the body: 400s -------------------------------------------------------------------

fn upload_without_boundary_is_400() {
    let body = multipart_body(&[Part::file("x.txt", None, b"x")]);
    let response = post_fresh(TARGET, Some("multipart/form-data"), &body);
    assert_error(&response, 400, NO_BOUNDARY);
}

fn upload_with_another_boundary_is_400_invalid() {
    let body = multipart_body(&[Part::file("x.txt", None, b"x")]);
    let response = post_fresh(TARGET, Some("multipart/form-data; boundary=Other"), &body);
    assert_error(&response, 400, INVALID);
}

fn upload_with_empty_boundary_is_400_invalid() {
    let body = multipart_body(&[Part::file("x.txt", None, b"x")]);
    let response = post_fresh(TARGET, Some("multipart/form-data; boundary="), &body);
    assert_error(&response, 400, INVALID);
}

fn upload_with_empty_quoted_boundary_is_400_invalid() {
    let body = multipart_body(&[Part::file("x.txt", None, b"x")]);
    let response = post_fresh(TARGET, Some("multipart/form-data; boundary=\"\""), &body);
    assert_error(&response, 400, INVALID);
}

fn text_before_the_first_delimiter_is_400_invalid() {
    let parts = [Part::file("x.txt", Some("text/plain"), b"x")];
    let body = [
        b"This is a preamble.\r\n".as_slice(),
        &multipart_body(&parts),
    ]
    .concat();
    assert_error(&post_form(&body), 400, INVALID);
}

fn part_without_blank_line_after_its_headers_is_400_invalid() {
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"\r\n\
         Content-Type: text/plain\r\nhello\r\n--{BOUNDARY}--\r\n"
    );
    assert_error(&post_form(body.as_bytes()), 400, INVALID);
}

fn part_without_name_is_400() {
    let part = Part {
        disposition: "form-data; filename=\"x.txt\"",
        content_type: Some("text/plain"),
        content: b"x",
    };
    assert_error(&post_parts(TARGET, &[part]), 400, NO_NAME);
}

/// Assumed: a part with no `Content-Disposition` at all has no `name` either.
fn part_without_content_disposition_is_400_no_name() {
    let body = raw_body(&[raw_part(b"Content-Type: text/plain", b"x")]);
    assert_error(&post_form(&body), 400, NO_NAME);
}

fn text_field_over_1_mib_is_400() {
    let big = vec![b'a'; MAX_TEXT + 1];
    let parts = [
        Part::text("note", &big),
        Part::file("x.txt", Some("text/plain"), b"x"),
    ];
    let response = post_form(&multipart_body(&parts));
    assert_error(&response, 400, "Part exceeded maximum size of 1024KB.");
}

fn text_field_of_exactly_1_mib_is_fine() {
    let big = vec![b'a'; MAX_TEXT];
    let parts = [
        Part::text("note", &big),
        Part::file("x.txt", Some("text/plain"), b"x"),
    ];
    assert_attached(&post_form(&multipart_body(&parts)), "x.txt", 1);
}

fn more_than_1000_text_fields_is_400() {
    let mut parts = many_parts(1001, false);
    parts.push(part_with_params(b"name=\"file\"; filename=\"x.txt\"", b"x"));
    let response = post_form(&raw_body(&parts));
    let detail = "Too many fields. Maximum number of fields is 1000.";
    assert_error(&response, 400, detail);
}

fn exactly_1000_text_fields_are_fine() {
    let mut parts = many_parts(1000, false);
    parts.push(part_with_params(b"name=\"file\"; filename=\"x.txt\"", b"x"));
    assert_attached(&post_form(&raw_body(&parts)), "x.txt", 1);
}

fn more_than_1000_file_parts_is_400() {
    let response = post_form(&raw_body(&many_parts(1001, true)));
    let detail = "Too many files. Maximum number of files is 1000.";
    assert_error(&response, 400, detail);
}

/// The last of them counts.
fn exactly_1000_file_parts_are_fine() {
    let response = post_form(&raw_body(&many_parts(1000, true)));
    assert_attached(&response, "999.txt", 1);
}

// ---- no closing delimiter ---------------------------------------------------------------------

fn unterminated_last_part_is_ignored() {
    let first = part_with_params(b"name=\"file\"; filename=\"kept.txt\"", b"kept");
    let last = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lost.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nthe body ends here"
    );
    let response = post_form(&[first, last.into_bytes()].concat());
    assert_attached(&response, "kept.txt", 4);
}

fn complete_part_before_a_bare_final_delimiter_is_kept() {
    let first = part_with_params(b"name=\"file\"; filename=\"kept.txt\"", b"kept");
    let response = post_form(&[first, format!("--{BOUNDARY}\r\n").into_bytes()].concat());
    assert_attached(&response, "kept.txt", 4);
}

fn unterminated_only_part_is_422_missing() {
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lost.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nthe body ends here"
    );
    assert_422(&post_form(body.as_bytes()), &[missing_file()]);
}

// ---- the part that counts ---------------------------------------------------------------------

fn second_file_part_wins() {
    let server = server_with_task();
    let parts = [
        Part::file("first.txt", Some("text/plain"), b"one"),
        Part::file("second.png", Some("image/png"), b"second"),
    ];
    let response = post_multipart(server.addr(), TARGET, &parts);
    assert_attached(&response, "second.png", 6);
    assert_eq!(get(server.addr(), TARGET).body, b"second");
}

/// The last `file` wins even when an earlier one had an unsupported type.
fn supported_file_after_an_unsupported_one_wins() {
    let parts = [
        Part::file("a.pdf", Some("application/pdf"), b"%PDF"),
        Part::file("b.txt", Some("text/plain"), b"b"),
    ];
    assert_attached(&post_parts(TARGET, &parts), "b.txt", 1);
}

fn text_file_field_after_a_file_part_is_value_error() {
    let parts = [
        Part::file("a.txt", Some("text/plain"), b"a"),
        Part::text("file", b"just text"),
    ];
    assert_422(&post_parts(TARGET, &parts), &[text_file("just text")]);
}

fn empty_text_file_field_after_a_file_part_is_missing() {
    let parts = [
        Part::file("a.txt", Some("text/plain"), b"a"),
        Part::text("file", b""),
    ];
    assert_422(&post_parts(TARGET, &parts), &[missing_file()]);
}

fn file_part_after_a_text_file_field_wins() {
    let parts = [
        Part::text("file", b"just text"),
        Part::file("a.txt", Some("text/plain"), b"a"),
    ];
    assert_attached(&post_parts(TARGET, &parts), "a.txt", 1);
}

/// The name must be exactly `file`.
fn part_named_file_in_another_case_does_not_count() {
    let part = Part {
        disposition: "form-data; name=\"File\"; filename=\"a.txt\"",
        content_type: Some("text/plain"),
        content: b"a",
    };
    assert_422(&post_parts(TARGET, &[part]), &[missing_file()]);
}

/// Differs from FastAPI, which reads a `filename*`-only part as a text field.
fn filename_star_only_part_is_a_file() {
    let part = Part {
        disposition: "form-data; name=\"file\"; filename*=UTF-8''notes.txt",
        content_type: Some("text/plain"),
        content: b"abc",
    };
    assert_attached(&post_parts(TARGET, &[part]), "notes.txt", 3);
}

fn empty_filename_and_no_content_is_missing() {
    let response = upload_fresh("", Some("text/plain"), b"");
    assert_422(&response, &[missing_file()]);
}

/// A browser's "no file chosen" part is typed `application/octet-stream`: still a 422, not a 400.
fn browser_no_file_chosen_is_missing() {
    let response = upload_fresh("", Some("application/octet-stream"), b"");
    assert_422(&response, &[missing_file()]);
}

fn empty_filename_with_content_is_a_file() {
    let response = upload_fresh("", Some("text/plain"), b"abc");
    assert_attached(&response, "", 3);
}

fn named_empty_file_is_a_file() {
    assert_attached(&upload_fresh("a.txt", None, b""), "a.txt", 0);
}

fn no_file_part_is_422_missing() {
    let response = post_parts(TARGET, &[Part::text("note", b"x")]);
    assert_422(&response, &[missing_file()]);
}

fn multipart_body_without_parts_is_422_missing() {
    assert_422(&post_form(&closing()), &[missing_file()]);
}

fn empty_text_file_field_is_missing() {
    let response = post_parts(TARGET, &[Part::text("file", b"")]);
    assert_422(&response, &[missing_file()]);
}

fn non_empty_text_file_field_is_value_error() {
    let response = post_parts(TARGET, &[Part::text("file", b"hello")]);
    assert_422(&response, &[text_file("hello")]);
}

/// A part with a `Content-Type` but no `filename` is still a text field.
fn typed_text_file_field_is_value_error() {
    let part = Part {
        disposition: "form-data; name=\"file\"",
        content_type: Some("image/png"),
        content: b"png?",
    };
    assert_422(&post_parts(TARGET, &[part]), &[text_file("png?")]);
}

fn form_urlencoded_file_is_value_error() {
    let content_type = Some("application/x-www-form-urlencoded");
    let response = post_fresh(TARGET, content_type, b"file=x");
    assert_422(&response, &[text_file("x")]);
}

fn form_urlencoded_without_file_is_missing() {
    let content_type = Some("application/x-www-form-urlencoded");
    let response = post_fresh(TARGET, content_type, b"name=notes.txt");
    assert_422(&response, &[missing_file()]);
}

fn json_body_is_missing() {
    let body = br#"{"file": "notes.txt"}"#;
    let response = post_fresh(TARGET, Some("application/json"), body);
    assert_422(&response, &[missing_file()]);
}

fn text_plain_body_is_missing() {
    let response = post_fresh(TARGET, Some("text/plain"), b"file=x");
    assert_422(&response, &[missing_file()]);
}

fn multipart_mixed_body_is_missing() {
    let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), b"a")]);
    let content_type = format!("multipart/mixed; boundary={BOUNDARY}");
    let response = post_fresh(TARGET, Some(&content_type), &body);
    assert_422(&response, &[missing_file()]);
}

fn no_body_is_missing() {
    assert_422(&post_fresh(TARGET, None, b""), &[missing_file()]);
}

fn multipart_body_without_content_type_is_missing() {
    let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), b"a")]);
    assert_422(&post_fresh(TARGET, None, &body), &[missing_file()]);
}

// ---- the request's media type -----------------------------------------------------------------

/// RFC 9110 §8.3.1: media types are case-insensitive.
fn request_media_type_is_case_insensitive() {
    let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), b"a")]);
    let content_type = format!("Multipart/Form-DATA; boundary={BOUNDARY}");
    let response = post_fresh(TARGET, Some(&content_type), &body);
    assert_attached(&response, "a.txt", 1);
}

fn quoted_boundary_is_accepted() {
    let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), b"a")]);
    let content_type = format!("multipart/form-data; boundary=\"{BOUNDARY}\"");
    let response = post_fresh(TARGET, Some(&content_type), &body);
    assert_attached(&response, "a.txt", 1);
}

/// RFC 2046 §5.1.1: a boundary may contain spaces, if quoted.
fn quoted_boundary_with_a_space_is_accepted() {
    let body = "--a b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n\
                a\r\n--a b--\r\n";
    let content_type = Some("multipart/form-data; boundary=\"a b\"");
    let response = post_fresh(TARGET, content_type, body.as_bytes());
    assert_attached(&response, "a.txt", 1);
}

// ---- part types -------------------------------------------------------------------------------

fn text_plain_is_accepted() {
    assert_type_accepted("text/plain");
}

fn text_plain_with_charset_is_accepted() {
    assert_type_accepted("text/plain; charset=utf-8");
}

fn uppercase_image_png_is_accepted() {
    assert_type_accepted("IMAGE/PNG");
}

fn image_jpeg_is_accepted() {
    assert_type_accepted("image/jpeg");
}

/// RFC 7578 §4.4: a part without `Content-Type` is `text/plain`.
fn part_without_content_type_is_accepted() {
    assert_attached(&upload_fresh("a.txt", None, b"abc"), "a.txt", 3);
}

fn application_pdf_is_400() {
    assert_type_refused(b"application/pdf");
}

fn application_octet_stream_is_400() {
    assert_type_refused(b"application/octet-stream");
}

fn image_jpg_is_400() {
    assert_type_refused(b"image/jpg");
}

fn image_gif_is_400() {
    assert_type_refused(b"image/gif");
}

fn refused_type_is_echoed_exactly_as_sent() {
    assert_type_refused(b"Application/PDF; name=\"x\"");
}

fn type_with_a_non_ascii_character_is_400() {
    assert_type_refused("text/plain; charset=\"ütf-8\"".as_bytes());
}

fn type_with_a_tab_is_400() {
    assert_type_refused(b"text/plain;\tcharset=utf-8");
}

/// The contract's "control characters" include U+0001, which a part header can carry.
fn type_with_a_control_character_is_400() {
    assert_type_refused(b"text/plain\x01");
}

// ---- upload limit (CONTRACT §10) --------------------------------------------------------------

fn server_with_limit_10() -> TestServer {
    let config = taskd::Config::ephemeral().with_max_upload_bytes(10);
    let server = spawn_server_with(config);
    assert_eq!(create_task(server.addr(), "Report"), 1);
    server
}

fn file_over_the_upload_limit_is_413() {
    let server = server_with_limit_10();
    let response = upload(
        server.addr(),
        1,
        "a.txt",
        Some("text/plain"),
        b"0123456789A",
    );
    assert_error(&response, 413, "File too large (limit 10 bytes)");
    assert_eq!(attachment(server.addr()), Value::Null);
}

fn file_at_the_upload_limit_is_accepted() {
    let server = server_with_limit_10();
    let response = upload(server.addr(), 1, "a.txt", Some("text/plain"), b"0123456789");
    assert_attached(&response, "a.txt", 10);
}

// Every test above, once per storage backend (tests/common/backend.rs).
backend_tests! {
    upload_is_200_with_the_task_and_its_attachment,
    uploaded_attachment_shows_on_the_task,
    uploaded_attachment_shows_in_the_list,
    upload_attaches_to_that_task_only,
    upload_replaces_an_earlier_attachment,
    upload_of_an_unsupported_type_keeps_the_earlier_attachment,
    upload_without_a_file_keeps_the_earlier_attachment,
    unreadable_upload_keeps_the_earlier_attachment,
    empty_file_is_accepted_with_size_0,
    other_text_fields_are_ignored,
    other_file_parts_are_ignored_whatever_their_type,
    query_string_is_ignored,
    bad_id_with_a_valid_file_is_422_int_parsing_only,
    bad_id_with_an_unsupported_type_is_422_int_parsing_only,
    bad_id_and_no_file_is_int_parsing_then_missing,
    bad_id_and_no_body_is_int_parsing_then_missing,
    bad_id_and_a_text_file_field_is_int_parsing_then_value_error,
    missing_task_with_a_supported_file_is_404,
    missing_task_with_an_unsupported_type_is_404,
    missing_task_id_is_reported_in_canonical_form,
    missing_task_and_no_file_is_422_missing,
    deleted_task_cannot_get_an_attachment,
    unreadable_body_on_a_bad_id_is_400,
    unreadable_body_on_a_missing_task_is_400,
    upload_without_boundary_is_400,
    upload_with_another_boundary_is_400_invalid,
    upload_with_empty_boundary_is_400_invalid,
    upload_with_empty_quoted_boundary_is_400_invalid,
    text_before_the_first_delimiter_is_400_invalid,
    part_without_blank_line_after_its_headers_is_400_invalid,
    part_without_name_is_400,
    part_without_content_disposition_is_400_no_name,
    text_field_over_1_mib_is_400,
    text_field_of_exactly_1_mib_is_fine,
    more_than_1000_text_fields_is_400,
    exactly_1000_text_fields_are_fine,
    more_than_1000_file_parts_is_400,
    exactly_1000_file_parts_are_fine,
    unterminated_last_part_is_ignored,
    complete_part_before_a_bare_final_delimiter_is_kept,
    unterminated_only_part_is_422_missing,
    second_file_part_wins,
    supported_file_after_an_unsupported_one_wins,
    text_file_field_after_a_file_part_is_value_error,
    empty_text_file_field_after_a_file_part_is_missing,
    file_part_after_a_text_file_field_wins,
    part_named_file_in_another_case_does_not_count,
    filename_star_only_part_is_a_file,
    empty_filename_and_no_content_is_missing,
    browser_no_file_chosen_is_missing,
    empty_filename_with_content_is_a_file,
    named_empty_file_is_a_file,
    no_file_part_is_422_missing,
    multipart_body_without_parts_is_422_missing,
    empty_text_file_field_is_missing,
    non_empty_text_file_field_is_value_error,
    typed_text_file_field_is_value_error,
    form_urlencoded_file_is_value_error,
    form_urlencoded_without_file_is_missing,
    json_body_is_missing,
    text_plain_body_is_missing,
    multipart_mixed_body_is_missing,
    no_body_is_missing,
    multipart_body_without_content_type_is_missing,
    request_media_type_is_case_insensitive,
    quoted_boundary_is_accepted,
    quoted_boundary_with_a_space_is_accepted,
    text_plain_is_accepted,
    text_plain_with_charset_is_accepted,
    uppercase_image_png_is_accepted,
    image_jpeg_is_accepted,
    part_without_content_type_is_accepted,
    application_pdf_is_400,
    application_octet_stream_is_400,
    image_jpg_is_400,
    image_gif_is_400,
    refused_type_is_echoed_exactly_as_sent,
    type_with_a_non_ascii_character_is_400,
    type_with_a_tab_is_400,
    type_with_a_control_character_is_400,
    file_over_the_upload_limit_is_413,
    file_at_the_upload_limit_is_accepted,
}
