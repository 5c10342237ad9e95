//! One load thread: a fixed mix of creates (unique titles), small uploads (some across the
//! 256 KiB chunk boundary), PATCHes, attachment DELETEs and task DELETEs on its own tasks, each
//! answer written into the ledger as the module doc of `load` says.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::{exchange, Attachment, Event, EventKind, Outcome, Report, Shape, Tracked};
use crate::common::{form_type, multipart_body, request_head, Part, Response};

const PRIORITIES: [&str; 3] = ["low", "medium", "high"];
const TYPES: [&str; 3] = ["text/plain", "image/png", "image/jpeg"];

/// A request, built for whichever instance it goes to.
struct Request {
    method: &'static str,
    target: String,
    content_type: Option<String>,
    body: Vec<u8>,
    /// The status that acknowledges the change.
    success: u16,
}

impl Request {
    fn bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let mut lines = vec![format!("Content-Length: {}", self.body.len())];
        lines.extend(
            self.content_type
                .iter()
                .map(|t| format!("Content-Type: {t}")),
        );
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut bytes = request_head(addr, self.method, &self.target, &lines);
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

struct Worker<'a> {
    n: usize,
    instances: &'a [SocketAddr],
    /// Instances that refused a connection are not tried again.
    refused: Vec<bool>,
    turn: usize,
    seed: u64,
    serial: u64,
    report: Report,
    /// Shared with the test: how many changes all threads saw acknowledged.
    acknowledged: &'a AtomicUsize,
}

pub(super) fn run(
    n: usize,
    instances: &[SocketAddr],
    stop: &AtomicBool,
    acknowledged: &AtomicUsize,
) -> Report {
    let mut worker = Worker {
        n,
        instances,
        acknowledged,
        refused: vec![false; instances.len()],
        turn: n,
        seed: 0x9E37_79B9_7F4A_7C15 ^ (n as u64 + 1),
        serial: 0,
        report: Report::default(),
    };
    while !stop.load(Ordering::SeqCst) {
        worker.step();
    }
    worker.report
}

impl Worker<'_> {
    /// xorshift64: a fixed mix per thread, no dependency.
    fn random(&mut self, below: u64) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % below
    }

    fn step(&mut self) {
        // Tasks this thread may change: created, still there, and with no change in doubt.
        let live: Vec<usize> = (0..self.report.tracked.len())
            .filter(|&i| {
                let tracked = &self.report.tracked[i];
                tracked.settled() && tracked.id.is_some() && tracked.states[0].is_some()
            })
            .collect();
        let roll = self.random(100);
        if live.len() < 3 || roll < 35 {
            return self.create();
        }
        let index = live[self.random(live.len() as u64) as usize];
        match roll {
            35..=64 => self.upload(index),
            65..=79 => self.patch(index),
            80..=89 => self.detach(index),
            _ => self.delete(index),
        }
    }

    fn title(&mut self) -> String {
        self.serial += 1;
        // Non-ASCII and a tab on some: titles are kept byte-exact (CONTRACT §14).
        match self.serial % 3 {
            0 => format!("load {}-{} é\tü", self.n, self.serial),
            _ => format!("load {}-{}", self.n, self.serial),
        }
    }

    fn create(&mut self) {
        let shape = Shape {
            title: self.title(),
            priority: PRIORITIES[self.random(3) as usize],
            done: self.random(2) == 1,
            attachment: None,
        };
        let body = json!({"title": shape.title, "priority": shape.priority, "done": shape.done});
        let request = json_request("POST", "/tasks".to_owned(), &body, 201);
        let Some((kind, response)) = self.send(&request) else {
            return;
        };
        let id = match (&kind, &response) {
            (EventKind::Acknowledged, Some(response)) => response.json()["id"].as_u64(),
            _ => None,
        };
        let states = match id {
            Some(_) => vec![Some(shape)],
            None => vec![None, Some(shape)],
        };
        self.report.tracked.push(Tracked { id, states });
    }

    fn upload(&mut self, index: usize) {
        // Mostly under 20 KB (an empty one now and then); one in eight spans two chunks of
        // 256 KiB, so a version written in part would show.
        let size = if self.random(8) == 0 {
            262_144 + self.random(60_000) as usize
        } else {
            self.random(20_000) as usize
        };
        self.serial += 1;
        let mut fill = self.seed | 1;
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                fill ^= fill << 13;
                fill ^= fill >> 7;
                fill ^= fill << 17;
                fill as u8
            })
            .collect();
        let attachment = Attachment {
            filename: format!("f{}-{}.bin", self.n, self.serial),
            content_type: TYPES[self.random(3) as usize],
            bytes: Arc::new(bytes),
            etag: None,
        };
        let id = self.report.tracked[index]
            .id
            .expect("a live task has an id");
        let part = Part::file(
            &attachment.filename,
            Some(attachment.content_type),
            &attachment.bytes,
        );
        let request = Request {
            method: "POST",
            target: format!("/tasks/{id}/attachment"),
            content_type: Some(form_type()),
            body: multipart_body(&[part]),
            success: 200,
        };
        let outcome = self.send(&request);
        self.record(index, outcome, |shape, response| {
            let etag = response.and_then(|r| r.header("ETag").map(str::to_owned));
            shape.attachment = Some(Attachment { etag, ..attachment });
        });
    }

    fn patch(&mut self, index: usize) {
        let mut body = Map::new();
        let mut change: Vec<(&str, Value)> = Vec::new();
        if self.random(2) == 0 {
            change.push(("title", Value::from(self.title())));
        }
        if self.random(2) == 0 {
            change.push(("priority", Value::from(PRIORITIES[self.random(3) as usize])));
        }
        change.push(("done", Value::from(self.random(2) == 1)));
        for (field, value) in &change {
            body.insert((*field).to_owned(), value.clone());
        }
        let id = self.report.tracked[index]
            .id
            .expect("a live task has an id");
        let request = json_request("PATCH", format!("/tasks/{id}"), &Value::Object(body), 200);
        let outcome = self.send(&request);
        self.record(index, outcome, |shape, _| {
            for (field, value) in change {
                match (field, value) {
                    ("title", Value::String(title)) => shape.title = title,
                    ("priority", Value::String(p)) => {
                        shape.priority = PRIORITIES.into_iter().find(|&q| q == p).unwrap_or("?");
                    }
                    ("done", Value::Bool(done)) => shape.done = done,
                    _ => {}
                }
            }
        });
    }

    fn detach(&mut self, index: usize) {
        let has_one = self.report.tracked[index].states[0]
            .as_ref()
            .is_some_and(|shape| shape.attachment.is_some());
        if !has_one {
            return self.upload(index);
        }
        let id = self.report.tracked[index]
            .id
            .expect("a live task has an id");
        let request = bodiless("DELETE", format!("/tasks/{id}/attachment"), 204);
        let outcome = self.send(&request);
        self.record(index, outcome, |shape, _| shape.attachment = None);
    }

    fn delete(&mut self, index: usize) {
        let id = self.report.tracked[index]
            .id
            .expect("a live task has an id");
        let request = bodiless("DELETE", format!("/tasks/{id}"), 204);
        let outcome = self.send(&request);
        let Some((kind, _)) = outcome else { return };
        let tracked = &mut self.report.tracked[index];
        if kind == EventKind::Acknowledged {
            tracked.states = vec![None];
        } else {
            tracked.states.push(None);
        }
    }

    /// Applies a change to the task's acknowledged shape: the new shape alone once
    /// acknowledged, the old and the new while in doubt; nothing when it was never sent.
    fn record(
        &mut self,
        index: usize,
        outcome: Option<(EventKind, Option<Response>)>,
        change: impl FnOnce(&mut Shape, Option<&Response>),
    ) {
        let Some((kind, response)) = outcome else {
            return;
        };
        let tracked = &mut self.report.tracked[index];
        let mut shape = tracked.states[0].clone().expect("a live task has a shape");
        if kind == EventKind::Acknowledged {
            change(&mut shape, response.as_ref());
            tracked.states = vec![Some(shape)];
        } else {
            change(&mut shape, None);
            tracked.states.push(Some(shape));
        }
    }

    /// Sends to the next instance that has not refused a connection; `None` when every one
    /// refused (the change was never made).
    fn send(&mut self, request: &Request) -> Option<(EventKind, Option<Response>)> {
        for _ in 0..self.instances.len() {
            self.turn = (self.turn + 1) % self.instances.len();
            let instance = self.turn;
            if self.refused[instance] {
                continue;
            }
            let sent = Instant::now();
            let outcome = exchange(
                self.instances[instance],
                &request.bytes(self.instances[instance]),
            );
            let took = sent.elapsed();
            let (kind, response) = match outcome {
                Outcome::NotSent(why) => {
                    self.refused[instance] = true;
                    let kind = EventKind::NotSent(why);
                    self.report.events.push(Event {
                        sent,
                        took,
                        instance,
                        kind,
                    });
                    continue;
                }
                Outcome::NoAnswer(why) => (EventKind::NoAnswer(why), None),
                Outcome::Answered(response) => (judge(request, &response), Some(response)),
            };
            if kind == EventKind::Acknowledged {
                self.acknowledged.fetch_add(1, Ordering::SeqCst);
            }
            if kind != EventKind::Acknowledged {
                // Retry-After says 1 s; a shorter pause keeps the load up around an outage
                // without spinning.
                thread::sleep(Duration::from_millis(50));
            }
            let event = Event {
                sent,
                took,
                instance,
                kind: kind.clone(),
            };
            self.report.events.push(event);
            return Some((kind, response));
        }
        thread::sleep(Duration::from_millis(50));
        None
    }
}

/// The answer's meaning for the ledger.
fn judge(request: &Request, response: &Response) -> EventKind {
    if response.status == request.success {
        // CONTRACT §11: a 201, a PATCH's 200 and an upload's 200 carry the new ETag, which the
        // ledger keeps and the verification compares.
        if response.status != 204 && response.header("ETag").is_none() {
            return EventKind::Unexpected(format!(
                "{} {}: {} without an ETag",
                request.method, request.target, response.status
            ));
        }
        return EventKind::Acknowledged;
    }
    let body = String::from_utf8_lossy(&response.body);
    if response.status == 503
        && response.header("Retry-After") == Some("1")
        && serde_json::from_slice::<Value>(&response.body).ok()
            == Some(json!({"detail": "Database unavailable"}))
    {
        return EventKind::Unavailable;
    }
    EventKind::Unexpected(format!(
        "{} {}: {} {body}",
        request.method, request.target, response.status
    ))
}

fn json_request(method: &'static str, target: String, body: &Value, success: u16) -> Request {
    Request {
        method,
        target,
        content_type: Some("application/json".to_owned()),
        body: body.to_string().into_bytes(),
        success,
    }
}

fn bodiless(method: &'static str, target: String, success: u16) -> Request {
    Request {
        method,
        target,
        content_type: None,
        body: Vec::new(),
        success,
    }
}
