//! The lost update `If-Match` exists for (RFC 9110 §13.1.1), under concurrency: clients that all
//! read the same `ETag` and then all send a conditional change get exactly one 2xx between them;
//! every other one is a 412, and the task holds the winner's change. The store's compare-and-set
//! on the revision the preconditions were checked against is what makes that hold.

mod common;
use common::*;

use std::sync::{Arc, Barrier};
use std::thread;

const CLIENTS: usize = 8;

fn race(send: impl Fn(usize) -> Response + Send + Sync + 'static) -> Vec<u16> {
    let send = Arc::new(send);
    let start = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (send, start) = (Arc::clone(&send), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                send(n).status
            })
        })
        .collect();
    clients.into_iter().map(|c| c.join().unwrap()).collect()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

#[test]
fn of_patches_with_one_etag_exactly_one_wins() {
    let server = server_with_task();
    let addr = server.addr();
    let tag = get(addr, "/tasks/1").header("ETag").unwrap().to_owned();
    let statuses = race(move |n| {
        let body = format!(r#"{{"title":"winner {n}"}}"#);
        let headers = [
            ("Content-Type", "application/json"),
            ("If-Match", tag.as_str()),
        ];
        request(addr, "PATCH", "/tasks/1", &headers, body.as_bytes())
    });
    assert_eq!(count(&statuses, 200), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 412), CLIENTS - 1, "{statuses:?}");
    let title = get(addr, "/tasks/1").json()["title"].clone();
    assert!(title.as_str().unwrap().starts_with("winner "), "{title}");
}

/// `If-None-Match: *` on an upload means "only if there is no attachment yet": of clients
/// uploading at once, one creates it.
#[test]
fn of_uploads_that_each_want_to_be_first_exactly_one_is() {
    let server = server_with_task();
    let addr = server.addr();
    let statuses = race(move |n| {
        let content = format!("upload {n}");
        let body = multipart_body(&[Part::file("a.txt", Some("text/plain"), content.as_bytes())]);
        let form = form_type();
        let headers = [("Content-Type", form.as_str()), ("If-None-Match", "*")];
        request(addr, "POST", "/tasks/1/attachment", &headers, &body)
    });
    assert_eq!(count(&statuses, 200), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 412), CLIENTS - 1, "{statuses:?}");
}
