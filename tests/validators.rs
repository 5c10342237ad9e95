//! CONTRACT §11's validators on the wire: a strong `ETag` and `Cache-Control: no-cache` on
//! every 200 of a task, an attachment and a list page (HEAD too), the tag of the new task on
//! the 201 and the PATCH 200, the attachment's tag on the upload's 200, `Last-Modified` and
//! `Accept-Ranges` on attachments only; and what a tag covers (RFC 9110 §8.8.3).

use crate::common;
use common::*;

use std::net::SocketAddr;

use taskd::test_hooks::{parse_http_date, EntityTag};
use taskd::Config;

/// `"` + visible ASCII but `"` + `"` (RFC 9110 §8.8.3): a strong tag.
fn assert_strong_tag(response: &Response) -> String {
    let tag = response.header("ETag").expect("an ETag").to_owned();
    assert!(
        tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"'),
        "{tag}"
    );
    let opaque = &tag[1..tag.len() - 1];
    assert!(
        opaque
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b)),
        "{tag}"
    );
    tag
}

fn assert_validated(response: &Response) -> String {
    assert_eq!(response.header("Cache-Control"), Some("no-cache"));
    assert_strong_tag(response)
}

fn head(addr: SocketAddr, target: &str) -> Response {
    let mut stream = connect(addr);
    std::io::Write::write_all(&mut stream, &request_head(addr, "HEAD", target, &[])).unwrap();
    read_one_response(&mut stream, &mut Vec::new(), true)
}

fn a_task_has_a_tag_of_its_json_on_get_and_head() {
    let server = server_with_task();
    let addr = server.addr();
    let response = get(addr, "/tasks/1");
    assert_eq!(response.status, 200);
    let tag = assert_validated(&response);
    assert_eq!(tag, EntityTag::for_task(&response.body).as_str());
    assert!(!response.has_header("Last-Modified"), "tasks have no time");
    assert!(!response.has_header("Accept-Ranges"));
    let head = head(addr, "/tasks/1");
    assert_eq!(head.header("ETag"), Some(tag.as_str()));
    assert_eq!(head.header("Cache-Control"), Some("no-cache"));
}

fn create_and_patch_answer_with_the_tasks_new_tag() {
    let server = spawn_server();
    let addr = server.addr();
    let created = post_json(addr, "/tasks", r#"{"title":"Tagged"}"#);
    assert_eq!(created.status, 201);
    let first = assert_strong_tag(&created);
    assert_eq!(get(addr, "/tasks/1").header("ETag"), Some(first.as_str()));
    let patched = patch_json(addr, "/tasks/1", r#"{"done":true}"#);
    assert_eq!(patched.status, 200);
    let second = assert_validated(&patched);
    assert_ne!(first, second, "the representation changed, so must its tag");
    assert_eq!(get(addr, "/tasks/1").header("ETag"), Some(second.as_str()));
    // `{}` changes nothing: same representation, same tag.
    let unchanged = patch_json(addr, "/tasks/1", "{}");
    assert_eq!(unchanged.header("ETag"), Some(second.as_str()));
}

fn an_upload_answers_with_the_attachments_tag_not_the_tasks() {
    let server = server_with_task();
    let addr = server.addr();
    let uploaded = upload(
        addr,
        1,
        "notes.txt",
        Some("text/plain"),
        b"hello fastapi files",
    );
    assert_eq!(uploaded.status, 200);
    let tag = assert_validated(&uploaded);
    assert_ne!(Some(tag.as_str()), get(addr, "/tasks/1").header("ETag"));
    let download = get(addr, "/tasks/1/attachment");
    assert_eq!(download.header("ETag"), Some(tag.as_str()));
}

fn a_download_has_every_validator_and_accept_ranges() {
    let server = server_with_task();
    let addr = server.addr();
    upload(
        addr,
        1,
        "notes.txt",
        Some("text/plain"),
        b"hello fastapi files",
    );
    let download = get(addr, "/tasks/1/attachment");
    assert_eq!(download.status, 200);
    assert_validated(&download);
    assert_eq!(download.header("Accept-Ranges"), Some("bytes"));
    let stored = download.header("Last-Modified").expect("Last-Modified");
    let date = download.header("Date").unwrap();
    let (stored, date) = (
        parse_http_date(stored).unwrap(),
        parse_http_date(date).unwrap(),
    );
    // RFC 9110 §8.8.2.1: never later than the response's Date.
    assert!(stored <= date);
    assert!(date.duration_since(stored).unwrap().as_secs() < 60);
    let head = head(addr, "/tasks/1/attachment");
    assert_eq!(without_date(&head), without_date(&download));
}

fn a_list_page_has_a_tag_and_navigation_on_get_and_head() {
    let server = server_with_task();
    let addr = server.addr();
    let page = get(addr, "/tasks");
    assert_validated(&page);
    assert_eq!(page.header("X-Total-Count"), Some("1"));
    assert!(page.has_header("Link"));
    let head = head(addr, "/tasks");
    assert_eq!(without_date(&head), without_date(&page));
}

/// A tag covers the whole representation: the attachment's bytes, its type and its filename.
fn an_attachments_tag_covers_bytes_type_and_filename() {
    let server = server_with_task();
    let addr = server.addr();
    let mut tags = Vec::new();
    for (name, kind, bytes) in [
        ("a.txt", "text/plain", &b"same"[..]),
        ("a.txt", "text/plain", b"SAME"),
        ("b.txt", "text/plain", b"same"),
        ("a.txt", "text/plain; charset=utf-8", b"same"),
    ] {
        let uploaded = upload(addr, 1, name, Some(kind), bytes);
        tags.push(assert_strong_tag(&uploaded));
    }
    let mut distinct = tags.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), tags.len(), "{tags:?}");
    // The same representation again gets the same tag: it is made from the representation.
    let again = upload(addr, 1, "a.txt", Some("text/plain"), b"same");
    assert_eq!(again.header("ETag"), Some(tags[0].as_str()));
}

/// A list page's tag covers `X-Total-Count` and `Link` too: `?limit=0` is always `[]`, yet its
/// tag changes when the total does.
fn a_list_tag_covers_the_total_and_the_links() {
    let server = spawn_server();
    let addr = server.addr();
    let empty = get(addr, "/tasks?limit=0");
    create_task(addr, "one");
    let one = get(addr, "/tasks?limit=0");
    assert_eq!(
        (empty.text(), one.text()),
        ("[]".to_owned(), "[]".to_owned())
    );
    assert_ne!(empty.header("ETag"), one.header("ETag"));
    // Same body and total, other links: the links carry the page size.
    let far = get(addr, "/tasks?skip=5&limit=10");
    let farther = get(addr, "/tasks?skip=5&limit=11");
    assert_eq!(far.text(), farther.text());
    assert_ne!(far.header("ETag"), farther.header("ETag"));
}

/// Tags are digests of the representation: a fresh memory-mode server that makes the same task
/// gives it the same tag, and one that makes another task under the same URL another tag, so
/// a tag from before a restart never validates a different representation.
fn tags_survive_restarts_and_are_never_reused_for_another_representation() {
    let tag_of = |title: &str| {
        let server = spawn_server_with(Config::ephemeral());
        create_task(server.addr(), title);
        get(server.addr(), "/tasks/1")
            .header("ETag")
            .unwrap()
            .to_owned()
    };
    assert_eq!(tag_of("Report"), tag_of("Report"));
    assert_ne!(tag_of("Report"), tag_of("Other"));
}

/// CONTRACT §11: `Last-Modified` is not on tasks or lists, and no validator is on errors.
fn errors_and_service_routes_carry_no_validators() {
    let server = server_with_task();
    let addr = server.addr();
    for target in ["/tasks/2", "/tasks/abc", "/tasks/1/attachment", "/healthz"] {
        let response = get(addr, target);
        assert!(!response.has_header("ETag"), "{target}");
        assert!(!response.has_header("Last-Modified"), "{target}");
    }
}

/// Durable mode keeps what the validators need: after a restart the task, the attachment and
/// the list have the same tags, and the attachment the same `Last-Modified`.
/// Picks its own data directory, so it runs once, not once per backend.
#[test]
fn durable_validators_survive_a_restart() {
    let dir = DataDir::fresh("validators");
    let config = || Config::ephemeral().with_data_dir(dir.path());
    let fields = |addr: SocketAddr| {
        let download = get(addr, "/tasks/1/attachment");
        [
            get(addr, "/tasks/1").header("ETag").map(str::to_owned),
            download.header("ETag").map(str::to_owned),
            download.header("Last-Modified").map(str::to_owned),
            get(addr, "/tasks").header("ETag").map(str::to_owned),
        ]
    };
    let before = {
        let server = spawn_server_with(config());
        create_task(server.addr(), "Kept");
        upload(server.addr(), 1, "a.png", Some("image/png"), b"\x89PNG");
        fields(server.addr())
    };
    let after = fields(spawn_server_with(config()).addr());
    assert!(before.iter().all(Option::is_some), "{before:?}");
    assert_eq!(before, after);
}

// Every test above, once per storage backend (tests/common/backend.rs).
backend_tests! {
    a_task_has_a_tag_of_its_json_on_get_and_head,
    create_and_patch_answer_with_the_tasks_new_tag,
    an_upload_answers_with_the_attachments_tag_not_the_tasks,
    a_download_has_every_validator_and_accept_ranges,
    a_list_page_has_a_tag_and_navigation_on_get_and_head,
    an_attachments_tag_covers_bytes_type_and_filename,
    a_list_tag_covers_the_total_and_the_links,
    tags_survive_restarts_and_are_never_reused_for_another_representation,
    errors_and_service_routes_carry_no_validators,
}
