//! The checks on attachments: uploads that must succeed or be refused (400 vs 415), downloads
//! that must be byte-identical with the right `Content-Type`, and a `Content-Disposition` that
//! survives quotes and non-ASCII names (RFC 6266, RFC 8187).

use serde_json::Value;

use super::disposition;
use super::message::{media_type, quote_body, Response};
use super::report::Outcome;
use super::rules::{not_checked, not_found, server_error, status_text, unexpected};

/// An upload that should succeed: 2xx, and the task's attachment says `size` bytes.
pub fn uploaded(response: &Response, size: usize) -> Outcome {
    if !(200..300).contains(&response.status) {
        return unexpected(
            response,
            "200 OK with the task and its attachment, as the lesson's upload answers",
            "RFC 7578 §4.2, §4.4; RFC 9110 §15.3.1",
        );
    }
    let attachment = response
        .json()
        .and_then(|task| task.get("attachment").cloned());
    match attachment
        .as_ref()
        .and_then(|a| a.get("size"))
        .and_then(Value::as_u64)
    {
        Some(n) if n == size as u64 => Outcome::Pass,
        Some(n) => Outcome::fail(
            format!(
                "{}: the task says the file has {n} bytes",
                status_text(response)
            ),
            format!(
                "{size} bytes, the file as sent: the CRLF before each boundary belongs to the \
                 delimiter, not to the file, and anything else in the part is content"
            ),
            "RFC 2046 §5.1.1; RFC 7578 §4.1",
        ),
        None => Outcome::note(format!(
            "{}: accepted, but the answer does not show the attachment's size, so the checker \
             cannot tell how many bytes the server read.",
            status_text(response)
        )),
    }
}

/// An upload of `application/pdf` (exercise 2): refused, and 400 is the lesson's status.
pub fn refused_type(response: &Response) -> Outcome {
    match response.status {
        400 => super::validation::explained(response),
        // 415 is defensible (RFC 9110 §15.5.16 allows judging by "inspecting the data"), but
        // the request's own type, multipart/form-data, is one the endpoint supports: it is the
        // file inside that is refused, so the lesson and taskd answer 400.
        415 => Outcome::note(
            "415: defensible, but the request itself is multipart/form-data, which this \
             endpoint supports; it is the file inside that is refused, so the lesson answers 400 \
             (RFC 9110 §15.5.1; 415 in §15.5.16 is mainly about the request's own Content-Type).",
        ),
        422 => Outcome::note(
            "422: refused, good; exercise 2 answers 400 Unsupported file type: application/pdf.",
        ),
        200..=299 => Outcome::fail(
            format!("{}: the PDF was stored", status_text(response)),
            "a refusal: exercise 2 allows text/plain, image/png and image/jpeg only, and says \
             which type it refused in a 400 Bad Request",
            "RFC 9110 §15.5.1",
        ),
        _ => unexpected(response, "400 Bad Request", "RFC 9110 §15.5.1"),
    }
}

/// An upload the allowed-types rule must accept (a case or parameter variant, or no type).
pub fn accepted_type(response: &Response, expected: &str, rfc: &str) -> Outcome {
    match response.status {
        200..=299 => Outcome::Pass,
        _ => server_error(response).unwrap_or_else(|| {
            Outcome::fail(response.describe(), format!("acceptance: {expected}"), rfc)
        }),
    }
}

/// A JSON body sent to the upload endpoint: no file in it.
pub fn not_multipart(response: &Response) -> Outcome {
    match response.status {
        // 415 names the real problem (the request's Content-Type); FastAPI and taskd answer
        // 422 "missing file", and 400 is a valid refusal too.
        400 | 415 | 422 => Outcome::Pass,
        _ => unexpected(
            response,
            "415 Unsupported Media Type (FastAPI: 422): a JSON body is not multipart/form-data \
             and carries no file",
            "RFC 9110 §15.5.16",
        ),
    }
}

/// `GET /tasks/{id}/attachment` while the task has no attachment (exercise 3).
pub fn no_attachment(response: &Response) -> Outcome {
    match response.status {
        405 => Outcome::fail(
            response.describe(),
            "exercise 3 adds GET /tasks/{id}/attachment; while the task has no attachment yet \
             it answers 404 Not Found",
            "RFC 9110 §15.5.5",
        ),
        _ => not_found(response),
    }
}

/// The download (exercise 3): 200 and exactly the bytes uploaded.
pub fn download(response: &Response, sent: &[u8]) -> Outcome {
    if response.status != 200 {
        return unexpected(
            response,
            "200 OK with the file: exercise 3 adds GET /tasks/{id}/attachment",
            "RFC 9110 §9.3.1, §15.3.1",
        );
    }
    if response.body != sent {
        let first = response.body.iter().zip(sent).position(|(a, b)| a != b);
        let first = first.unwrap_or(response.body.len().min(sent.len()));
        return Outcome::fail(
            format!(
                "{} bytes, differing from the {} uploaded at byte {first}: {}",
                response.body.len(),
                sent.len(),
                quote_body(&response.body)
            ),
            "the exact bytes uploaded: only the CRLF before a boundary belongs to the \
             delimiter; every other CR, LF and dash is content",
            "RFC 2046 §5.1.1; RFC 7578 §4.1",
        );
    }
    match response.header("Content-Length") {
        Some(length) if length != sent.len().to_string() => Outcome::fail(
            format!("Content-Length: {length} for {} bytes", sent.len()),
            "a Content-Length equal to the number of bytes sent",
            "RFC 9110 §8.6; RFC 9112 §6.3",
        ),
        _ => Outcome::Pass,
    }
}

/// The download's `Content-Type` is the type the file was uploaded with.
pub fn download_type(response: &Response, sent: &str) -> Outcome {
    if response.status != 200 {
        return server_error(response)
            .unwrap_or_else(|| not_checked("the download did not answer 200"));
    }
    match response.header("Content-Type") {
        None => Outcome::fail(
            format!(
                "200 OK with {} bytes and no Content-Type",
                response.body.len()
            ),
            format!("Content-Type: {sent}, the type the file was uploaded with"),
            "RFC 9110 §8.3",
        ),
        Some(kind) if kind == sent => Outcome::Pass,
        // Same media type, other parameters: FastAPI appends `; charset=utf-8` to text/plain.
        // Allowed, but it claims an encoding the uploaded bytes may not have.
        Some(kind) if media_type(kind) == media_type(sent) => Outcome::note(format!(
            "Content-Type: {kind} for a file uploaded as {sent}: the same media type, but the \
             added parameters claim something about bytes the server did not write; taskd \
             sends the type as uploaded."
        )),
        Some(kind) => Outcome::fail(
            format!("Content-Type: {kind}"),
            format!("Content-Type: {sent}, the type the file was uploaded with"),
            "RFC 9110 §8.3",
        ),
    }
}

/// The download's `Content-Disposition` names the file as uploaded, `expected`.
pub fn download_name(response: &Response, expected: &str) -> Outcome {
    if response.status >= 500 && !expected.is_ascii() {
        return Outcome::fail(
            response.describe(),
            format!(
                "200 with the file, named {expected:?}: a name with characters a header cannot \
                 carry raw goes in filename*=UTF-8''… as %-encoded UTF-8, next to an ASCII \
                 filename=\"…\" fallback"
            ),
            "RFC 8187 §3.2; RFC 6266 §4.3; RFC 9110 §15.6.1",
        );
    }
    if response.status != 200 {
        return server_error(response)
            .unwrap_or_else(|| not_checked("the download did not answer 200"));
    }
    // Without the header a download is still valid HTTP; browsers just name it after the URL.
    let Some(value) = response.header("Content-Disposition") else {
        return Outcome::note(
            "no Content-Disposition: valid, but a browser then names the file after the URL \
             (\"attachment\"); FileResponse(path, filename=...) in the lesson's hint sends one \
             (RFC 6266).",
        );
    };
    if !value.is_ascii() {
        return Outcome::fail(
            format!("Content-Disposition: {value} (raw non-ASCII bytes, shown as Latin-1)"),
            "ASCII only: a non-ASCII name goes in filename*=UTF-8''… with %-encoded UTF-8, next \
             to an ASCII filename=\"…\" fallback; raw bytes in a header are read as Latin-1 or \
             dropped",
            "RFC 6266 §4.3; RFC 8187 §3.2; RFC 9110 §5.5",
        );
    }
    match disposition::parse(value) {
        Err(problem) => Outcome::fail(
            format!("Content-Disposition: {value} ({problem})"),
            "a well-formed header: a \" or \\ inside filename=\"…\" is escaped with \\ (or \
             the name goes in filename*)",
            "RFC 6266 §4.1; RFC 9110 §5.6.4",
        ),
        Ok(parsed) if parsed.name() == Some(expected) => Outcome::Pass,
        Ok(parsed) => Outcome::fail(
            format!(
                "Content-Disposition: {value}, which names the file {:?}",
                parsed.name().unwrap_or_default()
            ),
            format!(
                "a header that names the file {expected:?}, as uploaded: filename*=UTF-8''… \
                 (RFC 8187) carries any character, filename=\"…\" only ASCII"
            ),
            "RFC 6266 §4.1, §4.3; RFC 8187 §3.2",
        ),
    }
}
