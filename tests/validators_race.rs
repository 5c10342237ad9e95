//! The lost update `If-Match` exists for (RFC 9110 §13.1.1), under concurrency: clients that all
//! pass the same precondition and then all send their change get exactly one 2xx between them;
//! every other one is a 412, and the resource holds the winner's change. Each client sends its
//! head with `Expect: 100-continue`, so `100 Continue` says its precondition held; only when
//! every client has heard that do they all send their bodies. What makes the outcome hold is the
//! store's compare-and-set on the revision the preconditions were checked against.

use crate::common;
use common::*;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;

const CLIENTS: usize = 6;

/// Each client sends `head(n)`, waits for `100 Continue`, waits for the others, then sends
/// `body(n)`; returns the final statuses.
fn race(
    addr: SocketAddr,
    head: impl Fn(usize, usize) -> Vec<u8> + Send + Sync + 'static,
    body: impl Fn(usize) -> Vec<u8> + Send + Sync + 'static,
) -> Vec<u16> {
    let (head, body) = (Arc::new(head), Arc::new(body));
    let passed = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (head, body, passed) = (head.clone(), body.clone(), passed.clone());
            thread::spawn(move || {
                let content = body(n);
                let mut stream = connect(addr);
                stream.write_all(&head(n, content.len())).unwrap();
                let mut buffer = Vec::new();
                let interim = read_one_response(&mut stream, &mut buffer, false);
                assert_eq!(interim.status, 100, "the precondition held for client {n}");
                passed.wait();
                stream.write_all(&content).unwrap();
                read_one_response(&mut stream, &mut buffer, false).status
            })
        })
        .collect();
    clients.into_iter().map(|c| c.join().unwrap()).collect()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

fn of_patches_with_one_etag_exactly_one_wins() {
    let server = server_with_task();
    let addr = server.addr();
    let tag = get(addr, "/tasks/1").header("ETag").unwrap().to_owned();
    let head = move |_, length: usize| {
        let lines = [
            "Content-Type: application/json".to_owned(),
            format!("Content-Length: {length}"),
            format!("If-Match: {tag}"),
            "Expect: 100-continue".to_owned(),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        request_head(addr, "PATCH", "/tasks/1", &lines)
    };
    let body = |n| format!(r#"{{"title":"winner {n}"}}"#).into_bytes();
    let statuses = race(addr, head, body);
    assert_eq!(count(&statuses, 200), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 412), CLIENTS - 1, "{statuses:?}");
    let title = get(addr, "/tasks/1").json()["title"].clone();
    assert!(title.as_str().unwrap().starts_with("winner "), "{title}");
}

/// `If-None-Match: *` on an upload means "only if there is no attachment yet": of clients
/// uploading at once, one creates it.
fn of_uploads_that_each_want_to_be_first_exactly_one_is() {
    let server = server_with_task();
    let addr = server.addr();
    let head = move |_, length: usize| {
        let lines = [
            format!("Content-Type: {}", form_type()),
            format!("Content-Length: {length}"),
            "If-None-Match: *".to_owned(),
            "Expect: 100-continue".to_owned(),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        request_head(addr, "POST", "/tasks/1/attachment", &lines)
    };
    let body = |n| {
        let content = format!("upload {n}");
        multipart_body(&[Part::file("a.txt", Some("text/plain"), content.as_bytes())])
    };
    let statuses = race(addr, head, body);
    assert_eq!(count(&statuses, 200), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 412), CLIENTS - 1, "{statuses:?}");
}

// Every test above, once per storage backend (tests/common/backend.rs).
backend_tests! {
    of_patches_with_one_etag_exactly_one_wins,
    of_uploads_that_each_want_to_be_first_exactly_one_is,
}
