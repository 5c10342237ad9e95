//! Uploads (400 vs 415), byte-identical downloads, Content-Type, Content-Disposition.

use super::{assert_fail, assert_note, detail, json};
use crate::message::Response;
use crate::report::Outcome;
use crate::uploads::*;

fn with_size(size: usize) -> Response {
    let body = format!(r#"{{"id":1,"attachment":{{"filename":"notes.txt","size":{size}}}}}"#);
    json(200, &body)
}

#[test]
fn an_upload_that_loses_or_gains_bytes_fails_citing_multipart_framing() {
    assert_eq!(uploaded(&with_size(19), 19), Outcome::Pass);
    assert_fail(&uploaded(&with_size(21), 19), "RFC 2046 §5.1.1");
    assert_fail(&uploaded(&detail(404), 19), "RFC 7578");
    assert_note(&uploaded(&json(200, r#"{"ok":true}"#), 19));
}

#[test]
fn a_stored_pdf_fails_and_415_is_a_note() {
    assert_fail(&refused_type(&with_size(9)), "RFC 9110 §15.5.1");
    assert_note(&refused_type(&detail(415)));
    let lesson = json(
        400,
        r#"{"detail":"Unsupported file type: application/pdf"}"#,
    );
    assert_eq!(refused_type(&lesson), Outcome::Pass);
}

#[test]
fn refusing_a_type_that_only_looks_different_fails() {
    let refused = json(400, r#"{"detail":"Unsupported file type: Text/Plain"}"#);
    let outcome = accepted_type(&refused, "case-insensitive", "RFC 9110 §8.3.1");
    assert_fail(&outcome, "RFC 9110 §8.3.1");
    assert_eq!(
        accepted_type(&with_size(19), "x", "RFC 7578 §4.4"),
        Outcome::Pass
    );
}

#[test]
fn a_json_body_accepted_as_an_upload_fails_citing_415() {
    assert_fail(&not_multipart(&with_size(0)), "RFC 9110 §15.5.16");
    assert_eq!(not_multipart(&detail(415)), Outcome::Pass);
    assert_eq!(not_multipart(&detail(422)), Outcome::Pass);
}

#[test]
fn a_missing_download_route_fails() {
    let missing_route =
        json(405, r#"{"detail":"Method Not Allowed"}"#).with_header("Allow", "POST");
    assert_fail(&no_attachment(&missing_route), "RFC 9110 §15.5.5");
    assert_eq!(no_attachment(&detail(404)), Outcome::Pass);
}

fn file(body: &[u8]) -> Response {
    Response::new(200)
        .with_header("Content-Type", "text/plain")
        .with_header("Content-Length", &body.len().to_string())
        .with_body(body)
}

#[test]
fn a_download_that_differs_fails() {
    let sent = b"line\r\n";
    assert_eq!(download(&file(sent), sent), Outcome::Pass);
    assert_fail(&download(&file(b"line"), sent), "RFC 2046 §5.1.1");
    let mut lying = file(sent);
    lying.headers[1].1 = "7".to_owned();
    assert_fail(&download(&lying, sent), "RFC 9110 §8.6");
}

#[test]
fn a_download_without_or_with_another_type_fails_and_a_charset_is_a_note() {
    assert_eq!(download_type(&file(b"x"), "text/plain"), Outcome::Pass);
    assert_fail(
        &download_type(&Response::new(200), "text/plain"),
        "RFC 9110 §8.3",
    );
    assert_fail(&download_type(&file(b"x"), "image/png"), "RFC 9110 §8.3");
    let charset = Response::new(200).with_header("Content-Type", "text/plain; charset=utf-8");
    assert_note(&download_type(&charset, "text/plain"));
}

fn named(disposition: &str) -> Response {
    file(b"x").with_header("Content-Disposition", disposition)
}

#[test]
fn unescaped_quotes_in_content_disposition_fail() {
    let broken = named(r#"attachment; filename="say "hi".txt""#);
    assert_fail(&download_name(&broken, r#"say "hi".txt"#), "RFC 6266 §4.1");
    let escaped = named(r#"attachment; filename="say \"hi\".txt""#);
    assert_eq!(download_name(&escaped, r#"say "hi".txt"#), Outcome::Pass);
}

#[test]
fn raw_non_ascii_in_content_disposition_fails_citing_rfc_8187() {
    // "résumé.txt" in Latin-1 bytes, as the client's head parser shows them.
    let raw = named("attachment; filename=\"r\u{e9}sum\u{e9}.txt\"");
    assert_fail(&download_name(&raw, "résumé.txt"), "RFC 8187 §3.2");
}

#[test]
fn an_ascii_fallback_alone_loses_the_name() {
    let fallback = named(r#"attachment; filename="r_sum_.txt""#);
    assert_fail(&download_name(&fallback, "résumé.txt"), "RFC 8187 §3.2");
    let both = named(r#"attachment; filename="r_sum_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"#);
    assert_eq!(download_name(&both, "résumé.txt"), Outcome::Pass);
}

#[test]
fn a_crash_on_a_non_ascii_name_fails_citing_rfc_8187() {
    let crash = Response::new(500).with_body(b"Internal Server Error");
    assert_fail(&download_name(&crash, "😀.txt"), "RFC 8187 §3.2");
    assert_fail(&download_name(&crash, "notes.txt"), "§15.6.1");
}

#[test]
fn a_download_without_content_disposition_is_a_note() {
    assert_note(&download_name(&file(b"x"), "notes.txt"));
}

#[test]
fn a_download_that_is_not_200_fails() {
    assert_fail(&download(&detail(404), b"x"), "RFC 9110 §9.3.1");
    let crash = Response::new(500);
    assert_fail(&download_type(&crash, "text/plain"), "§15.6.1");
}
