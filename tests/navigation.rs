//! CONTRACT §11's list navigation over HTTP: `X-Total-Count` (matches before `skip` and
//! `limit`) and an RFC 8288 `Link` with relative, canonical targets.

use crate::common;
use common::*;

use std::net::SocketAddr;

/// Twelve tasks: ids 1–12, priority high for the even ones, done for every third.
fn server_with_twelve() -> TestServer {
    let server = spawn_server();
    let addr = server.addr();
    for n in 1..=12 {
        let priority = if n % 2 == 0 { "high" } else { "low" };
        let done = n % 3 == 0;
        let body = format!(r#"{{"title":"task {n}","priority":"{priority}","done":{done}}}"#);
        assert_eq!(post_json(addr, "/tasks", &body).status, 201);
    }
    server
}

fn navigation(addr: SocketAddr, target: &str) -> (String, String) {
    let response = get(addr, target);
    assert_eq!(response.status, 200, "{target}: {}", response.text());
    let total = response.header("X-Total-Count").expect("X-Total-Count");
    let link = response.header("Link").expect("Link");
    (total.to_owned(), link.to_owned())
}

fn the_first_page_links_to_next_and_last() {
    let server = server_with_twelve();
    let (total, link) = navigation(server.addr(), "/tasks?limit=5");
    assert_eq!(total, "12");
    assert_eq!(
        link,
        "</tasks?skip=0&limit=5>; rel=\"first\", </tasks?skip=5&limit=5>; rel=\"next\", \
         </tasks?skip=7&limit=5>; rel=\"last\""
    );
}

fn a_middle_page_links_both_ways() {
    let server = server_with_twelve();
    let (_, link) = navigation(server.addr(), "/tasks?skip=3&limit=5");
    assert_eq!(
        link,
        "</tasks?skip=0&limit=5>; rel=\"first\", </tasks?skip=0&limit=5>; rel=\"prev\", \
         </tasks?skip=8&limit=5>; rel=\"next\", </tasks?skip=7&limit=5>; rel=\"last\""
    );
}

/// Filters come first in the targets, in the order `done`, `priority`, canonically spelled,
/// whatever the request wrote; the total counts matches only.
fn filters_are_counted_and_linked_canonically() {
    let server = server_with_twelve();
    let addr = server.addr();
    let (total, link) = navigation(addr, "/tasks?priority=high&done=Off&limit=2&color=red");
    // Even ids not divisible by 3: 2, 4, 8, 10.
    assert_eq!(total, "4");
    assert_eq!(
        link,
        "</tasks?done=false&priority=high&skip=0&limit=2>; rel=\"first\", \
         </tasks?done=false&priority=high&skip=2&limit=2>; rel=\"next\", \
         </tasks?done=false&priority=high&skip=2&limit=2>; rel=\"last\""
    );
    let (total, _) = navigation(addr, "/tasks?done=1");
    assert_eq!(total, "4");
    let (total, _) = navigation(addr, "/tasks?priority=medium");
    assert_eq!(total, "0");
}

/// The default limit is the effective one (100); past the end there is no next page.
fn defaults_and_the_end_of_the_list() {
    let server = server_with_twelve();
    let addr = server.addr();
    let (total, link) = navigation(addr, "/tasks");
    assert_eq!(total, "12");
    assert_eq!(
        link,
        "</tasks?skip=0&limit=100>; rel=\"first\", </tasks?skip=0&limit=100>; rel=\"last\""
    );
    let (_, link) = navigation(addr, "/tasks?skip=50&limit=10");
    assert!(!link.contains("rel=\"next\""), "{link}");
    assert!(
        link.contains("</tasks?skip=40&limit=10>; rel=\"prev\""),
        "{link}"
    );
}

/// With `limit=0` only `first` and `last`: no step of 0 leads anywhere.
fn limit_zero_links_first_and_last_only() {
    let server = server_with_twelve();
    let (total, link) = navigation(server.addr(), "/tasks?skip=4&limit=0");
    assert_eq!(total, "12");
    assert_eq!(
        link,
        "</tasks?skip=0&limit=0>; rel=\"first\", </tasks?skip=12&limit=0>; rel=\"last\""
    );
}

/// The total follows creates, patches and deletes.
fn the_total_follows_every_change() {
    let server = server_with_twelve();
    let addr = server.addr();
    assert_eq!(patch_json(addr, "/tasks/1", r#"{"done":true}"#).status, 200);
    assert_eq!(navigation(addr, "/tasks?done=true").0, "5");
    assert_eq!(delete(addr, "/tasks/3").status, 204);
    assert_eq!(navigation(addr, "/tasks?done=true").0, "4");
    assert_eq!(navigation(addr, "/tasks").0, "11");
    // A 422 has neither field.
    let bad = get(addr, "/tasks?limit=5000");
    assert_eq!(bad.status, 422);
    assert!(!bad.has_header("X-Total-Count") && !bad.has_header("Link"));
}

// Every test above, once per storage backend (tests/common/backend.rs).
backend_tests! {
    the_first_page_links_to_next_and_last,
    a_middle_page_links_both_ways,
    filters_are_counted_and_linked_canonically,
    defaults_and_the_end_of_the_list,
    limit_zero_links_first_and_last_only,
    the_total_follows_every_change,
}
