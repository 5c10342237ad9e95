//! Load under faults for the PostgreSQL durability tests (CONTRACT §14 "durability", "one
//! deadline per request"): client threads that create tasks, upload small attachments, patch and
//! delete, against one or more real `taskd` instances, and keep a ledger of what each answer
//! acknowledged, so that a fault in the middle can be judged afterwards by [`verify`].
//!
//! The ledger's rule: a 201/200/204 the client received is a change that must be there; a
//! request that got no answer, or a 503, may or may not have committed (the answer can be lost
//! after the commit), so its task may be in either state and is left alone from then on; a
//! request whose connection was refused was never sent, and is tried on another instance.
//! Each thread changes only its own tasks, so the ledger needs no ordering between threads.

pub mod verify;
mod worker;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::common::{parse_response, Response};

/// How long a client waits for an answer before calling it a hang: well past the 5 s request
/// deadline, so a slow 503 is told apart from a server that never answers.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// What became of one request.
#[derive(Debug)]
pub enum Outcome {
    /// A whole response (its `Content-Length` worth of body) arrived.
    Answered(Response),
    /// The connection was refused: the request never reached a server.
    NotSent(String),
    /// Sent (maybe in part), but no whole response came back: cut, reset or timed out.
    NoAnswer(String),
}

/// Sends one whole request (with `Connection: close`) on a new connection and reads the answer;
/// never panics, so a killed server is an outcome, not a failed test.
pub fn exchange(addr: SocketAddr, bytes: &[u8]) -> Outcome {
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(stream) => stream,
        Err(error) => return Outcome::NotSent(error.to_string()),
    };
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    // A write error (the server died or answered early) still leaves an answer to read.
    let _ = stream.write_all(bytes);
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => {
                // A reset right after a complete answer keeps the answer.
                if complete(&raw).is_some() {
                    break;
                }
                return Outcome::NoAnswer(format!("{error} after {} bytes", raw.len()));
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    match complete(&raw) {
        Some(response) => Outcome::Answered(response),
        None => Outcome::NoAnswer(format!("closed after {} bytes", raw.len())),
    }
}

/// The response in `raw` if all of it arrived (a body as long as its `Content-Length`).
fn complete(raw: &[u8]) -> Option<Response> {
    let response = parse_response(raw)?;
    let no_body = response.status == 204 || response.status == 304;
    let length: usize = match response.header("Content-Length") {
        Some(value) => value.parse().ok()?,
        None => 0,
    };
    (no_body || response.body.len() == length).then_some(response)
}

/// A task's fields as the client last made them.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub title: String,
    pub priority: &'static str,
    pub done: bool,
    pub attachment: Option<Attachment>,
}

/// An uploaded attachment as sent, with the `ETag` its 200 carried (unknown when in doubt).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Arc<Vec<u8>>,
    pub etag: Option<String>,
}

/// One task of the ledger.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// From the 201; `None` when the create is in doubt (then it is found by its title).
    pub id: Option<u64>,
    /// The states it may be in now: one once acknowledged, two (before, attempted) when the
    /// last change is in doubt. `None`: no such task (deleted, or a create that did not
    /// commit).
    pub states: Vec<Option<Shape>>,
}

impl Tracked {
    /// Whether its last change was acknowledged (so it may be changed again).
    pub fn settled(&self) -> bool {
        self.states.len() == 1
    }
}

/// How one request went, for the test's timing and status checks.
#[derive(Debug, Clone)]
pub struct Event {
    /// When it was sent.
    pub sent: Instant,
    pub took: Duration,
    /// Which instance (index into the load's addresses).
    pub instance: usize,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// The 2xx the operation calls for.
    Acknowledged,
    /// 503 `{"detail": "Database unavailable"}` with `Retry-After: 1` (CONTRACT §14).
    Unavailable,
    /// The connection was refused (why): the request never reached the instance.
    NotSent(String),
    NoAnswer(String),
    /// Anything else (a 500, a 503 of another shape, an unexpected 4xx): always a defect.
    Unexpected(String),
}

/// What a load thread leaves: its ledger and its requests.
#[derive(Debug, Default)]
pub struct Report {
    pub tracked: Vec<Tracked>,
    pub events: Vec<Event>,
}

impl Report {
    /// The requests whose outcome no fault excuses.
    pub fn unexpected(&self) -> Vec<&Event> {
        let bad = |event: &&Event| matches!(event.kind, EventKind::Unexpected(_));
        self.events.iter().filter(bad).collect()
    }

    /// Fails, with the counts and the first few, when any request's outcome no fault excuses.
    pub fn assert_nothing_unexpected(&self) {
        let unexpected = self.unexpected();
        assert!(
            unexpected.is_empty(),
            "{}: {:#?}",
            self.summary(),
            &unexpected[..unexpected.len().min(5)]
        );
    }

    /// How many requests sent after `since` had their change acknowledged by `instance`.
    pub fn acknowledged_after(&self, since: Instant, instance: usize) -> usize {
        let counted = |event: &&Event| {
            event.sent >= since
                && event.instance == instance
                && event.kind == EventKind::Acknowledged
        };
        self.events.iter().filter(counted).count()
    }

    pub fn count(&self, wanted: impl Fn(&EventKind) -> bool) -> usize {
        self.events
            .iter()
            .filter(|event| wanted(&event.kind))
            .count()
    }
}

/// Client threads running until [`Load::finish`].
pub struct Load {
    stop: Arc<AtomicBool>,
    /// Acknowledged changes so far, all threads together.
    acknowledged: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<Report>>,
}

impl Load {
    /// `threads` clients against `instances`; thread `n` starts on instance `n % len` and
    /// alternates, keeping to the others once one refuses or drops a connection.
    pub fn start(instances: &[SocketAddr], threads: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let threads = (0..threads)
            .map(|n| {
                let (stop, instances) = (stop.clone(), instances.to_vec());
                let acknowledged = acknowledged.clone();
                thread::spawn(move || worker::run(n, &instances, &stop, &acknowledged))
            })
            .collect();
        Load {
            stop,
            acknowledged,
            threads,
        }
    }

    /// Waits until `more` changes beyond those acknowledged now have been acknowledged, so a
    /// fault falls amid a known amount of load however fast this machine is; false if that
    /// took longer than `within`.
    pub fn wait_for(&self, more: usize, within: Duration) -> bool {
        let goal = self.acknowledged.load(Ordering::SeqCst) + more;
        let start = Instant::now();
        while self.acknowledged.load(Ordering::SeqCst) < goal {
            if start.elapsed() > within {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Stops the clients after their current request; everything they saw, merged.
    pub fn finish(self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        let mut merged = Report::default();
        for thread in self.threads {
            let report = thread.join().expect("a load thread panicked");
            merged.tracked.extend(report.tracked);
            merged.events.extend(report.events);
        }
        merged
    }
}

impl Report {
    /// Counts by kind, for a failing assertion's message.
    pub fn summary(&self) -> String {
        let count = |wanted: fn(&EventKind) -> bool| self.count(wanted);
        let in_doubt = self.tracked.iter().filter(|t| !t.settled()).count();
        format!(
            "{} requests: {} acknowledged, {} 503, {} not sent, {} unanswered, {} unexpected; \
             {} tasks tracked, {in_doubt} in doubt",
            self.events.len(),
            count(|kind| *kind == EventKind::Acknowledged),
            count(|kind| *kind == EventKind::Unavailable),
            count(|kind| matches!(kind, EventKind::NotSent(_))),
            count(|kind| matches!(kind, EventKind::NoAnswer(_))),
            count(|kind| matches!(kind, EventKind::Unexpected(_))),
            self.tracked.len(),
        )
    }
}

/// A request whose answer matters more than its speed (checks after a fault): like `common`'s
/// helpers, but waiting up to [`READ_TIMEOUT`] rather than 5 s, which a debug build on a
/// starved machine can exceed. `json` is sent as the body when given.
pub fn patiently(addr: SocketAddr, method: &str, target: &str, json: Option<&str>) -> Response {
    let body = json.unwrap_or("");
    let mut lines = vec![format!("Content-Length: {}", body.len())];
    if json.is_some() {
        lines.push("Content-Type: application/json".to_owned());
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut bytes = crate::common::request_head(addr, method, target, &lines);
    bytes.extend_from_slice(body.as_bytes());
    match exchange(addr, &bytes) {
        Outcome::Answered(response) => response,
        other => panic!("{method} {target}: {other:?}"),
    }
}

/// Creates a task patiently; its id.
pub fn create_patiently(addr: SocketAddr, title: &str) -> u64 {
    let body = serde_json::json!({ "title": title }).to_string();
    let response = patiently(addr, "POST", "/tasks", Some(&body));
    assert_eq!(response.status, 201, "create {title}: {}", response.text());
    response.json()["id"].as_u64().expect("an id")
}
