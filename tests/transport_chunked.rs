//! CONTRACT §13, the chunked coding (RFC 9112 §7.1) and bodies that end early: every broken
//! chunk is a 400 (never a 500) that changes nothing, extensions and trailers are accepted, a
//! body cut short gets no answer and changes nothing, and no request leaves a thread behind.
//! Every test sends raw bytes to a real server.

use crate::common;
use common::*;

use serde_json::json;

/// A chunked `POST /tasks` whose body is exactly `body` (framing included) earns a 400, never a
/// 500, and creates nothing.
fn assert_chunked_body_refused(bodies: &[&[u8]]) {
    let server = spawn_server();
    for body in bodies {
        let bytes = post_tasks(&["Transfer-Encoding: chunked"], body);
        assert_bad_request(server.addr(), &bytes);
    }
    assert_no_tasks(&server);
}

/// A chunked `POST /tasks` whose body is exactly `body` creates the task.
fn assert_chunked_body_accepted(body: &[u8]) {
    let server = spawn_server();
    let mut client = Client::open(server.addr());
    let created = client.exchange(&post_tasks(&["Transfer-Encoding: chunked"], body));
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["title"], json!("Framed"));
    // The body ended where its framing said: the connection is still in step.
    assert_eq!(client.exchange(&healthz()).status, 200);
}

// ---------------------------------------------------------------------------------------------
// The chunked coding
// ---------------------------------------------------------------------------------------------

/// RFC 9112 §7.1: `chunk-size = 1*HEXDIG`.
#[test]
fn a_chunk_size_that_is_not_hex_is_400() {
    assert_chunked_body_refused(&[
        b"1g\r\nx\r\n0\r\n\r\n",
        b"0x12\r\n{\"title\":\"Framed\"}\r\n0\r\n\r\n",
    ]);
}

/// RFC 9112 §7.1: a chunk-size line needs at least one digit.
#[test]
fn an_empty_chunk_size_is_400() {
    assert_chunked_body_refused(&[b"\r\n\r\n", b";ext\r\nx\r\n0\r\n\r\n"]);
}

/// RFC 9112 §7.1: a size over 16 hex digits cannot be a length we represent.
#[test]
fn a_chunk_size_over_16_hex_digits_is_400() {
    assert_chunked_body_refused(&[b"00000000000000001\r\nx\r\n0\r\n\r\n"]);
}

/// RFC 9112 §7.1: chunk data is followed by CRLF, and nothing else.
#[test]
fn chunk_data_not_followed_by_crlf_is_400() {
    assert_chunked_body_refused(&[
        b"12\r\n{\"title\":\"Framed\"}XY0\r\n\r\n",
        b"11\r\n{\"title\":\"Framed\"}\r\n0\r\n\r\n",
        b"12\r\n{\"title\":\"Framed\"}\n0\r\n\r\n",
    ]);
}

/// RFC 9112 §2.2 allows bare LF in heads only: inside chunked framing it is an error.
#[test]
fn a_bare_lf_in_a_chunk_size_line_is_400() {
    assert_chunked_body_refused(&[
        b"12\n{\"title\":\"Framed\"}\r\n0\r\n\r\n",
        b"12\r\n{\"title\":\"Framed\"}\r\n0\n\r\n",
        b"12\r\n{\"title\":\"Framed\"}\r\n0\r\n\n",
    ]);
}

/// RFC 9112 §7.1.1: a server limits chunk extensions; ours is 4 KiB per chunk-size line.
#[test]
fn chunk_extensions_over_4_kib_are_400() {
    let extension = format!(";x={}", "e".repeat(4 * 1024));
    let body = format!("12{extension}\r\n{{\"title\":\"Framed\"}}\r\n0\r\n\r\n");
    assert_chunked_body_refused(&[body.as_bytes()]);
}

/// RFC 9112 §7.1.1 lets a server limit extensions; taskd also caps them at 64 KiB per body, so a
/// small body cannot come wrapped in gigabytes of framing. 64 KiB in all is still accepted.
#[test]
fn chunk_extensions_over_64_kib_in_one_body_are_400() {
    let padded = |chunks: usize| {
        // ";x=" and 4,093 bytes: 4 KiB of extension on each 1-byte chunk.
        let extension = format!(";x={}", "e".repeat(4 * 1024 - 3));
        let title = "{\"title\":\"Framed\"}";
        let mut body: String = title[..chunks]
            .chars()
            .map(|c| format!("1{extension}\r\n{c}\r\n"))
            .collect();
        body.push_str(&format!(
            "{:x}\r\n{}\r\n0\r\n\r\n",
            title.len() - chunks,
            &title[chunks..]
        ));
        body
    };
    assert_chunked_body_accepted(padded(16).as_bytes());
    assert_chunked_body_refused(&[padded(17).as_bytes()]);
}

/// RFC 9112 §7.1.2: a server limits trailers; ours is 16 KiB of trailer section.
#[test]
fn a_trailer_section_over_16_kib_is_400() {
    let trailer = format!("X-Big: {}\r\n", "t".repeat(16 * 1024));
    let body = format!("12\r\n{{\"title\":\"Framed\"}}\r\n0\r\n{trailer}\r\n");
    assert_chunked_body_refused(&[body.as_bytes()]);
}

/// RFC 9112 §7.1.2: ...and 100 trailer fields.
#[test]
fn over_100_trailer_fields_are_400() {
    let trailers: String = (0..101)
        .map(|index| format!("X-T{index}: {index}\r\n"))
        .collect();
    let body = format!("12\r\n{{\"title\":\"Framed\"}}\r\n0\r\n{trailers}\r\n");
    assert_chunked_body_refused(&[body.as_bytes()]);
}

/// RFC 9112 §7.1.2: a trailer line is a field line.
#[test]
fn a_trailer_line_that_is_not_a_field_is_400() {
    assert_chunked_body_refused(&[
        b"12\r\n{\"title\":\"Framed\"}\r\n0\r\nno colon\r\n\r\n",
        b"12\r\n{\"title\":\"Framed\"}\r\n0\r\nX-T: a\rb\r\n\r\n",
    ]);
}

/// RFC 9112 §7.1.1: a recipient MUST ignore unrecognised chunk extensions.
#[test]
fn chunk_extensions_are_ignored() {
    assert_chunked_body_accepted(
        b"5;a=b\r\n{\"tit\r\n6 ; name=\"quoted; value\"\r\nle\":\"F\r\n7;x\r\nramed\"}\r\n0;last\r\n\r\n",
    );
}

/// RFC 9112 §7.1.1: extensions up to our 4 KiB limit per chunk-size line are accepted.
#[test]
fn chunk_extensions_of_4_kib_are_accepted() {
    let extension = format!(";x={}", "e".repeat(4 * 1024 - 2));
    let body = format!("12{extension}\r\n{{\"title\":\"Framed\"}}\r\n0\r\n\r\n");
    assert_chunked_body_accepted(body.as_bytes());
}

/// RFC 9112 §7.1.2: trailer fields are read and discarded.
#[test]
fn trailer_fields_are_read_and_discarded() {
    let mut body = b"12\r\n".to_vec();
    body.extend_from_slice(TITLE_JSON);
    body.extend_from_slice(b"\r\n0\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n");
    assert_chunked_body_accepted(&body);
}

/// 100 trailer fields are within our limit.
#[test]
fn exactly_100_trailer_fields_are_accepted() {
    let trailers: String = (0..100)
        .map(|index| format!("X-T{index}: {index}\r\n"))
        .collect();
    let body = format!("12\r\n{{\"title\":\"Framed\"}}\r\n0\r\n{trailers}\r\n");
    assert_chunked_body_accepted(body.as_bytes());
}

/// Many small chunks, and hex sizes in either case, decode to the same body.
#[test]
fn a_body_in_one_byte_chunks_is_decoded() {
    assert_chunked_body_accepted(&chunked(TITLE_JSON, 1));
    assert_chunked_body_accepted(b"0000000000000012\r\n{\"title\":\"Framed\"}\r\n0\r\n\r\n");
    assert_chunked_body_accepted(b"a\r\n{\"title\":\"\r\n8\r\nFramed\"}\r\n0\r\n\r\n");
    assert_chunked_body_accepted(b"A\r\n{\"title\":\"\r\n8\r\nFramed\"}\r\n0\r\n\r\n");
}

// ---------------------------------------------------------------------------------------------
// A body cut short
// ---------------------------------------------------------------------------------------------

/// Sends `bytes`, half-closes, and asserts the server closes without a word.
fn assert_cut_short_unanswered(server: &TestServer, bytes: &[u8]) {
    let mut client = Client::open(server.addr());
    client.send(bytes);
    finish_sending(&client.stream);
    client.assert_closed_silently();
}

/// RFC 9112 §8: a message whose body ends early is incomplete: nothing to answer, nothing done.
#[test]
fn a_content_length_body_cut_short_is_unanswered_and_changes_nothing() {
    let server = spawn_server();
    let bytes = post_tasks(&["Content-Length: 18"], &TITLE_JSON[..10]);
    assert_cut_short_unanswered(&server, &bytes);
    assert_no_tasks(&server);
}

/// RFC 9112 §8: ...also when chunked, in the data, in the framing or before the last chunk.
#[test]
fn a_chunked_body_cut_short_is_unanswered_and_changes_nothing() {
    let server = spawn_server();
    let whole = chunked(TITLE_JSON, 7);
    for cut in [3, 7, whole.len() - 5, whole.len() - 1] {
        let bytes = post_tasks(&["Transfer-Encoding: chunked"], &whole[..cut]);
        assert_cut_short_unanswered(&server, &bytes);
    }
    assert_no_tasks(&server);
}

/// RFC 9112 §8: an upload whose multipart body is whole but whose declared length is not reached
/// is still incomplete: the attachment is not stored.
#[test]
fn an_upload_cut_short_after_its_closing_delimiter_changes_nothing() {
    let server = server_with_task();
    let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), b"hello")]);
    let content_type = format!("Content-Type: {}", form_type());
    let length = format!("Content-Length: {}", body.len() + 10);
    let mut bytes = kept_head("POST", "/tasks/1/attachment", &[&content_type, &length]);
    bytes.extend_from_slice(&body);
    assert_cut_short_unanswered(&server, &bytes);
    let task = get(server.addr(), "/tasks/1");
    assert_eq!(task.json()["attachment"], json!(null), "{}", task.text());
}

/// An upload head for task 1 with `framing` (a `Content-Length` or `Transfer-Encoding` line).
fn upload_head(framing: &str) -> Vec<u8> {
    let content_type = format!("Content-Type: {}", form_type());
    kept_head("POST", "/tasks/1/attachment", &[&content_type, framing])
}

/// RFC 9112 §8: an upload cut short inside its file is incomplete: nothing is stored.
#[test]
fn an_upload_cut_short_inside_its_file_changes_nothing() {
    let server = server_with_task();
    let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), &[b'a'; 5000])]);
    let mut bytes = upload_head(&format!("Content-Length: {}", body.len()));
    bytes.extend_from_slice(&body[..2000]);
    assert_cut_short_unanswered(&server, &bytes);
    assert_eq!(
        get(server.addr(), "/tasks/1").json()["attachment"],
        json!(null)
    );
}

/// CONTRACT §13: broken chunked framing under an upload is the layer's 400, never the handler's
/// 500, and stores nothing.
#[test]
fn broken_chunked_framing_in_an_upload_is_400() {
    let server = server_with_task();
    let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), b"hello")]);
    let mut framed = chunked(&body, 40);
    framed.truncate(framed.len() - 5);
    framed.extend_from_slice(b"zz\r\n\r\n");
    let mut bytes = upload_head("Transfer-Encoding: chunked");
    bytes.extend_from_slice(&framed);
    assert_bad_request(server.addr(), &bytes);
    assert_eq!(
        get(server.addr(), "/tasks/1").json()["attachment"],
        json!(null)
    );
}

/// CONTRACT §13: whatever is sent, no connection thread is lost: after a burst of hostile
/// requests the server still answers, and shuts down at once (a thread still busy would hold
/// the shutdown for its 10 s grace).
#[test]
fn hostile_requests_leave_no_thread_behind() {
    let server = spawn_server();
    let addr = server.addr();
    let mut oversized_line = b"GET /".to_vec();
    oversized_line.resize(20_000, b'a');
    let hostile: Vec<Vec<u8>> = vec![
        post_tasks(
            &["Content-Length: 5", "Transfer-Encoding: chunked"],
            b"0\r\n\r\n",
        ),
        post_tasks(&["Transfer-Encoding: chunked"], b"zz\r\n"),
        post_tasks(&["Content-Length: 100000000000000"], TITLE_JSON),
        post_tasks(&["Content-Length: 18446744073709551616"], TITLE_JSON),
        post_tasks(&["Transfer-Encoding: chunked"], b"ffffffffffffffff\r\nabc"),
        oversized_line,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
        vec![0; 4096],
    ];
    for bytes in &hostile {
        let mut client = Client::open(addr);
        let _ = std::io::Write::write_all(&mut client.stream, bytes);
        finish_sending(&client.stream);
        let _ = client.ending();
    }
    assert_eq!(get(addr, "/healthz").status, 200);
    let ((), took) = timed(|| server.shutdown());
    assert!(
        took < std::time::Duration::from_secs(2),
        "shutdown took {took:?}"
    );
}
