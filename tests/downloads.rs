//! Attachments as stored and served back (CONTRACT §9): filenames as decoded on upload, the
//! exact bytes (also from chunked and `Expect: 100-continue` uploads), the download's
//! `Content-Type`, `Content-Length` and `Content-Disposition`, HEAD, and
//! `DELETE /tasks/{task_id}/attachment`. Upload validation is in `tests/attachments.rs`.

use crate::common;
use common::*;

use std::net::SocketAddr;

use serde_json::{json, Value};

const TARGET: &str = "/tasks/1/attachment";
const NO_ATTACHMENT: &str = "Task 1 has no attachment";

// ---- helpers ----------------------------------------------------------------------------------

/// A complete body of one `text/plain` `file` part whose Content-Disposition parameters after
/// `form-data; ` are raw bytes.
fn body_with_params(params: &[u8], content: &[u8]) -> Vec<u8> {
    [
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; ").as_bytes(),
        params,
        b"\r\nContent-Type: text/plain\r\n\r\n",
        content,
        format!("\r\n--{BOUNDARY}--\r\n").as_bytes(),
    ]
    .concat()
}

/// POSTs a raw multipart `body` with `BOUNDARY` and `Content-Length` to task 1.
fn post_form(addr: SocketAddr, body: &[u8]) -> Response {
    let type_line = format!("Content-Type: {}", form_type());
    let length = format!("Content-Length: {}", body.len());
    let head = request_head(addr, "POST", TARGET, &[&type_line, &length]);
    send_raw(addr, &[head, body.to_vec()].concat())
}

/// Uploads one `file` part to task 1 and checks the 200 and the size.
fn attach(addr: SocketAddr, filename: &str, content_type: Option<&str>, content: &[u8]) {
    let body = multipart_body(&[Part::file(filename, content_type, content)]);
    let response = post_form(addr, &body);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.json()["attachment"]["size"],
        json!(content.len()),
        "{}",
        response.text()
    );
}

/// Uploads a file part with these raw Content-Disposition parameters to task 1 (200 expected).
fn attach_with_params(addr: SocketAddr, params: &[u8]) {
    let response = post_form(addr, &body_with_params(params, b"x"));
    assert_eq!(response.status, 200, "{}", response.text());
}

/// A 200 whose task has exactly this attachment.
fn assert_attached(response: &Response, filename: &str, size: usize) {
    assert_eq!(response.status, 200, "{}", response.text());
    let expected = json!({ "filename": filename, "size": size });
    assert_eq!(response.json()["attachment"], expected);
}

/// Uploads `notes.txt` (19 bytes of `text/plain`) to task 1.
fn attach_notes(addr: SocketAddr) {
    attach(
        addr,
        "notes.txt",
        Some("text/plain"),
        b"remember the milk\r\n",
    );
}

/// A 200 download of exactly `content`, framed by `Content-Length`.
fn assert_download(response: &Response, content: &[u8]) {
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("Transfer-Encoding"), None, "sent chunked");
    let length = content.len().to_string();
    assert_eq!(response.header("Content-Length"), Some(length.as_str()));
    assert!(response.body == content, "the bytes differ");
}

/// The download's `Content-Disposition` for a file uploaded with these raw parameters.
fn disposition_for(params: &[u8]) -> String {
    let server = server_with_task();
    attach_with_params(server.addr(), params);
    let response = get(server.addr(), TARGET);
    assert_eq!(response.status, 200, "{}", response.text());
    response
        .header("Content-Disposition")
        .expect("a Content-Disposition")
        .to_owned()
}

/// The filename the server keeps for a file part with these raw disposition parameters.
fn stored_filename(params: &[u8]) -> Value {
    let server = server_with_task();
    let response = post_form(server.addr(), &body_with_params(params, b"x"));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["attachment"]["size"], json!(1));
    response.json()["attachment"]["filename"].clone()
}

/// A 422 whose only item is `int_parsing` for this path segment.
fn assert_bad_id(response: &Response, input: &str) {
    assert_eq!(response.status, 422, "{}", response.text());
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.json(), json!({ "detail": [bad_id(input)] }));
}

/// A tiny xorshift PRNG, for reproducible pseudo-random bytes.
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

// ---- download: errors -------------------------------------------------------------------------

fn download_with_a_bad_id_is_422() {
    let server = server_with_task();
    assert_bad_id(&get(server.addr(), "/tasks/abc/attachment"), "abc");
}

fn download_of_a_missing_task_is_404() {
    let server = server_with_task();
    let response = get(server.addr(), "/tasks/5/attachment");
    assert_error(&response, 404, "Task 5 not found");
}

fn download_of_a_missing_task_names_its_canonical_id() {
    let server = server_with_task();
    let response = get(server.addr(), "/tasks/+007/attachment");
    assert_error(&response, 404, "Task 7 not found");
}

fn download_without_an_attachment_is_404() {
    let server = server_with_task();
    assert_error(&get(server.addr(), TARGET), 404, NO_ATTACHMENT);
}

// ---- download: bytes --------------------------------------------------------------------------

fn download_keeps_bytes_exactly() {
    let server = server_with_task();
    // CRLFs, blank lines and near-delimiters, but never `CRLF--BOUNDARY` itself.
    let almost = &BOUNDARY[..BOUNDARY.len() - 1];
    let content = format!(
        "line one\r\nline two\r\n\r\nx--{BOUNDARY}\r\n\r\n-{BOUNDARY}--\r\n--{almost}Z\r\n--\r\n\r"
    );
    attach(
        server.addr(),
        "notes.txt",
        Some("text/plain"),
        content.as_bytes(),
    );
    assert_download(&get(server.addr(), TARGET), content.as_bytes());
}

fn download_keeps_all_256_byte_values() {
    let server = server_with_task();
    let content: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    attach(server.addr(), "bytes.bin", Some("image/png"), &content);
    assert_download(&get(server.addr(), TARGET), &content);
}

fn download_of_a_3_mib_file_is_exact() {
    let server = server_with_task();
    let content = pseudo_random_bytes(3 << 20);
    attach(server.addr(), "big.png", Some("image/png"), &content);
    assert_download(&get(server.addr(), TARGET), &content);
}

fn download_of_an_empty_file_has_length_0() {
    let server = server_with_task();
    attach(server.addr(), "empty.txt", Some("text/plain"), b"");
    assert_download(&get(server.addr(), TARGET), b"");
}

fn download_after_a_replacement_serves_the_new_file() {
    let server = server_with_task();
    attach_notes(server.addr());
    attach(
        server.addr(),
        "new.jpg",
        Some("image/jpeg"),
        b"\xff\xd8\xff",
    );
    let response = get(server.addr(), TARGET);
    assert_download(&response, b"\xff\xd8\xff");
    assert_eq!(response.header("Content-Type"), Some("image/jpeg"));
    let disposition = response.header("Content-Disposition");
    assert_eq!(disposition, Some("attachment; filename=\"new.jpg\""));
}

// ---- download: Content-Type -------------------------------------------------------------------

fn download_type_is_exactly_as_sent() {
    let server = server_with_task();
    attach(server.addr(), "a.png", Some("IMAGE/PNG"), b"png");
    let response = get(server.addr(), TARGET);
    assert_eq!(response.header("Content-Type"), Some("IMAGE/PNG"));
}

fn download_type_keeps_its_parameters() {
    let server = server_with_task();
    attach(
        server.addr(),
        "a.txt",
        Some("text/plain; charset=utf-8"),
        b"a",
    );
    let response = get(server.addr(), TARGET);
    let content_type = response.header("Content-Type");
    assert_eq!(content_type, Some("text/plain; charset=utf-8"));
}

/// Differs from FastAPI, which appends `; charset=utf-8` to `text/plain`.
fn download_of_text_plain_gets_no_charset_added() {
    let server = server_with_task();
    attach_notes(server.addr());
    let response = get(server.addr(), TARGET);
    assert_eq!(response.header("Content-Type"), Some("text/plain"));
}

/// RFC 7578 §4.4: a part without `Content-Type` is `text/plain`.
fn download_without_a_part_type_is_text_plain() {
    let server = server_with_task();
    attach(server.addr(), "a.txt", None, b"abc");
    let response = get(server.addr(), TARGET);
    assert_download(&response, b"abc");
    assert_eq!(response.header("Content-Type"), Some("text/plain"));
}

// ---- download: Content-Disposition (RFC 6266, RFC 8187) ---------------------------------------

fn disposition_of_a_plain_name() {
    let disposition = disposition_for(br#"name="file"; filename="notes.txt""#);
    assert_eq!(disposition, "attachment; filename=\"notes.txt\"");
}

fn disposition_escapes_quotes() {
    let disposition = disposition_for(br#"name="file"; filename="say \"hi\".txt""#);
    assert_eq!(disposition, r#"attachment; filename="say \"hi\".txt""#);
}

fn disposition_of_a_latin_name_has_a_fallback_and_filename_star() {
    let disposition = disposition_for("name=\"file\"; filename=\"résumé.txt\"".as_bytes());
    assert_eq!(
        disposition,
        "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    );
}

/// One `_` per character, not per byte.
fn disposition_of_an_emoji_name_has_one_underscore_for_it() {
    let disposition = disposition_for("name=\"file\"; filename=\"😀.txt\"".as_bytes());
    assert_eq!(
        disposition,
        "attachment; filename=\"_.txt\"; filename*=UTF-8''%F0%9F%98%80.txt"
    );
}

/// RFC 8187 §3.2.1: only `attr-char`s stay unencoded; the fallback keeps printable ASCII.
fn disposition_encodes_everything_but_attr_chars() {
    let params = "name=\"file\"; filename=\"naïve (1) a&b+c~d's.txt\"";
    let disposition = disposition_for(params.as_bytes());
    assert_eq!(
        disposition,
        "attachment; filename=\"na_ve (1) a&b+c~d's.txt\"; \
         filename*=UTF-8''na%C3%AFve%20%281%29%20a&b+c~d%27s.txt"
    );
}

fn disposition_of_an_empty_name() {
    let disposition = disposition_for(br#"name="file"; filename="""#);
    assert_eq!(disposition, "attachment; filename=\"\"");
}

// ---- HEAD -------------------------------------------------------------------------------------

/// RFC 9110 §9.3.2: GET's status and headers, no body.
fn head_on_a_download_is_its_headers_without_body() {
    let server = server_with_task();
    attach_notes(server.addr());
    let get_response = get(server.addr(), TARGET);
    let response = request(server.addr(), "HEAD", TARGET, &[], b"");
    assert_eq!(response.status, 200);
    assert_eq!(without_date(&response), without_date(&get_response));
    assert_eq!(response.header("Content-Length"), Some("19"));
    assert_eq!(after_head(&response), b"");
}

fn head_on_a_missing_attachment_is_the_404_without_body() {
    let server = server_with_task();
    let get_response = get(server.addr(), TARGET);
    let response = request(server.addr(), "HEAD", TARGET, &[], b"");
    assert_eq!(response.status, 404);
    assert_eq!(without_date(&response), without_date(&get_response));
    assert_eq!(after_head(&response), b"");
}

// ---- DELETE /tasks/{task_id}/attachment -------------------------------------------------------

/// RFC 9110 §8.6 and §15.3.5: a 204 has no body, so no Content-Type and no Content-Length.
fn delete_attachment_is_a_bare_204() {
    let server = server_with_task();
    attach_notes(server.addr());
    let response = delete(server.addr(), TARGET);
    assert_eq!(response.status, 204, "{}", response.text());
    let raw = String::from_utf8_lossy(&response.raw);
    assert!(raw.starts_with("HTTP/1.1 204 No Content\r\n"), "{raw:?}");
    assert!(raw.ends_with("\r\n\r\n"), "{raw:?}");
    for name in ["Content-Type", "Content-Length", "Transfer-Encoding"] {
        assert_eq!(response.header(name), None, "{name} in {raw:?}");
    }
    assert_eq!(after_head(&response), b"");
}

fn deleted_attachment_is_null_on_the_task() {
    let server = server_with_task();
    attach_notes(server.addr());
    assert_eq!(delete(server.addr(), TARGET).status, 204);
    assert_eq!(
        get(server.addr(), "/tasks/1").text(),
        r#"{"id":1,"title":"Report","priority":"medium","done":false,"attachment":null}"#
    );
}

fn download_after_delete_is_404_no_attachment() {
    let server = server_with_task();
    attach_notes(server.addr());
    assert_eq!(delete(server.addr(), TARGET).status, 204);
    assert_error(&get(server.addr(), TARGET), 404, NO_ATTACHMENT);
}

fn second_delete_is_404_no_attachment() {
    let server = server_with_task();
    attach_notes(server.addr());
    assert_eq!(delete(server.addr(), TARGET).status, 204);
    assert_error(&delete(server.addr(), TARGET), 404, NO_ATTACHMENT);
}

fn delete_of_a_never_uploaded_attachment_is_404() {
    let server = server_with_task();
    assert_error(&delete(server.addr(), TARGET), 404, NO_ATTACHMENT);
}

fn delete_attachment_of_a_missing_task_is_404() {
    let server = server_with_task();
    let response = delete(server.addr(), "/tasks/2/attachment");
    assert_error(&response, 404, "Task 2 not found");
}

fn delete_attachment_with_a_bad_id_is_422() {
    let server = server_with_task();
    assert_bad_id(&delete(server.addr(), "/tasks/1e3/attachment"), "1e3");
}

fn upload_after_delete_attaches_again() {
    let server = server_with_task();
    attach_notes(server.addr());
    assert_eq!(delete(server.addr(), TARGET).status, 204);
    attach(server.addr(), "again.txt", Some("text/plain"), b"again");
    assert_download(&get(server.addr(), TARGET), b"again");
}

fn deleting_the_task_removes_its_attachment() {
    let server = server_with_task();
    attach_notes(server.addr());
    assert_eq!(delete(server.addr(), "/tasks/1").status, 204);
    assert_error(&get(server.addr(), TARGET), 404, "Task 1 not found");
}

fn new_task_does_not_inherit_a_deleted_tasks_attachment() {
    let server = server_with_task();
    attach_notes(server.addr());
    assert_eq!(delete(server.addr(), "/tasks/1").status, 204);
    assert_eq!(create_task(server.addr(), "Report"), 2);
    let task = get(server.addr(), "/tasks/2").json();
    assert_eq!(task["attachment"], Value::Null);
    let response = get(server.addr(), "/tasks/2/attachment");
    assert_error(&response, 404, "Task 2 has no attachment");
}

/// CONTRACT §8: PATCH answers with the whole task, attachment included.
fn patch_keeps_the_attachment() {
    let server = server_with_task();
    attach_notes(server.addr());
    let response = patch_json(server.addr(), "/tasks/1", r#"{"done":true}"#);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.text(),
        concat!(
            r#"{"id":1,"title":"Report","priority":"medium","done":true,"#,
            r#""attachment":{"filename":"notes.txt","size":19}}"#
        )
    );
    assert_download(&get(server.addr(), TARGET), b"remember the milk\r\n");
}

// ---- filenames as stored ----------------------------------------------------------------------

fn escaped_quote_in_filename_is_unescaped() {
    let name = stored_filename(br#"name="file"; filename="say \"hi\".txt""#);
    assert_eq!(name, json!("say \"hi\".txt"));
}

/// `\\` is one backslash (then the path rule drops everything up to it), `\"` one quote.
fn escaped_backslash_in_filename_is_unescaped() {
    let name = stored_filename(br#"name="file"; filename="a\\\"b.txt""#);
    assert_eq!(name, json!("\"b.txt"));
}

fn utf8_filename_is_kept() {
    let name = stored_filename("name=\"file\"; filename=\"résumé 😀.txt\"".as_bytes());
    assert_eq!(name, json!("résumé 😀.txt"));
}

fn filename_that_is_not_utf8_is_read_as_latin1() {
    let name = stored_filename(b"name=\"file\"; filename=\"r\xe9sum\xe9.txt\"");
    assert_eq!(name, json!("résumé.txt"));
}

/// RFC 8187 §3.2.
fn filename_star_is_percent_decoded_utf8() {
    let params = b"name=\"file\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%F0%9F%98%80.txt";
    assert_eq!(stored_filename(params), json!("résumé 😀.txt"));
}

fn filename_wins_over_filename_star() {
    let params = b"name=\"file\"; filename*=UTF-8''star.txt; filename=\"plain.txt\"";
    assert_eq!(stored_filename(params), json!("plain.txt"));
}

fn filename_wins_over_a_later_filename_star() {
    let params = b"name=\"file\"; filename=\"plain.txt\"; filename*=UTF-8''star.txt";
    assert_eq!(stored_filename(params), json!("plain.txt"));
}

fn unix_path_is_stripped_from_filename() {
    let name = stored_filename(br#"name="file"; filename="../../etc/passwd""#);
    assert_eq!(name, json!("passwd"));
}

fn windows_path_is_stripped_from_filename() {
    let name = stored_filename(br#"name="file"; filename="C:\Users\me\a.txt""#);
    assert_eq!(name, json!("a.txt"));
}

fn directory_is_stripped_from_filename() {
    let name = stored_filename(br#"name="file"; filename="dir/f.txt""#);
    assert_eq!(name, json!("f.txt"));
}

fn encoded_path_in_filename_star_is_stripped() {
    let name = stored_filename(b"name=\"file\"; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd");
    assert_eq!(name, json!("passwd"));
}

fn filename_that_is_only_a_path_becomes_empty() {
    let name = stored_filename(br#"name="file"; filename="dir/""#);
    assert_eq!(name, json!(""));
}

// ---- transfer: chunked and Expect: 100-continue -----------------------------------------------

fn chunked_upload_is_read() {
    let server = server_with_task();
    let content: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let body = multipart_body(&[Part::file("a.bin", Some("image/png"), &content)]);
    let type_line = format!("Content-Type: {}", form_type());
    let lines = [type_line.as_str(), "Transfer-Encoding: chunked"];
    let head = request_head(server.addr(), "POST", TARGET, &lines);
    let response = send_raw(server.addr(), &[head, chunked(&body, 4093)].concat());
    assert_attached(&response, "a.bin", 100_000);
    assert_download(&get(server.addr(), TARGET), &content);
}

/// RFC 9110 §10.1.1: `100 Continue`, then the body, then the 200.
fn expect_continue_upload_gets_100_then_200() {
    let server = server_with_task();
    let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), b"continued")]);
    let type_line = format!("Content-Type: {}", form_type());
    let length = format!("Content-Length: {}", body.len());
    let lines = [type_line.as_str(), length.as_str(), "Expect: 100-continue"];
    let head = request_head(server.addr(), "POST", TARGET, &lines);
    let response = send_expecting_continue(server.addr(), &head, &body);
    assert_attached(&response, "a.txt", 9);
    assert_download(&get(server.addr(), TARGET), b"continued");
}

/// RFC 9110 §10.1.1, with a chunked body.
fn expect_continue_chunked_upload_gets_100_then_200() {
    let server = server_with_task();
    let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), b"continued")]);
    let type_line = format!("Content-Type: {}", form_type());
    let lines = [
        type_line.as_str(),
        "Transfer-Encoding: chunked",
        "Expect: 100-continue",
    ];
    let head = request_head(server.addr(), "POST", TARGET, &lines);
    let response = send_expecting_continue(server.addr(), &head, &chunked(&body, 16));
    assert_attached(&response, "a.txt", 9);
    assert_download(&get(server.addr(), TARGET), b"continued");
}

// Every test above, once per storage backend (tests/common/backend.rs).
backend_tests! {
    download_with_a_bad_id_is_422,
    download_of_a_missing_task_is_404,
    download_of_a_missing_task_names_its_canonical_id,
    download_without_an_attachment_is_404,
    download_keeps_bytes_exactly,
    download_keeps_all_256_byte_values,
    download_of_a_3_mib_file_is_exact,
    download_of_an_empty_file_has_length_0,
    download_after_a_replacement_serves_the_new_file,
    download_type_is_exactly_as_sent,
    download_type_keeps_its_parameters,
    download_of_text_plain_gets_no_charset_added,
    download_without_a_part_type_is_text_plain,
    disposition_of_a_plain_name,
    disposition_escapes_quotes,
    disposition_of_a_latin_name_has_a_fallback_and_filename_star,
    disposition_of_an_emoji_name_has_one_underscore_for_it,
    disposition_encodes_everything_but_attr_chars,
    disposition_of_an_empty_name,
    head_on_a_download_is_its_headers_without_body,
    head_on_a_missing_attachment_is_the_404_without_body,
    delete_attachment_is_a_bare_204,
    deleted_attachment_is_null_on_the_task,
    download_after_delete_is_404_no_attachment,
    second_delete_is_404_no_attachment,
    delete_of_a_never_uploaded_attachment_is_404,
    delete_attachment_of_a_missing_task_is_404,
    delete_attachment_with_a_bad_id_is_422,
    upload_after_delete_attaches_again,
    deleting_the_task_removes_its_attachment,
    new_task_does_not_inherit_a_deleted_tasks_attachment,
    patch_keeps_the_attachment,
    escaped_quote_in_filename_is_unescaped,
    escaped_backslash_in_filename_is_unescaped,
    utf8_filename_is_kept,
    filename_that_is_not_utf8_is_read_as_latin1,
    filename_star_is_percent_decoded_utf8,
    filename_wins_over_filename_star,
    filename_wins_over_a_later_filename_star,
    unix_path_is_stripped_from_filename,
    windows_path_is_stripped_from_filename,
    directory_is_stripped_from_filename,
    encoded_path_in_filename_star_is_stripped,
    filename_that_is_only_a_path_becomes_empty,
    chunked_upload_is_read,
    expect_continue_upload_gets_100_then_200,
    expect_continue_chunked_upload_gets_100_then_200,
}
