//! `--trace` through the real binary's stderr: each exchange as one block, the request head as
//! received (`> `) and the answer's head as sent (`< `), credentials redacted, JSON and text bodies
//! cut after 2 KiB, other bodies summarised, `100 Continue`, the transport errors of CONTRACT §13,
//! the access log replaced (even under `--quiet`), and blocks from concurrent clients whole.

use crate::binary;
use crate::common;

use std::io::Write;
use std::net::{Shutdown, SocketAddr};

use binary::Taskd;
use common::*;

/// The trace blocks of a stderr, each as its lines. A block starts with `* #N from` and goes on
/// while lines start with `>`, `<` or `* `; any other line (a hint, the shutdown notice) ends
/// it. A block line outside a block means two writes mixed, and fails the test.
fn blocks(stderr: &str) -> Vec<Vec<&str>> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    let mut open = false;
    for line in stderr.lines() {
        if line.starts_with("* #") {
            blocks.push(vec![line]);
            open = true;
        } else if line.starts_with(['>', '<']) || line.starts_with("* ") {
            assert!(open, "a trace line outside a block: {line:?}\n{stderr}");
            blocks.last_mut().expect("open block").push(line);
        } else {
            open = false;
        }
    }
    blocks
}

/// The one block with this line. Blocks appear as exchanges end, each after its answer was
/// written, so two clients one after the other may see their blocks in either order.
fn block_with<'a>(blocks: &'a [Vec<&'a str>], line: &str) -> &'a [&'a str] {
    let found: Vec<&Vec<&str>> = blocks
        .iter()
        .filter(|block| block.contains(&line))
        .collect();
    assert_eq!(found.len(), 1, "blocks with {line:?}: {blocks:#?}");
    found[0]
}

/// Runs `exchanges` against a `taskd --trace ARGS`, stops it, and returns its blocks' text.
fn traced(args: &[&str], exchanges: impl FnOnce(SocketAddr)) -> String {
    let mut all_args = vec!["--trace"];
    all_args.extend_from_slice(args);
    let taskd = Taskd::start(&all_args, &[]);
    exchanges(taskd.addr());
    taskd.stop()
}

/// The only block of a trace, as lines (without the `Date` line, which ticks).
fn only_block(stderr: &str) -> Vec<String> {
    let blocks = blocks(stderr);
    assert_eq!(blocks.len(), 1, "{stderr}");
    blocks[0]
        .iter()
        .filter(|line| !line.starts_with("< Date: "))
        .map(|line| (*line).to_owned())
        .collect()
}

fn json_request(addr: SocketAddr, target: &str, extra: &[&str], body: &str) -> Vec<u8> {
    let length = format!("Content-Length: {}", body.len());
    let mut lines = extra.to_vec();
    lines.extend(["Content-Type: application/json", length.as_str()]);
    let mut bytes = request_head(addr, "POST", target, &lines);
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

#[test]
fn an_exchange_shows_both_heads_and_bodies_as_they_crossed_the_wire() {
    let body = r#"{"title":"Buy milk"}"#;
    let mut created = None;
    let stderr = traced(&[], |addr| {
        let bytes = json_request(addr, "/tasks", &["Authorization: Bearer hunter2"], body);
        created = Some((addr, send_raw(addr, &bytes)));
    });
    let (addr, created) = created.unwrap();
    let lines = only_block(&stderr);
    assert!(lines[0].starts_with("* #1 from 127.0.0.1:"), "{stderr}");
    assert!(lines[0].ends_with(", connection 1"), "{stderr}");
    let expected = [
        "> POST /tasks HTTP/1.1".to_owned(),
        format!("> Host: {addr}"),
        "> Connection: close".to_owned(),
        "> Authorization: [redacted]".to_owned(),
        "> Content-Type: application/json".to_owned(),
        "> Content-Length: 20".to_owned(),
        ">".to_owned(),
        format!("> {body}"),
        "< HTTP/1.1 201 Created".to_owned(),
        "< Content-Type: application/json".to_owned(),
        format!("< Content-Length: {}", created.body.len()),
        "< Location: /tasks/1".to_owned(),
        format!(
            "< ETag: {}",
            created.header("ETag").expect("the 201 has a tag")
        ),
        "< Connection: close".to_owned(),
        "<".to_owned(),
        format!("< {}", created.text()),
    ];
    assert_eq!(lines[1..], expected, "{stderr}");
    assert!(!stderr.contains("hunter2"));
}

#[test]
fn credentials_are_redacted_whatever_the_case_even_in_a_refused_head() {
    let secrets = [
        "authorization: Basic dXNlcjpzZWNyZXQ=",
        "Proxy-Authorization: Bearer proxy-secret",
        "Cookie: session=cookie-secret",
    ];
    let stderr = traced(&[], |addr| {
        let mut lines = secrets.to_vec();
        lines.push("X-Api-Key: visible");
        assert_eq!(
            send_raw(addr, &request_head(addr, "GET", "/tasks", &lines)).status,
            200
        );
        // Refused for the line without a colon, and still redacted.
        lines.push("Broken line");
        assert_eq!(
            send_raw(addr, &request_head(addr, "GET", "/tasks", &lines)).status,
            400
        );
    });
    assert_eq!(blocks(&stderr).len(), 2, "{stderr}");
    for secret in ["dXNlcjpzZWNyZXQ=", "proxy-secret", "cookie-secret"] {
        assert!(!stderr.contains(secret), "{secret} leaked:\n{stderr}");
    }
    for shown in [
        "> authorization: [redacted]",
        "> Proxy-Authorization: [redacted]",
        "> Cookie: [redacted]",
        "> X-Api-Key: visible",
    ] {
        assert_eq!(
            stderr.matches(&format!("{shown}\n")).count(),
            2,
            "{shown}:\n{stderr}"
        );
    }
}

#[test]
fn a_json_body_is_cut_after_2_kib_with_the_rest_counted() {
    let title = "t".repeat(100);
    let notes = "n".repeat(3000);
    let body = format!(r#"{{"title":"{title}","notes":"{notes}"}}"#);
    let mut listed = 0;
    let stderr = traced(&[], |addr| {
        let created = send_raw(addr, &json_request(addr, "/tasks", &[], &body));
        assert_eq!(created.status, 201, "{}", created.text());
        for n in 0..30 {
            create_task(addr, &format!("Task number {n}"));
        }
        listed = get(addr, "/tasks?limit=100").body.len();
    });
    let blocks = blocks(&stderr);
    assert_eq!(blocks.len(), 32, "{stderr}");
    let request = block_with(&blocks, &format!("> Content-Length: {}", body.len()));
    let shown = format!("> {}", &body[..2048]);
    assert!(request.contains(&shown.as_str()), "{request:?}");
    let more = format!("> [… {} more bytes]", body.len() - 2048);
    assert!(request.contains(&more.as_str()), "{request:?}");
    let list = block_with(&blocks, "> GET /tasks?limit=100 HTTP/1.1");
    let last = list.last().unwrap();
    assert_eq!(
        *last,
        format!("< [… {} more bytes]", listed - 2048),
        "{list:?}"
    );
    let body_line = list[list.len() - 2];
    assert_eq!(body_line.len(), "< ".len() + 2048, "{body_line}");
}

#[test]
fn other_bodies_are_summarised() {
    let png: Vec<u8> = (0..3000u32).map(|n| n as u8).collect();
    let mut upload_len = 0;
    let stderr = traced(&[], |addr| {
        let id = create_task(addr, "Picture");
        let parts = [Part::file("dot.png", Some("image/png"), &png)];
        upload_len = multipart_body(&parts).len();
        assert_eq!(
            upload(addr, id, "dot.png", Some("image/png"), &png).status,
            200
        );
        assert_eq!(get(addr, "/tasks/1/attachment").body, png);
    });
    let blocks = blocks(&stderr);
    assert_eq!(blocks.len(), 3, "{stderr}");
    let upload = block_with(&blocks, "> POST /tasks/1/attachment HTTP/1.1");
    let summary = format!("> [{upload_len} bytes of multipart/form-data]");
    assert!(upload.contains(&summary.as_str()), "{upload:?}");
    let download = block_with(&blocks, "> GET /tasks/1/attachment HTTP/1.1");
    assert_eq!(download.last(), Some(&"< [3000 bytes of image/png]"));
}

/// RFC 9110 §9.3.2 and §6.4.1: no body follows the head of a HEAD's answer or of a 204.
#[test]
fn head_and_204_answers_show_no_body() {
    let stderr = traced(&[], |addr| {
        create_task(addr, "Gone soon");
        assert_eq!(request(addr, "HEAD", "/tasks", &[], b"").status, 200);
        assert_eq!(delete(addr, "/tasks/1").status, 204);
    });
    let blocks = blocks(&stderr);
    assert_eq!(blocks.len(), 3, "{stderr}");
    let head = block_with(&blocks, "> HEAD /tasks HTTP/1.1");
    let deleted = block_with(&blocks, "> DELETE /tasks/1 HTTP/1.1");
    for block in [head, deleted] {
        assert_eq!(block.last(), Some(&"<"), "{block:?}");
    }
    // HEAD's answer declares GET's length (a list of one task), and sends none of it.
    let declared = head
        .iter()
        .find_map(|line| line.strip_prefix("< Content-Length: "));
    assert!(
        declared.is_some_and(|length| length.parse::<u32>().unwrap() > 2),
        "{head:?}"
    );
}

#[test]
fn control_bytes_are_escaped_and_a_refused_head_is_traced_with_why() {
    let stderr = traced(&[], |addr| {
        let response = send_raw(
            addr,
            b"GET /tasks HTTP/1.1\r\nHost: x\r\nX-Bell: a\x07b\x1b[2J\r\n\r\n",
        );
        assert_eq!(response.status, 400);
    });
    let lines = only_block(&stderr);
    let expected = [
        "> GET /tasks HTTP/1.1",
        "> Host: x",
        "> X-Bell: a\\x07b\\x1b[2J",
        ">",
        "* refused: the request head breaks RFC 9112 (a line, Host, Content-Length or \
         Transfer-Encoding)",
        "< HTTP/1.1 400 Bad Request",
        "< Content-Type: application/json",
        "< Content-Length: 24",
        "< Connection: close",
        "<",
        "< {\"detail\":\"Bad Request\"}",
    ];
    assert_eq!(lines[1..], expected, "{stderr}");
}

#[test]
fn a_body_cut_short_is_traced_with_no_answer() {
    let stderr = traced(&[], |addr| {
        let mut stream = connect(addr);
        let head = request_head(
            addr,
            "POST",
            "/tasks",
            &["Content-Type: application/json", "Content-Length: 100"],
        );
        stream.write_all(&head).unwrap();
        stream.write_all(br#"{"title":"#).unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        // The server closes without an answer once it sees the end.
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut rest).unwrap();
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    });
    let lines = only_block(&stderr);
    let tail = [
        ">",
        "> {\"title\":",
        "> [… 91 more bytes]",
        "* the connection ended before the body did: nothing was answered, nothing changed",
    ];
    assert_eq!(lines[lines.len() - 4..], tail, "{stderr}");
}

#[test]
fn a_head_cut_short_is_traced_with_what_arrived() {
    let stderr = traced(&[], |addr| {
        let mut stream = connect(addr);
        stream.write_all(b"GET /tasks HTTP/1.1\r\nHo").unwrap();
        stream.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut rest).unwrap();
        assert!(rest.is_empty());
    });
    let lines = only_block(&stderr);
    let expected = [
        "> GET /tasks HTTP/1.1",
        "> Ho",
        "* the connection ended before the request head was complete: nothing was answered",
    ];
    assert_eq!(lines[1..], expected, "{stderr}");
}

#[test]
fn slow_heads_and_broken_chunks_are_traced_with_why() {
    let stderr = traced(&["--request-timeout", "0.3"], |addr| {
        let mut stream = connect(addr);
        stream.write_all(b"GET /tasks HTTP/1.1\r\n").unwrap();
        let response = read_one_response(&mut stream, &mut Vec::new(), false);
        assert_eq!(response.status, 408);
        let mut chunked = request_head(
            addr,
            "POST",
            "/tasks",
            &[
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            ],
        );
        chunked.extend_from_slice(b"zz\r\n{}\r\n0\r\n\r\n");
        assert_eq!(send_raw(addr, &chunked).status, 400);
    });
    let blocks = blocks(&stderr);
    assert_eq!(blocks.len(), 2, "{stderr}");
    let slow = block_with(&blocks, "< HTTP/1.1 408 Request Timeout");
    let note = "* refused: the request head was not complete within --request-timeout";
    assert!(slow.contains(&note), "{slow:?}");
    let broken = block_with(&blocks, "< HTTP/1.1 400 Bad Request");
    let note = "* refused: the body's chunked framing is broken (RFC 9112 §7.1)";
    assert!(broken.contains(&note), "{broken:?}");
}

/// RFC 9110 §10.1.1: the interim answer is shown before the final one, as `curl -v` shows it.
#[test]
fn a_100_continue_is_shown_before_the_answer() {
    let stderr = traced(&[], |addr| {
        let body = br#"{"title":"Patient"}"#;
        let head = request_head(
            addr,
            "POST",
            "/tasks",
            &[
                "Content-Type: application/json",
                "Content-Length: 19",
                "Expect: 100-continue",
            ],
        );
        assert_eq!(send_expecting_continue(addr, &head, body).status, 201);
    });
    let lines = only_block(&stderr);
    let at = lines
        .iter()
        .position(|line| line == "< HTTP/1.1 100 Continue")
        .expect("100 Continue shown");
    assert_eq!(lines[at - 1], "> {\"title\":\"Patient\"}");
    assert_eq!(lines[at + 1..at + 3], ["<", "< HTTP/1.1 201 Created"]);
}

/// `--trace` replaces the access log, and shows the blocks even under `--quiet`.
#[test]
fn the_trace_replaces_the_access_log_and_wins_over_quiet() {
    for args in [&[][..], &["--quiet"]] {
        let stderr = traced(args, |addr| {
            assert_eq!(get(addr, "/healthz").status, 200);
        });
        assert_eq!(blocks(&stderr).len(), 1, "{args:?}: {stderr}");
        assert!(
            !stderr.contains("\"GET /healthz HTTP/1.1\" 200"),
            "{args:?}: {stderr}"
        );
    }
    let taskd = Taskd::start(&[], &[]);
    assert_eq!(get(taskd.addr(), "/healthz").status, 200);
    let stderr = taskd.stop();
    assert!(stderr.contains("\"GET /healthz HTTP/1.1\" 200"), "{stderr}");
    assert!(blocks(&stderr).is_empty(), "{stderr}");
}

/// Blocks are written whole, numbered in the order written: a block of one client never has
/// another's lines inside it, however many write at once (each block here is over 4 KiB, more
/// than a pipe writes atomically).
#[test]
fn blocks_from_concurrent_clients_never_interleave() {
    const CLIENTS: usize = 8;
    const REQUESTS: usize = 6;
    let stderr = traced(&[], |addr| {
        std::thread::scope(|scope| {
            for client in 0..CLIENTS {
                scope.spawn(move || {
                    for n in 0..REQUESTS {
                        let tag = format!("{client}-{n}");
                        let body = format!(r#"{{"title":"{tag}","notes":"{}"}}"#, tag.repeat(300));
                        let client_line = format!("X-Client: {tag}");
                        let bytes = json_request(addr, "/tasks", &[&client_line], &body);
                        assert_eq!(send_raw(addr, &bytes).status, 201);
                    }
                });
            }
        });
    });
    let blocks = blocks(&stderr);
    assert_eq!(blocks.len(), CLIENTS * REQUESTS, "{stderr}");
    for (at, block) in blocks.iter().enumerate() {
        assert!(
            block[0].starts_with(&format!("* #{} from ", at + 1)),
            "{}",
            block[0]
        );
        let tags: Vec<&str> = block
            .iter()
            .filter_map(|line| line.strip_prefix("> X-Client: "))
            .collect();
        assert_eq!(tags.len(), 1, "{block:?}");
        let title = format!("\"title\":\"{}\"", tags[0]);
        let lines_with_title = block.iter().filter(|line| line.contains(&title)).count();
        assert_eq!(
            lines_with_title, 2,
            "request and answer bodies of {}: {block:?}",
            tags[0]
        );
        let starts = |prefix: &str| block.iter().filter(|line| line.starts_with(prefix)).count();
        assert_eq!(
            (starts("> POST "), starts("< HTTP/1.1 ")),
            (1, 1),
            "{block:?}"
        );
    }
}
