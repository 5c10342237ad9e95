//! Several instances on one PostgreSQL database (CONTRACT §14), over real HTTP against a real
//! PostgreSQL (the throwaway cluster of `tests/pg_support`): what one instance changes, the
//! other answers at once; one precondition sent to two instances at once lets exactly one
//! change through; a list page is the same on both; titles and filenames are byte-exact (NUL
//! included).

use crate::common::pg_support::shared_cluster;
use crate::common::*;

use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;

use serde_json::Value;
use taskd::Config;

/// Two instances on one fresh database of the shared cluster.
fn two_instances() -> Option<(TestServer, TestServer)> {
    let cluster = shared_cluster()?;
    let url = cluster.url(&cluster.create_database());
    let instance = || spawn_server_with(Config::ephemeral().with_database_url(url.clone()));
    Some((instance(), instance()))
}

/// Sends `requests[i]` (whole requests as bytes) to `addrs[i]`, all released at once; the
/// statuses in that order.
fn at_once(requests: Vec<(SocketAddr, Vec<u8>)>) -> Vec<u16> {
    let start = Arc::new(Barrier::new(requests.len()));
    let senders: Vec<_> = requests
        .into_iter()
        .map(|(addr, bytes)| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                send_raw(addr, &bytes).status
            })
        })
        .collect();
    senders.into_iter().map(|s| s.join().unwrap()).collect()
}

/// A whole request as bytes.
fn raw(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut lines: Vec<String> = headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    lines.push(format!("Content-Length: {}", body.len()));
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut bytes = request_head(addr, method, target, &lines);
    bytes.extend_from_slice(body);
    bytes
}

fn sorted(mut statuses: Vec<u16>) -> Vec<u16> {
    statuses.sort_unstable();
    statuses
}

#[test]
fn one_title_created_on_two_instances_at_once_gives_one_201_and_one_409() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    for round in 0..5 {
        let body = format!(r#"{{"title":"same {round}"}}"#);
        let json = [("Content-Type", "application/json")];
        let statuses = at_once(vec![
            (
                a.addr(),
                raw(a.addr(), "POST", "/tasks", &json, body.as_bytes()),
            ),
            (
                b.addr(),
                raw(b.addr(), "POST", "/tasks", &json, body.as_bytes()),
            ),
        ]);
        assert_eq!(sorted(statuses), [201, 409], "round {round}");
    }
    // Gapless: five creates succeeded, five were refused and consumed no id.
    assert_eq!(create_task(b.addr(), "next"), 6);
}

#[test]
fn one_etag_sent_to_two_instances_at_once_lets_exactly_one_change_through() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    let json = [("Content-Type", "application/json")];
    // PATCH with If-Match.
    let id = create_task(a.addr(), "patched");
    let tag = get(a.addr(), &format!("/tasks/{id}"))
        .header("ETag")
        .unwrap()
        .to_owned();
    let headers = [
        ("Content-Type", "application/json"),
        ("If-Match", tag.as_str()),
    ];
    let target = format!("/tasks/{id}");
    let statuses = at_once(vec![
        (
            a.addr(),
            raw(a.addr(), "PATCH", &target, &headers, br#"{"title":"by a"}"#),
        ),
        (
            b.addr(),
            raw(b.addr(), "PATCH", &target, &headers, br#"{"title":"by b"}"#),
        ),
    ]);
    assert_eq!(sorted(statuses), [200, 412]);
    let _ = json;

    // Upload with If-None-Match: * (no attachment yet): one creates it.
    let form = form_type();
    let first = |n: &str| multipart_body(&[Part::file("f.txt", Some("text/plain"), n.as_bytes())]);
    let target = format!("/tasks/{id}/attachment");
    let headers = [("Content-Type", form.as_str()), ("If-None-Match", "*")];
    let statuses = at_once(vec![
        (
            a.addr(),
            raw(a.addr(), "POST", &target, &headers, &first("from a")),
        ),
        (
            b.addr(),
            raw(b.addr(), "POST", &target, &headers, &first("from b")),
        ),
    ]);
    assert_eq!(sorted(statuses), [200, 412]);

    // Upload with If-Match on the attachment's tag: one replaces it.
    let tag = get(b.addr(), &target).header("ETag").unwrap().to_owned();
    let headers = [("Content-Type", form.as_str()), ("If-Match", tag.as_str())];
    let statuses = at_once(vec![
        (
            a.addr(),
            raw(a.addr(), "POST", &target, &headers, &first("again a")),
        ),
        (
            b.addr(),
            raw(b.addr(), "POST", &target, &headers, &first("again b")),
        ),
    ]);
    assert_eq!(sorted(statuses), [200, 412]);

    // DELETE with If-Match: one deletes; the other finds its tag no longer current (412) or,
    // having waited for the first to commit, no task at all (404, as on every backend).
    let tag = get(a.addr(), &format!("/tasks/{id}"))
        .header("ETag")
        .unwrap()
        .to_owned();
    let headers = [("If-Match", tag.as_str())];
    let target = format!("/tasks/{id}");
    let statuses = sorted(at_once(vec![
        (a.addr(), raw(a.addr(), "DELETE", &target, &headers, b"")),
        (b.addr(), raw(b.addr(), "DELETE", &target, &headers, b"")),
    ]));
    assert_eq!(statuses[0], 204, "{statuses:?}");
    assert!(matches!(statuses[1], 404 | 412), "{statuses:?}");
}

#[test]
fn what_one_instance_answered_the_other_answers_at_once() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    let id = create_task(a.addr(), "written on a");
    let on_b = get(b.addr(), &format!("/tasks/{id}"));
    assert_eq!(on_b.status, 200);
    assert_eq!(on_b.json()["title"], "written on a");
    let patched = patch_json(b.addr(), &format!("/tasks/{id}"), r#"{"done":true}"#);
    assert_eq!(patched.status, 200);
    let on_a = get(a.addr(), &format!("/tasks/{id}"));
    assert_eq!(on_a.json()["done"], true);
    assert_eq!(
        on_a.header("ETag"),
        patched.header("ETag"),
        "one tag for one state"
    );
    let content: Vec<u8> = (0..600_000u32).map(|n| (n % 251) as u8).collect();
    assert_eq!(
        upload(a.addr(), id, "data.png", Some("image/png"), &content).status,
        200
    );
    let (from_a, from_b) = (
        get(a.addr(), &format!("/tasks/{id}/attachment")),
        get(b.addr(), &format!("/tasks/{id}/attachment")),
    );
    assert_eq!(from_b.status, 200);
    assert_eq!(after_head(&from_b), content.as_slice());
    assert_eq!(from_a.header("ETag"), from_b.header("ETag"));
    assert_eq!(
        from_a.header("Last-Modified"),
        from_b.header("Last-Modified")
    );
    // A range across a chunk boundary (256 KiB) reads the same bytes on both.
    let range = [("Range", "bytes=262000-262999")];
    let part = request(
        b.addr(),
        "GET",
        &format!("/tasks/{id}/attachment"),
        &range,
        b"",
    );
    assert_eq!(part.status, 206);
    assert_eq!(after_head(&part), &content[262_000..263_000]);
    assert_eq!(delete(b.addr(), &format!("/tasks/{id}")).status, 204);
    assert_eq!(get(a.addr(), &format!("/tasks/{id}")).status, 404);
}

#[test]
fn a_list_page_is_the_same_on_both_instances() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    for n in 0..7 {
        let server = if n % 2 == 0 { &a } else { &b };
        create_task(server.addr(), &format!("task {n}"));
    }
    let target = "/tasks?skip=2&limit=3&done=false";
    let (on_a, on_b) = (get(a.addr(), target), get(b.addr(), target));
    assert_eq!(on_a.status, 200);
    assert_eq!(on_a.body, on_b.body);
    for field in ["X-Total-Count", "Link", "ETag"] {
        assert_eq!(on_a.header(field), on_b.header(field), "{field}");
    }
    assert_eq!(on_a.header("X-Total-Count"), Some("7"));
    let ids: Vec<u64> = on_a
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [3, 4, 5]);
}

#[test]
fn a_title_with_nul_and_a_filename_that_decodes_to_nul_are_kept_byte_exact() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    let created = post_json(a.addr(), "/tasks", r#"{"title":"a\u0000b"}"#);
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_u64().unwrap();
    assert_eq!(
        get(b.addr(), &format!("/tasks/{id}")).json()["title"],
        "a\u{0}b"
    );
    // Uniqueness is on the exact bytes: the same title is taken, "ab" and "a" are not.
    assert_eq!(
        post_json(b.addr(), "/tasks", r#"{"title":"a\u0000b"}"#).status,
        409
    );
    assert_eq!(
        post_json(b.addr(), "/tasks", r#"{"title":"ab"}"#).status,
        201
    );
    assert_eq!(
        post_json(b.addr(), "/tasks", r#"{"title":"a"}"#).status,
        201
    );

    let part = Part {
        disposition: "form-data; name=\"file\"; filename*=UTF-8''n%00l.txt",
        content_type: Some("text/plain"),
        content: b"nul",
    };
    let uploaded = post_multipart(a.addr(), &format!("/tasks/{id}/attachment"), &[part]);
    assert_eq!(
        uploaded.status,
        200,
        "{}",
        String::from_utf8_lossy(&uploaded.body)
    );
    let name: Value = uploaded.json()["attachment"]["filename"].clone();
    assert_eq!(name, "n\u{0}l.txt");
    assert_eq!(
        get(b.addr(), &format!("/tasks/{id}")).json()["attachment"]["filename"],
        name
    );
    let (from_a, from_b) = (
        get(a.addr(), &format!("/tasks/{id}/attachment")),
        get(b.addr(), &format!("/tasks/{id}/attachment")),
    );
    assert_eq!(
        from_b.header("Content-Disposition"),
        from_a.header("Content-Disposition")
    );
    assert_eq!(from_b.header("ETag"), from_a.header("ETag"));
    assert_eq!(after_head(&from_b), b"nul");
}
