//! Many clients against one server (issue 3, "Concurrency"; CONTRACT §3, §6, §8, §9): racing
//! creates of the same titles, uploads, downloads, PATCHes and deletes racing on the same tasks,
//! and a deep pipeline on one keep-alive connection.
//!
//! Client threads start together at a `Barrier` and each sends a fixed, seeded sequence of
//! requests, so every run sends the same requests and only the interleaving varies. Each answer is
//! checked against what the contract allows for that request; the final state is checked once
//! every thread has been joined. Loops are bounded and every read has the 5 s client timeout.

use crate::common;
use common::*;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use serde_json::{json, Value};

// ---- helpers ----------------------------------------------------------------------------------

const CONFLICT: &str = "A task with that title already exists";

/// A tiny xorshift64 generator: fixed seeds make every run send the same requests.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        // Spread small seeds and never start at 0, xorshift's fixed point.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Runs every job on its own thread, all released together by one barrier, and returns their
/// results in job order.
fn run_together<T: Send + 'static>(jobs: Vec<Box<dyn FnOnce() -> T + Send>>) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(jobs.len()));
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                job()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|handle| handle.join().expect("a client thread panicked (see above)"))
        .collect()
}

/// The whole task as the contract spells it.
fn task_json(id: u64, title: &str, priority: &str, done: bool, attachment: Value) -> Value {
    json!({"id": id, "title": title, "priority": priority, "done": done, "attachment": attachment})
}

/// RFC 9110 §8.6: a 204 with no body, no `Content-Type` and no `Content-Length`.
fn assert_no_content(response: &Response, what: &str) {
    assert_eq!(response.status, 204, "{what}: {}", response.text());
    assert_eq!(response.header("Content-Length"), None, "{what}");
    assert_eq!(response.header("Content-Type"), None, "{what}");
    assert!(after_head(response).is_empty(), "{what}: 204 with a body");
}

/// 404 `Task N not found`.
fn assert_task_not_found(response: &Response, id: u64) {
    assert_error(response, 404, &format!("Task {id} not found"));
}

/// A download's 404: the task is gone, or it has no attachment (CONTRACT §9).
fn assert_download_not_found(response: &Response, id: u64) {
    assert_eq!(response.status, 404, "download {id}: {}", response.text());
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    let gone = json!({ "detail": format!("Task {id} not found") });
    let empty = json!({ "detail": format!("Task {id} has no attachment") });
    let body = response.json();
    assert!(
        body == gone || body == empty,
        "download {id}: 404 with {body}"
    );
}

// ---- racing creates ---------------------------------------------------------------------------

const CREATE_THREADS: usize = 8;
const CREATES_PER_THREAD: usize = 300;
const TITLES: usize = 200;

fn title(n: usize) -> String {
    format!("title-{n:03}")
}

/// Thread `t`'s titles: every title once plus random repeats up to 300, in a seeded shuffle, so
/// every title is tried by every thread, some twice or more by the same one.
fn create_sequence(t: usize) -> Vec<usize> {
    let mut rng = XorShift::new(t as u64 + 1);
    let mut sequence: Vec<usize> = (0..TITLES).collect();
    sequence.extend((TITLES..CREATES_PER_THREAD).map(|_| rng.below(TITLES)));
    for i in (1..sequence.len()).rev() {
        sequence.swap(i, rng.below(i + 1));
    }
    sequence
}

/// Per create, in order: the title's number and `Some(id)` for a 201, `None` for a 409.
type Outcomes = Vec<(usize, Option<u64>)>;

/// Sends thread `t`'s creates and checks each answer.
fn create_all(addr: SocketAddr, t: usize) -> Outcomes {
    let mut outcomes = Vec::with_capacity(CREATES_PER_THREAD);
    for n in create_sequence(t) {
        let title = title(n);
        let response = post_json(addr, "/tasks", &json!({ "title": title }).to_string());
        match response.status {
            201 => {
                let id = response.json()["id"].as_u64().expect("a numeric id");
                let expected = task_json(id, &title, "medium", false, Value::Null);
                assert_eq!(response.json(), expected, "create {title}");
                let location = format!("/tasks/{id}");
                assert_eq!(response.header("Location"), Some(location.as_str()));
                outcomes.push((n, Some(id)));
            }
            409 => {
                assert_error(&response, 409, CONFLICT);
                outcomes.push((n, None));
            }
            other => panic!("create {title}: {other} {}", response.text()),
        }
    }
    outcomes
}

/// CONTRACT §5, §6, §3: titles are unique, a refused create consumes no id, ids only grow.
#[test]
fn concurrent_creates_give_one_201_per_title() {
    let server = spawn_server();
    let addr = server.addr();
    let jobs = (0..CREATE_THREADS)
        .map(|t| Box::new(move || create_all(addr, t)) as Box<dyn FnOnce() -> Outcomes + Send>)
        .collect();
    let per_thread = run_together(jobs);

    let mut winners: BTreeMap<u64, usize> = BTreeMap::new();
    let mut titles_won = BTreeSet::new();
    let mut conflicts = 0;
    for (t, outcomes) in per_thread.iter().enumerate() {
        let ids: Vec<u64> = outcomes.iter().filter_map(|(_, id)| *id).collect();
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "thread {t} saw ids go backwards: {ids:?}"
        );
        for &(n, id) in outcomes {
            let Some(id) = id else {
                conflicts += 1;
                continue;
            };
            assert!(titles_won.insert(n), "{} got a second 201", title(n));
            assert_eq!(winners.insert(id, n), None, "id {id} handed out twice");
        }
    }
    assert_eq!(titles_won.len(), TITLES, "a title never got its 201");
    assert_eq!(conflicts, CREATE_THREADS * CREATES_PER_THREAD - TITLES);
    let ids: Vec<u64> = winners.keys().copied().collect();
    assert_eq!(ids, (1..=TITLES as u64).collect::<Vec<_>>());

    let page = get(addr, "/tasks?limit=1000");
    assert_eq!(page.status, 200, "{}", page.text());
    let expected: Vec<Value> = winners
        .iter()
        .map(|(&id, &n)| task_json(id, &title(n), "medium", false, Value::Null))
        .collect();
    assert_eq!(page.json(), Value::Array(expected));
    let past_the_end = get(addr, &format!("/tasks?skip={TITLES}&limit=1000"));
    assert_eq!(past_the_end.status, 200, "{}", past_the_end.text());
    assert_eq!(past_the_end.json(), json!([]));
}

// ---- racing uploads, downloads, patches and deletes -------------------------------------------

const SLOTS: usize = 4;
const UPLOADERS: u64 = 4;
const UPLOADS_EACH: u64 = 40;
const READERS: u64 = 2;
const READS_EACH: usize = 80;
const PATCHERS: u64 = 2;
const PATCHES_EACH: usize = 60;
const DELETERS: u64 = 2;
const DELETES_EACH: usize = 25;
/// Titles several tasks are renamed to, so PATCHes collide (409).
const SHARED_TITLES: [&str; 3] = ["shared-a", "shared-b", "shared-c"];
const PRIORITIES: [&str; 3] = ["low", "medium", "high"];
/// Payload sizes: empty, small, a few reads, and beyond tiny_http's 32 KiB chunking threshold.
const PAYLOAD_SIZES: [usize; 5] = [0, 1_000, 16_384, 70_000, 200_000];

/// One upload. Its writer and sequence number determine everything else: the filename, the
/// type, the length and every byte, and the content starts with a line naming all three, so a
/// downloaded body can be checked as one complete upload on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Upload {
    writer: u64,
    seq: u64,
}

impl Upload {
    fn seed(self) -> u64 {
        (self.writer << 32) | self.seq
    }

    fn payload_len(self) -> usize {
        PAYLOAD_SIZES[XorShift::new(self.seed()).below(PAYLOAD_SIZES.len())]
    }

    fn header_line(self) -> String {
        let (writer, seq, len) = (self.writer, self.seq, self.payload_len());
        format!("taskd-upload writer={writer} seq={seq} len={len}\n")
    }

    fn content(self) -> Vec<u8> {
        let mut bytes = self.header_line().into_bytes();
        let mut rng = XorShift::new(self.seed() ^ 0xA5A5_A5A5);
        bytes.extend((0..self.payload_len()).map(|_| rng.next() as u8));
        bytes
    }

    fn size(self) -> usize {
        self.header_line().len() + self.payload_len()
    }

    fn filename(self) -> String {
        format!("w{}-s{}.bin", self.writer, self.seq)
    }

    fn content_type(self) -> &'static str {
        if self.seq.is_multiple_of(2) {
            "text/plain"
        } else {
            "image/png"
        }
    }

    /// The task's `attachment` after this upload.
    fn info(self) -> Value {
        json!({"filename": self.filename(), "size": self.size()})
    }

    /// The upload a downloaded body claims to be, from its first line.
    fn from_content(bytes: &[u8]) -> Option<Upload> {
        let end = bytes.iter().take(100).position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(&bytes[..end]).ok()?;
        let mut fields = line.strip_prefix("taskd-upload ")?.split(' ');
        let mut number = |key: &str| fields.next()?.strip_prefix(key)?.parse::<u64>().ok();
        let upload = Upload {
            writer: number("writer=")?,
            seq: number("seq=")?,
        };
        (number("len=")? == upload.payload_len() as u64).then_some(upload)
    }

    /// The upload a task's `attachment` describes, checking its size; `None` for `null`.
    fn from_info(info: &Value, id: u64) -> Option<Upload> {
        if info.is_null() {
            return None;
        }
        let filename = info["filename"].as_str().expect("a filename");
        let (writer, seq) = filename
            .strip_suffix(".bin")
            .and_then(|name| name.strip_prefix('w')?.split_once("-s"))
            .unwrap_or_else(|| panic!("task {id}: attachment {info} is no upload's"));
        let upload = Upload {
            writer: writer.parse().expect("writer"),
            seq: seq.parse().expect("seq"),
        };
        assert_eq!(*info, upload.info(), "task {id}: attachment metadata");
        Some(upload)
    }
}

/// A 200 download of task `id` that is exactly one complete upload, bytes and headers alike.
fn verified_download(response: &Response, id: u64) -> Upload {
    assert_eq!(response.status, 200, "download {id}: {}", response.text());
    assert_eq!(response.header("Transfer-Encoding"), None, "download {id}");
    let length = response.body.len().to_string();
    assert_eq!(
        response.header("Content-Length"),
        Some(length.as_str()),
        "download {id}: Content-Length and body disagree"
    );
    let start = String::from_utf8_lossy(&response.body[..response.body.len().min(60)]);
    let upload = Upload::from_content(&response.body)
        .unwrap_or_else(|| panic!("download {id}: not an upload's first line: {start:?}"));
    let expected = upload.content();
    if response.body != expected {
        let differs = response
            .body
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b);
        panic!(
            "download {id}: {upload:?} is torn: {} bytes, expected {}, first difference at {differs:?}",
            response.body.len(),
            expected.len()
        );
    }
    assert_eq!(response.header("Content-Type"), Some(upload.content_type()));
    let disposition = format!("attachment; filename=\"{}\"", upload.filename());
    assert_eq!(
        response.header("Content-Disposition"),
        Some(disposition.as_str())
    );
    upload
}

/// What one thread did and saw.
#[derive(Default)]
struct Log {
    /// Uploads answered 200, with the task they went to.
    uploaded: Vec<(Upload, u64)>,
    /// Attachments seen in downloads and task bodies, with the task they were seen on.
    seen: Vec<(Upload, u64)>,
    /// Downloads answered 200 (each checked byte for byte).
    downloads: usize,
    /// Ids of tasks this thread created.
    created: Vec<u64>,
    /// Ids of tasks this thread deleted (204).
    deleted: Vec<u64>,
    /// Answers by status, for the summary.
    statuses: BTreeMap<u16, usize>,
}

impl Log {
    fn count(&mut self, response: &Response) {
        *self.statuses.entry(response.status).or_default() += 1;
    }
}

/// The current task id of each slot; only the thread that deleted a slot's task moves it on.
type Slots = Arc<Vec<AtomicU64>>;

fn uploader(addr: SocketAddr, slots: Slots, writer: u64) -> Log {
    let mut log = Log::default();
    let mut rng = XorShift::new(100 + writer);
    for seq in 0..UPLOADS_EACH {
        let id = slots[rng.below(SLOTS)].load(Ordering::SeqCst);
        let up = Upload { writer, seq };
        let response = upload(
            addr,
            id,
            &up.filename(),
            Some(up.content_type()),
            &up.content(),
        );
        log.count(&response);
        match response.status {
            200 => {
                let task = response.json();
                assert_eq!(task["id"], json!(id), "upload {up:?}: {task}");
                assert_eq!(task["attachment"], up.info(), "upload {up:?}: {task}");
                log.uploaded.push((up, id));
            }
            _ => assert_task_not_found(&response, id),
        }
    }
    log
}

fn reader(addr: SocketAddr, slots: Slots, index: u64) -> Log {
    let mut log = Log::default();
    let mut rng = XorShift::new(200 + index);
    for i in 0..READS_EACH {
        let id = slots[rng.below(SLOTS)].load(Ordering::SeqCst);
        if i % 2 == 0 {
            let response = get(addr, &format!("/tasks/{id}/attachment"));
            log.count(&response);
            match response.status {
                200 => {
                    log.seen.push((verified_download(&response, id), id));
                    log.downloads += 1;
                }
                _ => assert_download_not_found(&response, id),
            }
        } else {
            let response = get(addr, &format!("/tasks/{id}"));
            log.count(&response);
            match response.status {
                200 => {
                    let task = response.json();
                    assert_eq!(task["id"], json!(id), "{task}");
                    let seen = Upload::from_info(&task["attachment"], id);
                    log.seen.extend(seen.map(|up| (up, id)));
                }
                _ => assert_task_not_found(&response, id),
            }
        }
    }
    log
}

fn patcher(addr: SocketAddr, slots: Slots, index: u64) -> Log {
    let mut log = Log::default();
    let mut rng = XorShift::new(300 + index);
    for _ in 0..PATCHES_EACH {
        let id = slots[rng.below(SLOTS)].load(Ordering::SeqCst);
        let patch = match rng.below(3) {
            0 => json!({ "title": SHARED_TITLES[rng.below(SHARED_TITLES.len())] }),
            1 => json!({
                "priority": PRIORITIES[rng.below(PRIORITIES.len())],
                "done": rng.below(2) == 1,
            }),
            _ => json!({}),
        };
        let response = patch_json(addr, &format!("/tasks/{id}"), &patch.to_string());
        log.count(&response);
        match response.status {
            200 => {
                let task = response.json();
                assert_eq!(task["id"], json!(id), "patch {patch}: {task}");
                for (field, value) in patch.as_object().expect("an object") {
                    assert_eq!(task[field], *value, "patch {patch}: {task}");
                }
                let seen = Upload::from_info(&task["attachment"], id);
                log.seen.extend(seen.map(|up| (up, id)));
            }
            409 if patch.get("title").is_some() => assert_error(&response, 409, CONFLICT),
            _ => assert_task_not_found(&response, id),
        }
    }
    log
}

/// Deletes attachments, and deletes tasks and creates a task with a new title in their place.
fn deleter(addr: SocketAddr, slots: Slots, index: u64) -> Log {
    let mut log = Log::default();
    let mut rng = XorShift::new(400 + index);
    for i in 0..DELETES_EACH {
        let slot = &slots[rng.below(SLOTS)];
        let id = slot.load(Ordering::SeqCst);
        if rng.below(3) == 0 {
            let response = delete(addr, &format!("/tasks/{id}/attachment"));
            log.count(&response);
            match response.status {
                204 => assert_no_content(&response, "delete attachment"),
                _ => assert_download_not_found(&response, id),
            }
            continue;
        }
        let response = delete(addr, &format!("/tasks/{id}"));
        log.count(&response);
        if response.status != 204 {
            assert_task_not_found(&response, id);
            continue;
        }
        assert_no_content(&response, "delete task");
        log.deleted.push(id);
        let fresh = create_task(addr, &format!("gen-{index}-{i}"));
        assert!(
            log.created.last().is_none_or(|&last| last < fresh),
            "ids went backwards: {:?} then {fresh}",
            log.created
        );
        log.created.push(fresh);
        let moved = slot.compare_exchange(id, fresh, Ordering::SeqCst, Ordering::SeqCst);
        assert_eq!(
            moved,
            Ok(id),
            "someone else moved the slot of a task we deleted"
        );
    }
    log
}

/// Every job of the race, each with its own seed.
fn race_jobs(addr: SocketAddr, slots: &Slots) -> Vec<Box<dyn FnOnce() -> Log + Send>> {
    type Role = fn(SocketAddr, Slots, u64) -> Log;
    let roles: [(Role, u64); 4] = [
        (uploader, UPLOADERS),
        (reader, READERS),
        (patcher, PATCHERS),
        (deleter, DELETERS),
    ];
    let mut jobs: Vec<Box<dyn FnOnce() -> Log + Send>> = Vec::new();
    for (role, count) in roles {
        for index in 0..count {
            let slots = Arc::clone(slots);
            jobs.push(Box::new(move || role(addr, slots, index)));
        }
    }
    jobs
}

/// Ids handed out (the first tasks' and the race's) and ids deleted, each checked to happen once.
fn created_and_deleted(first_ids: &[u64], logs: &[Log]) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let mut created = BTreeSet::from_iter(first_ids.iter().copied());
    let mut deleted = BTreeSet::new();
    for log in logs {
        for &id in &log.created {
            assert!(created.insert(id), "id {id} handed out twice");
        }
        for &id in &log.deleted {
            assert!(deleted.insert(id), "task {id} deleted twice");
        }
    }
    (created, deleted)
}

/// After the race: deleted tasks and their attachments are gone, the list holds exactly the live
/// tasks, and each live attachment is one complete upload that was answered 200 for that task.
fn assert_final_state(
    addr: SocketAddr,
    live: &BTreeSet<u64>,
    deleted: &BTreeSet<u64>,
    uploaded: &HashSet<(Upload, u64)>,
) {
    for &id in deleted {
        assert_task_not_found(&get(addr, &format!("/tasks/{id}/attachment")), id);
        assert_task_not_found(&get(addr, &format!("/tasks/{id}")), id);
    }
    let list = get(addr, "/tasks?limit=1000");
    assert_eq!(list.status, 200, "{}", list.text());
    let tasks = list.json().as_array().cloned().expect("an array");
    let listed: Vec<u64> = tasks.iter().map(|t| t["id"].as_u64().unwrap()).collect();
    assert_eq!(listed, live.iter().copied().collect::<Vec<_>>());
    for task in &tasks {
        let id = task["id"].as_u64().unwrap();
        let download = get(addr, &format!("/tasks/{id}/attachment"));
        match Upload::from_info(&task["attachment"], id) {
            None => assert_error(&download, 404, &format!("Task {id} has no attachment")),
            Some(up) => {
                assert_eq!(verified_download(&download, id), up);
                assert!(uploaded.contains(&(up, id)), "task {id} holds {up:?}");
            }
        }
    }
}

/// CONTRACT §8, §9: no attachment survives its task, no download is torn or mixed, and every
/// answer is one the contract allows for its request.
#[test]
fn racing_uploads_downloads_patches_and_deletes_stay_consistent() {
    let server = spawn_server();
    let addr = server.addr();
    let first_ids: Vec<u64> = (0..SLOTS)
        .map(|k| create_task(addr, &format!("slot-{k}")))
        .collect();
    let slots: Slots = Arc::new(first_ids.iter().map(|&id| AtomicU64::new(id)).collect());
    let logs = run_together(race_jobs(addr, &slots));

    let uploaded: HashSet<(Upload, u64)> = logs.iter().flat_map(|l| l.uploaded.clone()).collect();
    for (up, id) in logs.iter().flat_map(|log| &log.seen) {
        assert!(
            uploaded.contains(&(*up, *id)),
            "task {id} showed {up:?}, which was never uploaded to it with a 200"
        );
    }
    let (created, deleted) = created_and_deleted(&first_ids, &logs);
    assert!(!deleted.is_empty(), "the race deleted nothing");
    let live: BTreeSet<u64> = created.difference(&deleted).copied().collect();
    let in_slots = slots
        .iter()
        .map(|slot| slot.load(Ordering::SeqCst))
        .collect();
    assert_eq!(live, in_slots);
    assert_final_state(addr, &live, &deleted, &uploaded);

    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, n) in logs.iter().flat_map(|log| &log.statuses) {
        *statuses.entry(*status).or_default() += n;
    }
    eprintln!(
        "race: answers by status {statuses:?}; {} uploads kept, {} downloads checked, {} tasks deleted",
        uploaded.len(),
        logs.iter().map(|log| log.downloads).sum::<usize>(),
        deleted.len()
    );
}

// ---- a deep pipeline --------------------------------------------------------------------------

/// Fresh servers the pipeline is sent to, one after another.
const PIPELINE_RUNS: usize = 10;

/// What a pipelined request must be answered with.
enum Answer {
    /// This JSON body.
    Json(Value),
    /// These exact bytes.
    Bytes(Vec<u8>),
    /// A bare 204.
    NoContent,
    /// The answer to a HEAD: no body, and the `Content-Length` of this JSON (GET's body).
    Head(Value),
}

/// One pipelined request and its expected answer.
struct Step {
    request: Vec<u8>,
    status: u16,
    answer: Answer,
}

impl Step {
    /// A request without a body (no `Connection: close`, so the connection stays open).
    fn bare(addr: SocketAddr, method: &str, target: &str, status: u16, answer: Answer) -> Step {
        let request = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        Step {
            request: request.into_bytes(),
            status,
            answer,
        }
    }

    /// A request with this body and `Content-Type`.
    fn with_body(
        addr: SocketAddr,
        (method, target): (&str, &str),
        (content_type, body): (&str, &[u8]),
        status: u16,
        answer: Answer,
    ) -> Step {
        let length = body.len();
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
        );
        Step {
            request: [head.as_bytes(), body].concat(),
            status,
            answer,
        }
    }

    /// A JSON request.
    fn json(
        addr: SocketAddr,
        route: (&str, &str),
        body: Value,
        status: u16,
        answer: Value,
    ) -> Step {
        let body = body.to_string();
        let typed = ("application/json", body.as_bytes());
        Step::with_body(addr, route, typed, status, Answer::Json(answer))
    }

    fn is_head(&self) -> bool {
        matches!(self.answer, Answer::Head(_))
    }
}

/// Round `round`'s second request, which by round reads, patches, re-creates, HEADs or uploads
/// to the task just created (updating `task` to match).
fn second_step(addr: SocketAddr, round: u64, task: &mut Value) -> Step {
    let target = format!("/tasks/{}", task["id"]);
    match round % 5 {
        0 => Step::bare(addr, "GET", &target, 200, Answer::Json(task.clone())),
        1 => {
            let patch = json!({"priority": "high", "done": true});
            task["priority"] = json!("high");
            task["done"] = json!(true);
            Step::json(addr, ("PATCH", &target), patch, 200, task.clone())
        }
        2 => {
            let again = json!({"title": task["title"], "priority": "low"});
            let conflict = json!({ "detail": CONFLICT });
            Step::json(addr, ("POST", "/tasks"), again, 409, conflict)
        }
        3 => Step::bare(addr, "HEAD", &target, 200, Answer::Head(task.clone())),
        _ => {
            let content = format!("round {round}").into_bytes();
            let filename = format!("r{round}.txt");
            let body = multipart_body(&[Part::file(&filename, Some("text/plain"), &content)]);
            task["attachment"] = json!({"filename": filename, "size": content.len()});
            let route = ("POST", &*format!("{target}/attachment"));
            let form = (&*form_type(), &*body);
            Step::with_body(addr, route, form, 200, Answer::Json(task.clone()))
        }
    }
}

/// Ten rounds of five requests: create a task; GET / PATCH / create it again / HEAD / upload
/// (by round); DELETE it (odd rounds) or download its attachment; GET it; GET the list.
fn pipeline_steps(addr: SocketAddr) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut live: Vec<Value> = Vec::new();
    for round in 0..10u64 {
        let id = round + 1;
        let (target, download) = (format!("/tasks/{id}"), format!("/tasks/{id}/attachment"));
        let title = format!("pipe-{round:02}");
        let mut task = task_json(id, &title, "medium", false, Value::Null);
        let create = json!({ "title": title });
        steps.push(Step::json(
            addr,
            ("POST", "/tasks"),
            create,
            201,
            task.clone(),
        ));
        steps.push(second_step(addr, round, &mut task));
        let not_found = json!({ "detail": format!("Task {id} not found") });
        if round % 2 == 1 {
            steps.push(Step::bare(addr, "DELETE", &target, 204, Answer::NoContent));
            steps.push(Step::bare(
                addr,
                "GET",
                &target,
                404,
                Answer::Json(not_found),
            ));
        } else {
            steps.push(if task["attachment"].is_null() {
                let none = json!({ "detail": format!("Task {id} has no attachment") });
                Step::bare(addr, "GET", &download, 404, Answer::Json(none))
            } else {
                let content = format!("round {round}").into_bytes();
                Step::bare(addr, "GET", &download, 200, Answer::Bytes(content))
            });
            steps.push(Step::bare(
                addr,
                "GET",
                &target,
                200,
                Answer::Json(task.clone()),
            ));
            live.push(task);
        }
        let list = Answer::Json(Value::Array(live.clone()));
        steps.push(Step::bare(addr, "GET", "/tasks", 200, list));
    }
    steps
}

fn assert_answer(step: &Step, response: &Response, label: &str) {
    let request = String::from_utf8_lossy(&step.request);
    let first_line = request.lines().next().unwrap_or_default();
    let what = format!("{label} to {first_line:?}");
    assert_eq!(response.status, step.status, "{what}: {}", response.text());
    match &step.answer {
        Answer::Json(expected) => assert_eq!(response.json(), *expected, "{what}"),
        Answer::Bytes(expected) => assert_eq!(response.body, *expected, "{what}"),
        Answer::NoContent => assert_no_content(response, &what),
        Answer::Head(get_body) => {
            let length = get_body.to_string().len().to_string();
            let sent = response.header("Content-Length");
            assert_eq!(sent, Some(length.as_str()), "{what}");
        }
    }
}

/// Sends the fifty steps in one write on a fresh connection to a fresh server and checks each
/// answer in turn; `run` only labels failures.
fn run_pipeline(run: usize) {
    let server = spawn_server();
    let addr = server.addr();
    let steps = pipeline_steps(addr);
    assert_eq!(steps.len(), 50);
    let mut stream = connect(addr);
    let mut writer = stream.try_clone().expect("clone stream");
    let all: Vec<u8> = steps.iter().flat_map(|step| step.request.clone()).collect();
    // Written from a second thread so that answers filling the socket cannot deadlock the test.
    let sender = thread::spawn(move || writer.write_all(&all));
    let mut buffer = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let response = read_one_response(&mut stream, &mut buffer, step.is_head());
        assert_answer(step, &response, &format!("run {run}, answer {index}"));
    }
    sender
        .join()
        .expect("writer thread")
        .expect("write the pipeline");
    assert!(buffer.is_empty(), "bytes after the last answer: {buffer:?}");
}

/// RFC 9112 §9.3.2: fifty pipelined requests of every kind (bodies, a 204, a HEAD, an upload)
/// sent in one write on one connection are answered in order, each as if it had been sent alone
/// after the previous answer: a server may work on pipelined requests in parallel only while
/// they are all safe. Several runs, because a server that breaks this does so by a race.
#[test]
fn fifty_mixed_pipelined_requests_are_answered_in_order() {
    for run in 0..PIPELINE_RUNS {
        run_pipeline(run);
    }
}
