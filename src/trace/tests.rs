//! Unit tests of the trace block: layout, redaction, escaping, bodies cut at 2 KiB, and the
//! sink.
use std::io::{self, Write};

use super::*;

fn client() -> SocketAddr {
    "127.0.0.1:51234".parse().unwrap()
}

fn exchange<'a>(request: Message<'a>, response: Option<Message<'a>>) -> Exchange<'a> {
    Exchange {
        client: client(),
        connection: 3,
        request,
        request_error: None,
        response,
        response_error: None,
    }
}

fn head(head: &[u8]) -> Message<'_> {
    Message { head, body: None }
}

fn body<'a>(first_bytes: &'a [u8], total_len: u64, content_type: Option<&'a str>) -> Message<'a> {
    Message {
        head: b"",
        body: Some(BodySample {
            first_bytes,
            total_len,
            content_type,
        }),
    }
}

/// The lines the request part shows (the block's first line and the response aside).
fn request_lines(request: Message<'_>) -> Vec<String> {
    format_exchange(12, &exchange(request, None))
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

fn text_body(bytes: &[u8], total_len: u64) -> Vec<String> {
    request_lines(body(bytes, total_len, Some("text/plain; charset=utf-8")))
}

#[test]
fn a_whole_exchange_reads_like_curl_verbose() {
    let request_head = b"POST /tasks HTTP/1.1\r\nHost: localhost:8000\r\n\
        Authorization: Bearer s3cret\r\nContent-Type: application/json\r\n\
        Content-Length: 20\r\n\r\n";
    let response_head = b"HTTP/1.1 201 Created\r\nLocation: /tasks/1\r\n\
        Content-Type: application/json\r\nContent-Length: 74\r\n\r\n";
    let created =
        br#"{"id":1,"title":"Buy milk","priority":"medium","done":false,"attachment":null}"#;
    let request = Message {
        head: request_head,
        body: Some(BodySample {
            first_bytes: br#"{"title":"Buy milk"}"#,
            total_len: 20,
            content_type: Some("application/json"),
        }),
    };
    let response = Message {
        head: response_head,
        body: Some(BodySample {
            first_bytes: created,
            total_len: created.len() as u64,
            content_type: Some("application/json"),
        }),
    };
    assert_eq!(
        format_exchange(12, &exchange(request, Some(response))),
        "* #12 from 127.0.0.1:51234, connection 3\n\
         > POST /tasks HTTP/1.1\n\
         > Host: localhost:8000\n\
         > Authorization: [redacted]\n\
         > Content-Type: application/json\n\
         > Content-Length: 20\n\
         >\n\
         > {\"title\":\"Buy milk\"}\n\
         < HTTP/1.1 201 Created\n\
         < Location: /tasks/1\n\
         < Content-Type: application/json\n\
         < Content-Length: 74\n\
         <\n\
         < {\"id\":1,\"title\":\"Buy milk\",\"priority\":\"medium\",\"done\":false,\"attachment\":null}\n"
    );
}

#[test]
fn the_header_line_names_sequence_client_and_connection() {
    let mut traced = exchange(head(b"GET / HTTP/1.1\r\n\r\n"), None);
    traced.client = "[::1]:8080".parse().unwrap();
    traced.connection = 99;
    let block = format_exchange(1, &traced);
    assert_eq!(
        block.lines().next(),
        Some("* #1 from [::1]:8080, connection 99")
    );
}

#[test]
fn credentials_are_redacted_whatever_the_case_and_the_name_is_kept() {
    let lines = request_lines(head(
        b"GET /tasks HTTP/1.1\r\nauthorization: Bearer a\r\nPROXY-AUTHORIZATION: Basic b\r\n\
          Cookie: session=c\r\nCookie:d\r\nAuthorization : Bearer e\r\n\r\n",
    ));
    assert_eq!(
        lines,
        [
            "> GET /tasks HTTP/1.1",
            "> authorization: [redacted]",
            "> PROXY-AUTHORIZATION: [redacted]",
            "> Cookie: [redacted]",
            "> Cookie: [redacted]",
            "> Authorization : [redacted]",
            ">",
        ]
    );
}

#[test]
fn other_fields_keep_their_values() {
    let lines = request_lines(head(
        b"GET / HTTP/1.1\r\nX-Authorization: a\r\nAuthorization-Hint: b\r\n\
          Set-Cookie2: c\r\nWWW-Authenticate: Bearer\r\nCookies: d\r\n\r\n",
    ));
    assert_eq!(
        lines,
        [
            "> GET / HTTP/1.1",
            "> X-Authorization: a",
            "> Authorization-Hint: b",
            "> Set-Cookie2: c",
            "> WWW-Authenticate: Bearer",
            "> Cookies: d",
            ">",
        ]
    );
}

/// RFC 9112 §5.2: an obs-fold line continues the field above it.
#[test]
fn a_continuation_of_a_redacted_field_is_redacted_too() {
    let lines = request_lines(head(
        b"GET / HTTP/1.1\r\nAuthorization: Bearer\r\n  s3cret\r\n\tmore\r\nAccept: */*\r\n \
          folded\r\n\r\n",
    ));
    assert_eq!(
        lines,
        [
            "> GET / HTTP/1.1",
            "> Authorization: [redacted]",
            "> [redacted]",
            "> [redacted]",
            "> Accept: */*",
            ">  folded",
            ">",
        ]
    );
}

#[test]
fn control_bytes_and_invalid_utf8_are_escaped_in_heads() {
    let lines = request_lines(head(
        b"GET /\x07bell HTTP/1.1\r\nX-A: tab\there\r\nX-B: nul\x00 del\x7f\r\n\
          X-C: lone\rcr\r\nX-D: caf\xc3\xa9 \xff\xfe\r\nX-E: c1\xc2\x85 \xe2\x80\xae\r\n\r\n",
    ));
    assert_eq!(
        lines,
        [
            "> GET /\\x07bell HTTP/1.1",
            "> X-A: tab\\there",
            "> X-B: nul\\x00 del\\x7f",
            "> X-C: lone\\rcr",
            "> X-D: café \\xff\\xfe",
            "> X-E: c1\\u{85} \u{202e}",
            ">",
        ]
    );
}

/// RFC 9112 §2.2: a bare LF may end a request line; the trace shows that it did.
#[test]
fn a_bare_lf_line_end_shows_as_backslash_n() {
    let lines = request_lines(head(b"GET / HTTP/1.1\nHost: a\r\n\n"));
    assert_eq!(lines, ["> GET / HTTP/1.1\\n", "> Host: a", "> \\n"]);
}

#[test]
fn a_head_cut_short_shows_what_arrived() {
    let mut traced = exchange(
        head(b"GET /tasks HTTP/1.1\r\nHost: loc"),
        Some(head(
            b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n",
        )),
    );
    traced.request_error = Some("request head not complete after 10 s");
    let block = format_exchange(12, &traced);
    assert_eq!(
        block,
        "* #12 from 127.0.0.1:51234, connection 3\n\
         > GET /tasks HTTP/1.1\n\
         > Host: loc\n\
         * request head not complete after 10 s\n\
         < HTTP/1.1 408 Request Timeout\n\
         < Connection: close\n\
         <\n"
    );
}

#[test]
fn transport_notes_follow_their_side_and_no_response_shows_none() {
    let mut traced = exchange(head(b"GET / HTTP/1.1\r\n\r\n"), None);
    traced.response_error = Some("write abandoned\x1b[2J");
    traced.request_error = Some("first");
    let block = format_exchange(12, &traced);
    assert_eq!(
        block,
        "* #12 from 127.0.0.1:51234, connection 3\n\
         > GET / HTTP/1.1\n\
         >\n\
         * first\n\
         * write abandoned\\x1b[2J\n"
    );
}

#[test]
fn no_body_shows_nothing() {
    assert_eq!(
        request_lines(body(b"", 0, Some("application/json"))),
        Vec::<String>::new()
    );
    assert_eq!(request_lines(body(b"", 0, None)), Vec::<String>::new());
    assert_eq!(request_lines(head(b"")), Vec::<String>::new());
}

#[test]
fn json_and_text_types_are_shown() {
    for content_type in [
        "application/json",
        "Application/JSON; charset=utf-8",
        "application/problem+json",
        "text/plain",
        "text/html; charset=utf-8",
        "TEXT/CSV",
        "application/x-www-form-urlencoded",
    ] {
        let lines = request_lines(body(b"hello", 5, Some(content_type)));
        assert_eq!(lines, ["> hello"], "{content_type}");
    }
}

#[test]
fn other_bodies_are_summarised() {
    let cases = [
        (
            Some("image/png"),
            1_048_576,
            "> [1048576 bytes of image/png]",
        ),
        (
            Some("multipart/form-data; boundary=x"),
            300,
            "> [300 bytes of multipart/form-data]",
        ),
        (
            Some("application/octet-stream"),
            1,
            "> [1 byte of application/octet-stream]",
        ),
        (Some("a/b\x1b"), 2, "> [2 bytes of a/b\\x1b]"),
        (None, 5, "> [5 bytes, no Content-Type]"),
        (Some(""), 5, "> [5 bytes, no Content-Type]"),
        (Some(" ; q=1"), 5, "> [5 bytes, no Content-Type]"),
    ];
    for (content_type, total, line) in cases {
        let lines = request_lines(body(b"\x89PNG\r\n", total, content_type));
        assert_eq!(lines, [line], "{content_type:?}");
    }
}

#[test]
fn text_lines_break_at_lf_and_crlf_and_escape_the_rest() {
    let text = b"one\r\ntwo\nthree\rfour\x07\n\nsix\n";
    assert_eq!(
        text_body(text, text.len() as u64),
        ["> one", "> two", "> three\\rfour\\x07", ">", "> six"]
    );
    assert_eq!(text_body(b"\n", 1), [">"]);
    assert_eq!(text_body(b"a\n", 2), ["> a"]);
    assert_eq!(text_body(b"a\n\n", 3), ["> a", ">"]);
}

#[test]
fn a_body_of_exactly_2_kib_is_shown_whole() {
    let whole = vec![b'a'; TRACE_BODY_BYTES];
    let lines = text_body(&whole, whole.len() as u64);
    assert_eq!(lines, [format!("> {}", "a".repeat(TRACE_BODY_BYTES))]);
}

#[test]
fn a_longer_body_shows_2_kib_then_what_is_left() {
    let long = vec![b'a'; 4096];
    let shown = format!("> {}", "a".repeat(TRACE_BODY_BYTES));
    assert_eq!(
        text_body(&long[..2049], 2049),
        [shown.clone(), "> [… 1 more byte]".to_owned()]
    );
    assert_eq!(
        text_body(&long, 4096),
        [shown.clone(), "> [… 2048 more bytes]".to_owned()]
    );
    // Only the first bytes were kept: the rest is counted from the total.
    assert_eq!(
        text_body(&long[..TRACE_BODY_BYTES], 1 << 30),
        [shown, format!("> [… {} more bytes]", (1 << 30) - 2048)]
    );
    assert_eq!(text_body(b"", 10), ["> [… 10 more bytes]"]);
}

/// A character cut by the 2 KiB edge is left out whole, never shown as invalid bytes.
#[test]
fn a_character_cut_at_the_edge_is_left_out() {
    for character in ["é", "€", "😀"] {
        for missing in 1..character.len() {
            let mut text = "a".repeat(TRACE_BODY_BYTES - (character.len() - missing));
            text.push_str(character);
            text.push_str("tail");
            let total = text.len() as u64;
            let kept = TRACE_BODY_BYTES - (character.len() - missing);
            let lines = text_body(text.as_bytes(), total);
            assert_eq!(
                lines,
                [
                    format!("> {}", "a".repeat(kept)),
                    format!("> [… {} more bytes]", total - kept as u64),
                ],
                "{character} missing {missing}"
            );
        }
    }
}

#[test]
fn a_character_ending_exactly_at_the_edge_is_kept() {
    let mut text = "a".repeat(TRACE_BODY_BYTES - 4);
    text.push_str("😀€");
    let lines = text_body(text.as_bytes(), text.len() as u64);
    assert_eq!(
        lines,
        [
            format!("> {}😀", "a".repeat(TRACE_BODY_BYTES - 4)),
            "> [… 3 more bytes]".to_owned()
        ]
    );
}

/// A body that really ends in a broken sequence, or has invalid bytes at the edge, shows them.
#[test]
fn invalid_bytes_at_the_edge_are_escaped_not_dropped() {
    assert_eq!(text_body(b"caf\xc3", 4), ["> caf\\xc3"]);
    let mut cut = vec![b'a'; TRACE_BODY_BYTES - 1];
    cut.push(0xff);
    cut.extend_from_slice(b"more");
    let lines = text_body(&cut, cut.len() as u64);
    assert_eq!(lines[1], "> [… 4 more bytes]");
    assert!(lines[0].ends_with("a\\xff"), "{}", lines[0]);
}

#[test]
fn the_sink_numbers_blocks_from_one_in_the_order_written() {
    let sink = TraceSink::new(Vec::new());
    let traced = exchange(head(b"GET / HTTP/1.1\r\n\r\n"), None);
    let numbers = (
        sink.write(&traced),
        sink.write(&traced),
        sink.write(&traced),
    );
    assert_eq!(numbers, (1, 2, 3));
    let output = String::from_utf8(sink.into_inner()).unwrap();
    let firsts: Vec<&str> = output.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(
        firsts,
        [1, 2, 3].map(|n| format!("* #{n} from 127.0.0.1:51234, connection 3"))
    );
}

/// A writer that takes one byte per call and lets other threads run in between, so a block
/// written in more than one locked call would interleave.
struct Trickle(Vec<u8>);

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        std::thread::yield_now();
        match buf.first() {
            Some(&byte) => {
                self.0.push(byte);
                Ok(1)
            }
            None => Ok(0),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn blocks_from_many_threads_never_interleave() {
    let sink = TraceSink::new(Trickle(Vec::new()));
    let heads: Vec<String> = (0..8)
        .map(|n| format!("GET /tasks/{n} HTTP/1.1\r\nHost: h{n}\r\nX-N: {n}\r\n\r\n"))
        .collect();
    std::thread::scope(|scope| {
        for (connection, head) in heads.iter().enumerate() {
            let sink = &sink;
            scope.spawn(move || {
                let mut traced = exchange(
                    Message {
                        head: head.as_bytes(),
                        body: None,
                    },
                    None,
                );
                traced.connection = connection as u64;
                sink.write(&traced);
            });
        }
    });
    let output = String::from_utf8(sink.into_inner().0).unwrap();
    let blocks: Vec<&str> = output.split_inclusive("\n>\n").collect();
    assert_eq!(blocks.len(), 8);
    let mut connections: Vec<u64> = blocks
        .iter()
        .map(|block| {
            let connection: u64 = block.lines().next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
            let expected = format!(
                "> GET /tasks/{connection} HTTP/1.1\n> Host: h{connection}\n> X-N: {connection}\n>\n"
            );
            assert!(block.ends_with(&expected), "{block}");
            connection
        })
        .collect();
    connections.sort_unstable();
    assert_eq!(connections, (0..8).collect::<Vec<u64>>());
    let numbers: Vec<&str> = blocks
        .iter()
        .map(|block| block.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(numbers, ["#1", "#2", "#3", "#4", "#5", "#6", "#7", "#8"]);
}
