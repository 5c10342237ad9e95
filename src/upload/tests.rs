//! CONTRACT §9 upload rules, end to end through `read_file_field`.

use std::io;

use super::limits::{FRAMING_ALLOWANCE, TEXT_TOO_LARGE, TOO_MANY_FIELDS, TOO_MANY_FILES};
use super::*;

const B: &str = "bNd";
const LIMITS: UploadLimits = UploadLimits {
    max_file_bytes: 1000,
};

fn part(disposition: &str, content_type: Option<&str>, data: &[u8]) -> Vec<u8> {
    let typed = content_type
        .map(|t| format!("Content-Type: {t}\r\n"))
        .unwrap_or_default();
    let head = format!("--{B}\r\nContent-Disposition: {disposition}\r\n{typed}\r\n");
    [head.as_bytes(), data, b"\r\n"].concat()
}

fn file(filename: &str, data: &[u8]) -> Vec<u8> {
    let disposition = format!("form-data; name=\"file\"; filename=\"{filename}\"");
    part(&disposition, Some("text/plain"), data)
}

fn text(name: &str, value: &[u8]) -> Vec<u8> {
    part(&format!("form-data; name=\"{name}\""), None, value)
}

fn closed(parts: &[Vec<u8>]) -> Vec<u8> {
    [parts.concat(), format!("--{B}--\r\n").into_bytes()].concat()
}

/// An upload with its `Content-Length`.
fn upload(body: &[u8]) -> Result<FileField, ApiError> {
    let content_type = format!("multipart/form-data; boundary={B}");
    read_file_field(body, Some(&content_type), Some(body.len() as u64), LIMITS)
}

/// An upload sent chunked: no declared length, so every limit is decided while reading.
fn upload_chunked(body: &[u8]) -> Result<FileField, ApiError> {
    let content_type = format!("multipart/form-data; boundary={B}");
    read_file_field(body, Some(&content_type), None, LIMITS)
}

fn uploaded(
    filename: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<FileField, ApiError> {
    Ok(FileField::File(UploadedFile {
        filename: filename.to_owned(),
        content_type: content_type.map(str::to_owned),
        bytes: Bytes::copy_from_slice(bytes),
    }))
}

fn bad(detail: &str) -> Result<FileField, ApiError> {
    Err(ApiError::BadRequest(detail.to_owned()))
}

/// Proves a body was left alone: any read panics.
struct Untouchable;

impl Read for Untouchable {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        panic!("the body must not be read")
    }
}

#[test]
fn file_part_is_read_with_its_name_type_and_bytes() {
    let body = closed(&[text("title", b"x"), file("notes.txt", b"hello\r\nworld")]);
    assert_eq!(
        upload(&body),
        uploaded("notes.txt", Some("text/plain"), b"hello\r\nworld")
    );
}

#[test]
fn media_type_is_case_insensitive_and_boundary_may_be_quoted() {
    let body = closed(&[file("a.txt", b"1")]);
    for content_type in [
        "MULTIPART/Form-Data; boundary=\"bNd\"",
        "multipart/form-data;charset=utf-8;BOUNDARY=bNd",
        " multipart/form-data ; boundary = bNd",
    ] {
        let field = read_file_field(body.as_slice(), Some(content_type), None, LIMITS);
        assert_eq!(
            field,
            uploaded("a.txt", Some("text/plain"), b"1"),
            "{content_type}"
        );
    }
}

#[test]
fn multipart_without_boundary_is_400_missing_boundary() {
    let field = read_file_field(
        Untouchable,
        Some("multipart/form-data; charset=utf-8"),
        None,
        LIMITS,
    );
    assert_eq!(field, bad(NO_BOUNDARY));
}

#[test]
fn empty_boundary_is_400_invalid() {
    for content_type in [
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
    ] {
        assert_eq!(
            read_file_field(Untouchable, Some(content_type), None, LIMITS),
            bad(INVALID)
        );
    }
}

#[test]
fn other_bodies_are_missing_without_being_read() {
    for content_type in [
        None,
        Some("application/json"),
        Some("text/plain"),
        Some("multipart/mixed; boundary=bNd"),
    ] {
        let field = read_file_field(Untouchable, content_type, Some(10), LIMITS);
        assert_eq!(field, Ok(FileField::Missing), "{content_type:?}");
    }
}

#[test]
fn form_urlencoded_file_is_text_and_the_last_one_wins() {
    let field = read_file_field(
        &b"a=1&file=x&file=%C3%A9+y"[..],
        Some("Application/X-WWW-Form-Urlencoded"),
        None,
        LIMITS,
    );
    assert_eq!(field, Ok(FileField::Text("é y".to_owned())));
}

#[test]
fn form_urlencoded_empty_or_absent_file_is_missing() {
    for body in [&b"file=x&file="[..], b"a=1", b""] {
        let field = read_file_field(
            body,
            Some("application/x-www-form-urlencoded"),
            None,
            LIMITS,
        );
        assert_eq!(field, Ok(FileField::Missing));
    }
}

#[test]
fn form_urlencoded_body_over_1_mib_is_413() {
    let form = Some("application/x-www-form-urlencoded");
    let at_limit = vec![b'a'; 1 << 20];
    assert_eq!(
        read_file_field(at_limit.as_slice(), form, None, LIMITS),
        Ok(FileField::Missing)
    );
    let over = vec![b'a'; (1 << 20) + 1];
    let expected = Err(ApiError::PayloadTooLarge(
        "Request body too large (limit 1048576 bytes)".into(),
    ));
    assert_eq!(
        read_file_field(over.as_slice(), form, None, LIMITS),
        expected
    );
}

#[test]
fn empty_body_is_missing() {
    assert_eq!(upload(b""), Ok(FileField::Missing));
    assert_eq!(upload(b"\r\n\r\n"), Ok(FileField::Missing));
}

#[test]
fn text_before_the_first_delimiter_is_400() {
    let body = [&b"preamble\r\n"[..], &closed(&[file("a.txt", b"1")])].concat();
    assert_eq!(upload(&body), bad(INVALID));
}

/// python-multipart (FastAPI's parser) skips CR and LF before the first delimiter.
#[test]
fn newlines_before_the_first_delimiter_are_skipped() {
    let body = [&b"\r\n\n"[..], &closed(&[file("a.txt", b"1")])].concat();
    assert_eq!(upload(&body), uploaded("a.txt", Some("text/plain"), b"1"));
}

#[test]
fn body_framed_by_another_boundary_is_400() {
    let body = closed(&[file("a.txt", b"1")]);
    let field = read_file_field(
        body.as_slice(),
        Some("multipart/form-data; boundary=other"),
        None,
        LIMITS,
    );
    assert_eq!(field, bad(INVALID));
    let longer = read_file_field(
        body.as_slice(),
        Some("multipart/form-data; boundary=bN"),
        None,
        LIMITS,
    );
    assert_eq!(longer, bad(INVALID));
}

#[test]
fn malformed_delimiter_line_is_400() {
    let body =
        format!("--{B}x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nv\r\n--{B}--\r\n");
    assert_eq!(upload(body.as_bytes()), bad(INVALID));
}

#[test]
fn part_without_blank_line_after_its_headers_is_400() {
    let body = format!(
        "--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
         Content-Type: text/plain\r\nhello\r\n--{B}--\r\n"
    );
    assert_eq!(upload(body.as_bytes()), bad(INVALID));
}

#[test]
fn invalid_header_in_a_complete_part_is_400() {
    for line in [
        "Content Type: text/plain",
        "no colon",
        "Bad\x01Name: x",
        ": no name",
    ] {
        let body = format!(
            "--{B}\r\nContent-Disposition: form-data; name=\"file\"\r\n{line}\r\n\r\nv\r\n--{B}--\r\n"
        );
        assert_eq!(upload(body.as_bytes()), bad(INVALID), "{line:?}");
    }
}

/// CONTRACT §9: a `Content-Type` with control characters is a type the handler refuses with
/// the value as sent, not unreadable multipart, although httparse refuses the bytes.
#[test]
fn control_characters_in_a_part_type_are_kept_as_sent() {
    for sent in [
        "text/plain\x01",
        "\x00",
        "text/\x1b[0mplain",
        "text/plain\x7f",
        "a\x01b\tc",
    ] {
        let body = closed(&[part(
            "form-data; name=file; filename=a.bin",
            Some(sent),
            b"v",
        )]);
        assert_eq!(
            upload(&body),
            uploaded("a.bin", Some(sent), b"v"),
            "{sent:?}"
        );
        assert!(!is_allowed_type(Some(sent)), "{sent:?}");
    }
    // Spaces and tabs around the value are not part of it, as for any header (RFC 9110 §5.5).
    let padded = closed(&[part(
        "form-data; name=file; filename=a",
        Some(" \t\x01 \t"),
        b"",
    )]);
    assert_eq!(upload(&padded), uploaded("a", Some("\x01"), b""));
}

/// multer keeps the last of repeated headers; the value as sent must follow the same rule.
#[test]
fn repeated_part_type_with_control_characters_keeps_the_last() {
    let body = |first: &str, second: &str| {
        let head = format!(
            "--{B}\r\nContent-Disposition: form-data; name=file; filename=a\r\n\
             Content-Type: {first}\r\nContent-Type: {second}\r\n\r\n1\r\n--{B}--\r\n"
        );
        upload(head.as_bytes())
    };
    assert_eq!(
        body("a\x01", "image/png"),
        uploaded("a", Some("image/png"), b"1")
    );
    assert_eq!(
        body("image/png", "b\x01"),
        uploaded("a", Some("b\x01"), b"1")
    );
}

/// Control characters in other parts' headers change nothing for the `file` part.
#[test]
fn control_characters_in_other_parts_are_harmless() {
    let note = part(
        "form-data; name=\"no\x01te\"",
        Some("text/plain\x00"),
        b"hi",
    );
    let extra =
        format!("--{B}\r\nX-Odd: \x7f\x1b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n");
    let body = closed(&[note, extra.into_bytes(), file("a.txt", b"1")]);
    assert_eq!(upload(&body), uploaded("a.txt", Some("text/plain"), b"1"));
}

/// Content-Disposition is read as sent too: a control character stays in the filename (the
/// download's `filename` fallback shows it as `_`, `filename*` as `%01`), and is part of the
/// name, so `file\x01` is not `file`.
#[test]
fn control_characters_in_content_disposition_are_kept() {
    let body = closed(&[part(
        "form-data; name=\"file\"; filename=\"a\x01\x7f.txt\"",
        Some("text/plain"),
        b"1",
    )]);
    assert_eq!(
        upload(&body),
        uploaded("a\x01\x7f.txt", Some("text/plain"), b"1")
    );
    for name in ["\"file\x01\"", "file\x01", "\x00file"] {
        let disposition = format!("form-data; name={name}; filename=a.txt");
        let body = closed(&[part(&disposition, Some("text/plain"), b"1")]);
        assert_eq!(upload(&body), Ok(FileField::Missing), "{name:?}");
    }
    let tokens = closed(&[part(
        "form-data; name=file; filename=a\x01b",
        Some("text/plain"),
        b"1",
    )]);
    assert_eq!(
        upload(&tokens),
        uploaded("a\x01b", Some("text/plain"), b"1")
    );
    assert_eq!(
        content_disposition("a\x01.txt"),
        "attachment; filename=\"a_.txt\"; filename*=UTF-8''a%01.txt"
    );
}

#[test]
fn part_without_a_name_is_400() {
    let unnamed = closed(&[part("form-data; filename=\"a.txt\"", None, b"1")]);
    assert_eq!(upload(&unnamed), bad(NO_NAME));
    let no_disposition = format!("--{B}\r\nContent-Type: text/plain\r\n\r\n1\r\n--{B}--\r\n");
    assert_eq!(upload(no_disposition.as_bytes()), bad(NO_NAME));
    let no_headers = format!("--{B}\r\n\r\n1\r\n--{B}--\r\n");
    assert_eq!(upload(no_headers.as_bytes()), bad(NO_NAME));
}

#[test]
fn text_field_over_1_mib_is_400() {
    let at_limit = closed(&[text("other", &vec![b'a'; 1 << 20])]);
    assert_eq!(upload_chunked(&at_limit), Ok(FileField::Missing));
    let over = closed(&[text("other", &vec![b'a'; (1 << 20) + 1])]);
    assert_eq!(upload_chunked(&over), bad(TEXT_TOO_LARGE));
}

#[test]
fn more_than_1000_text_fields_is_400() {
    let fields = vec![text("f", b"v"); 1000];
    assert_eq!(upload(&closed(&fields)), Ok(FileField::Missing));
    let too_many = vec![text("f", b"v"); 1001];
    assert_eq!(upload(&closed(&too_many)), bad(TOO_MANY_FIELDS));
}

#[test]
fn more_than_1000_file_parts_is_400() {
    let other = part("form-data; name=\"other\"; filename=\"o.txt\"", None, b"v");
    let mut files = vec![other.clone(); 999];
    files.push(file("a.txt", b"1"));
    assert_eq!(
        upload_chunked(&closed(&files)),
        uploaded("a.txt", Some("text/plain"), b"1")
    );
    files.push(other);
    assert_eq!(upload_chunked(&closed(&files)), bad(TOO_MANY_FILES));
}

#[test]
fn file_at_the_limit_is_accepted_and_one_byte_more_is_413() {
    let at_limit = vec![b'x'; 1000];
    assert_eq!(
        upload(&closed(&[file("a.txt", &at_limit)])),
        uploaded("a.txt", Some("text/plain"), &at_limit)
    );
    let too_large = Err(ApiError::PayloadTooLarge(
        "File too large (limit 1000 bytes)".to_owned(),
    ));
    assert_eq!(upload(&closed(&[file("a.txt", &[b'x'; 1001])])), too_large);
    let other = part(
        "form-data; name=\"other\"; filename=\"o.txt\"",
        None,
        &[b'x'; 1001],
    );
    assert_eq!(upload(&closed(&[other])), too_large, "any file part counts");
}

/// Deciding while reading: the 413 comes before the body has been read to its end.
#[test]
fn too_large_file_is_refused_without_reading_the_rest() {
    let body = closed(&[file("big.bin", &vec![b'x'; 8 << 20])]);
    let mut reader = body.as_slice();
    let limits = UploadLimits {
        max_file_bytes: 1 << 20,
    };
    let field = read_file_field(
        reader.by_ref(),
        Some(&format!("multipart/form-data; boundary={B}")),
        None,
        limits,
    );
    assert!(matches!(field, Err(ApiError::PayloadTooLarge(_))));
    assert!(
        reader.len() > 6 << 20,
        "read {} bytes",
        body.len() - reader.len()
    );
}

#[test]
fn unterminated_last_part_is_ignored() {
    let first = file("a.txt", b"first");
    let body = closed(&[first.clone(), file("b.txt", b"second")]);
    let first_done = first.len() + 2 + B.len();
    let mut seen_first = false;
    for cut in 0..body.len() - 4 {
        let field = upload(&body[..cut]);
        if cut < first_done {
            assert_eq!(field, Ok(FileField::Missing), "cut at {cut}");
        } else if field == uploaded("a.txt", Some("text/plain"), b"first") {
            seen_first = true;
        } else {
            assert_eq!(
                field,
                uploaded("b.txt", Some("text/plain"), b"second"),
                "cut at {cut}"
            );
        }
    }
    assert!(seen_first);
}

#[test]
fn last_complete_file_part_wins() {
    let body = closed(&[file("a.txt", b"1"), text("x", b"y"), file("b.txt", b"2")]);
    assert_eq!(upload(&body), uploaded("b.txt", Some("text/plain"), b"2"));
    let text_last = closed(&[file("a.txt", b"1"), text("file", b"later")]);
    assert_eq!(upload(&text_last), Ok(FileField::Text("later".to_owned())));
}

#[test]
fn file_text_field_is_text_and_empty_one_is_missing() {
    assert_eq!(
        upload(&closed(&[text("file", b"not a file")])),
        Ok(FileField::Text("not a file".into()))
    );
    assert_eq!(
        upload(&closed(&[text("file", b"")])),
        Ok(FileField::Missing)
    );
    assert_eq!(
        upload(&closed(&[text("File", b"x"), text("other", b"y")])),
        Ok(FileField::Missing)
    );
}

#[test]
fn no_file_chosen_is_missing_but_empty_file_with_a_name_is_a_file() {
    assert_eq!(upload(&closed(&[file("", b"")])), Ok(FileField::Missing));
    assert_eq!(
        upload(&closed(&[file("empty.txt", b"")])),
        uploaded("empty.txt", Some("text/plain"), b"")
    );
    assert_eq!(
        upload(&closed(&[file("", b"data")])),
        uploaded("", Some("text/plain"), b"data")
    );
}

/// RFC 7578 §4.2: browsers send the name as raw UTF-8; older clients send Latin-1.
#[test]
fn raw_utf8_and_latin1_filenames_survive_the_parser() {
    let utf8 = closed(&[part(
        "form-data; name=file; filename=\"dir/r\u{e9}sum\u{e9}.txt\"",
        None,
        b"1",
    )]);
    assert_eq!(upload(&utf8), uploaded("résumé.txt", None, b"1"));
    let latin1 = closed(&[[
        &b"--bNd\r\nContent-Disposition: form-data; name=file; filename=\"\xe9.txt\"\r\n\r\n1\r\n"
            [..],
    ]
    .concat()]);
    assert_eq!(upload(&latin1), uploaded("é.txt", None, b"1"));
}

/// Errors come in body order: a framing error later in the same read does not hide one
/// the parser finds earlier.
#[test]
fn earlier_error_wins_over_a_later_framing_error_in_the_same_read() {
    let body = [
        text("other", &vec![b'a'; (1 << 20) + 1]),
        format!("--{B}\r\nbad line\r\n").into_bytes(),
    ]
    .concat();
    assert_eq!(upload_chunked(&body), bad(TEXT_TOO_LARGE));
}

/// A declared length beyond the limit plus the framing allowance is refused unread.
#[test]
fn declared_length_beyond_the_allowance_is_413_without_reading() {
    let content_type = format!("multipart/form-data; boundary={B}");
    let declared = LIMITS.max_file_bytes + FRAMING_ALLOWANCE + 1;
    let result = read_file_field(Untouchable, Some(&content_type), Some(declared), LIMITS);
    let expected = format!("File too large (limit {} bytes)", LIMITS.max_file_bytes);
    assert_eq!(result, Err(ApiError::PayloadTooLarge(expected)));
    let within = LIMITS.max_file_bytes + FRAMING_ALLOWANCE;
    let body = closed(&[file("a.txt", b"1")]);
    let result = read_file_field(&body[..], Some(&content_type), Some(within), LIMITS);
    assert_eq!(result, uploaded("a.txt", Some("text/plain"), b"1"));
}

#[test]
fn filename_star_only_part_is_a_file() {
    let body = closed(&[part(
        "form-data; name=file; filename*=UTF-8''%F0%9F%98%80.png",
        Some("image/png"),
        b"\x89PNG",
    )]);
    assert_eq!(
        upload(&body),
        uploaded("😀.png", Some("image/png"), b"\x89PNG")
    );
}

#[test]
fn part_content_type_is_kept_as_sent_or_none() {
    let typed = closed(&[part(
        "form-data; name=file; filename=a",
        Some("IMAGE/PNG ; x=\"y\""),
        b"1",
    )]);
    assert_eq!(
        upload(&typed),
        uploaded("a", Some("IMAGE/PNG ; x=\"y\""), b"1")
    );
    let untyped = closed(&[part("form-data; name=file; filename=a", None, b"1")]);
    assert_eq!(upload(&untyped), uploaded("a", None, b"1"));
}

#[test]
fn epilogue_after_the_close_delimiter_is_ignored() {
    let body = [
        closed(&[file("a.txt", b"1")]),
        b"junk \x00 and more".to_vec(),
    ]
    .concat();
    assert_eq!(upload(&body), uploaded("a.txt", Some("text/plain"), b"1"));
}

#[test]
fn absurd_size_hint_falls_back_to_growing_the_buffer() {
    let body = closed(&[file("a.txt", b"1")]);
    let limits = UploadLimits {
        max_file_bytes: u64::MAX,
    };
    let field = read_file_field(
        body.as_slice(),
        Some("multipart/form-data; boundary=bNd"),
        Some(u64::MAX),
        limits,
    );
    assert_eq!(field, uploaded("a.txt", Some("text/plain"), b"1"));
}

#[test]
fn allowed_types_ignore_case_and_parameters() {
    for allowed in [
        None,
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("IMAGE/PNG"),
        Some(" image/jpeg ;q=1"),
    ] {
        assert!(is_allowed_type(allowed), "{allowed:?}");
    }
}

#[test]
fn other_or_unsendable_types_are_refused() {
    for refused in [
        "image/jpg",
        "application/pdf",
        "application/octet-stream",
        "image/gif",
        "",
        "text/plain\t",
        "text/plain; x=é",
        "text/plain\x7f",
    ] {
        assert!(!is_allowed_type(Some(refused)), "{refused:?}");
    }
}

#[test]
fn content_disposition_matches_the_contract_examples() {
    assert_eq!(
        content_disposition("notes.txt"),
        r#"attachment; filename="notes.txt""#
    );
    assert_eq!(
        content_disposition(r#"say "hi".txt"#),
        r#"attachment; filename="say \"hi\".txt""#
    );
    assert_eq!(
        content_disposition(r"a\b"),
        r#"attachment; filename="a\\b""#
    );
    assert_eq!(
        content_disposition("résumé.txt"),
        "attachment; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    );
    assert_eq!(
        content_disposition("😀.txt"),
        "attachment; filename=\"_.txt\"; filename*=UTF-8''%F0%9F%98%80.txt"
    );
    assert_eq!(
        content_disposition("a \"b\"\té"),
        "attachment; filename=\"a \\\"b\\\"__\"; filename*=UTF-8''a%20%22b%22%09%C3%A9"
    );
}
