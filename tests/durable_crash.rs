//! Crash safety of `--data-dir` (CONTRACT §10): the real binary is killed with SIGKILL at
//! random moments while several threads create, patch, upload, detach and delete. After each
//! restart every acknowledged change must be there, byte for byte; a change whose answer never
//! arrived may be there or not, but never half; nothing else may be there; ids never repeat.

use crate::common;
use common::*;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

const TASKD: &str = env!("CARGO_BIN_EXE_taskd");
const ROUNDS: u64 = 24;
const THREADS: u64 = 4;

/// A small deterministic generator (xorshift64*), so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a task must look like: the JSON fields and the attachment's bytes and type.
#[derive(Debug, Clone, PartialEq)]
struct Expect {
    title: String,
    priority: String,
    done: bool,
    attachment: Option<(String, Vec<u8>)>,
}

/// A change sent whose answer never came (the server died): either outcome is fine.
#[derive(Debug, Clone)]
struct InDoubt {
    /// The task's id, or `None` for a create (found by its title).
    id: Option<u64>,
    title: String,
    before: Option<Expect>,
    after: Option<Expect>,
}

/// Kills the child when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path) -> (Running, SocketAddr) {
    let mut child = Command::new(TASKD)
        .args(["--addr", "127.0.0.1:0", "--quiet", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start taskd");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("taskd listening on http://")
        .unwrap_or_else(|| panic!("no ready line: {line:?}"))
        .parse()
        .unwrap();
    (running, addr)
}

/// One request; `None` when the server died before answering.
fn try_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Response> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut lines: Vec<String> = headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
    lines.push(format!("Content-Length: {}", body.len()));
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut bytes = request_head(addr, method, target, &lines);
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).ok()?;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let response = parse_response(&raw)?;
    let complete = response
        .header("Content-Length")
        .is_none_or(|len| len.parse() == Ok(response.body.len()));
    complete.then_some(response)
}

fn content(rng: &mut Rng) -> Vec<u8> {
    let len = [0, 1, 100, 4096, 70_000][rng.below(5) as usize] + rng.below(50) as usize;
    (0..len).map(|_| rng.next() as u8).collect()
}

/// One client thread's tasks and its last unanswered change.
struct Client {
    name: u64,
    tasks: BTreeMap<u64, Expect>,
    in_doubt: Option<InDoubt>,
    acknowledged: u64,
    serial: u64,
}

impl Client {
    /// Runs random changes until the server dies.
    fn run(&mut self, addr: SocketAddr, rng: &mut Rng, ids: &Mutex<Ids>) {
        loop {
            let ids_now: Vec<u64> = self.tasks.keys().copied().collect();
            let pick =
                (!ids_now.is_empty()).then(|| ids_now[rng.below(ids_now.len() as u64) as usize]);
            let (op, id) = match (rng.below(10), pick) {
                (0..=2, _) | (_, None) => ("create", 0),
                (3..=4, Some(id)) => ("patch", id),
                (5..=6, Some(id)) => ("upload", id),
                (7, Some(id)) => ("detach", id),
                (_, Some(id)) => ("delete", id),
            };
            let before = self.tasks.get(&id).cloned();
            self.serial += 1;
            let (response, doubt) = match op {
                "create" => {
                    let title = format!("c{}-{}", self.name, self.serial);
                    let after = Expect {
                        title: title.clone(),
                        priority: "low".into(),
                        done: false,
                        attachment: None,
                    };
                    let body = json!({"title": title, "priority": "low"}).to_string();
                    let response = try_request(
                        addr,
                        "POST",
                        "/tasks",
                        &[("Content-Type", "application/json")],
                        body.as_bytes(),
                    );
                    (
                        response,
                        InDoubt {
                            id: None,
                            title,
                            before: None,
                            after: Some(after),
                        },
                    )
                }
                "patch" => {
                    let mut after = before.clone().unwrap();
                    after.title = format!("p{}-{}", self.name, self.serial);
                    after.done = !after.done;
                    after.priority = ["low", "medium", "high"][rng.below(3) as usize].into();
                    let body = json!({"title": after.title, "done": after.done, "priority": after.priority}).to_string();
                    let response = try_request(
                        addr,
                        "PATCH",
                        &format!("/tasks/{id}"),
                        &[("Content-Type", "application/json")],
                        body.as_bytes(),
                    );
                    (
                        response,
                        InDoubt {
                            id: Some(id),
                            title: String::new(),
                            before: before.clone(),
                            after: Some(after),
                        },
                    )
                }
                "upload" => {
                    let bytes = content(rng);
                    let filename = format!("f{}.bin", self.serial);
                    let mut after = before.clone().unwrap();
                    after.attachment = Some((filename.clone(), bytes.clone()));
                    let multipart =
                        multipart_body(&[Part::file(&filename, Some("image/png"), &bytes)]);
                    let form = form_type();
                    let response = try_request(
                        addr,
                        "POST",
                        &format!("/tasks/{id}/attachment"),
                        &[("Content-Type", &form)],
                        &multipart,
                    );
                    (
                        response,
                        InDoubt {
                            id: Some(id),
                            title: String::new(),
                            before: before.clone(),
                            after: Some(after),
                        },
                    )
                }
                "detach" => {
                    let mut after = before.clone().unwrap();
                    let had = after.attachment.take().is_some();
                    let response =
                        try_request(addr, "DELETE", &format!("/tasks/{id}/attachment"), &[], b"");
                    if let Some(r) = &response {
                        assert_eq!(r.status, if had { 204 } else { 404 }, "{}", r.text());
                    }
                    (
                        response,
                        InDoubt {
                            id: Some(id),
                            title: String::new(),
                            before: before.clone(),
                            after: Some(after),
                        },
                    )
                }
                _ => {
                    let response = try_request(addr, "DELETE", &format!("/tasks/{id}"), &[], b"");
                    (
                        response,
                        InDoubt {
                            id: Some(id),
                            title: String::new(),
                            before: before.clone(),
                            after: None,
                        },
                    )
                }
            };
            let Some(response) = response else {
                self.in_doubt = Some(doubt);
                return;
            };
            assert!(
                response.status < 300 || (op == "detach" && response.status == 404),
                "{op}: {} {}",
                response.status,
                response.text()
            );
            self.acknowledged += 1;
            match (op, doubt.after) {
                ("create", Some(after)) => {
                    let new_id = response.json()["id"].as_u64().unwrap();
                    ids.lock().unwrap().hand_out(new_id);
                    self.tasks.insert(new_id, after);
                }
                (_, Some(after)) => {
                    self.tasks.insert(id, after);
                }
                (_, None) => {
                    self.tasks.remove(&id);
                }
            }
        }
    }
}

/// Every id a client has seen, and the highest one seen before the last restart.
#[derive(Default)]
struct Ids {
    seen: HashSet<u64>,
    floor: u64,
}

impl Ids {
    /// A create's answer: a new id, above everything seen before the restart.
    fn hand_out(&mut self, id: u64) {
        assert!(
            id > self.floor && self.seen.insert(id),
            "id {id} handed out again (floor {})",
            self.floor
        );
    }

    fn restarted(&mut self) {
        self.floor = self.seen.iter().copied().max().unwrap_or(0);
    }
}

/// What the server holds: every task with its attachment.
fn fetch_all(addr: SocketAddr) -> BTreeMap<u64, Expect> {
    let mut all = BTreeMap::new();
    let mut skip = 0;
    loop {
        let page = get(addr, &format!("/tasks?limit=1000&skip={skip}")).json();
        let page = page.as_array().unwrap().clone();
        for task in &page {
            let id = task["id"].as_u64().unwrap();
            let attachment = (!task["attachment"].is_null()).then(|| {
                let response = get(addr, &format!("/tasks/{id}/attachment"));
                assert_eq!(response.status, 200);
                assert_eq!(response.header("Content-Type"), Some("image/png"));
                let filename = task["attachment"]["filename"].as_str().unwrap().to_owned();
                assert_eq!(
                    task["attachment"]["size"].as_u64(),
                    Some(response.body.len() as u64)
                );
                (filename, response.body)
            });
            all.insert(id, expect_from(task, attachment));
        }
        if page.len() < 1000 {
            return all;
        }
        skip += 1000;
    }
}

fn expect_from(task: &Value, attachment: Option<(String, Vec<u8>)>) -> Expect {
    Expect {
        title: task["title"].as_str().unwrap().to_owned(),
        priority: task["priority"].as_str().unwrap().to_owned(),
        done: task["done"].as_bool().unwrap(),
        attachment,
    }
}

/// Checks the restarted server against the clients' models and settles each doubt.
fn verify(actual: &mut BTreeMap<u64, Expect>, clients: &mut [Client], ids: &Mutex<Ids>) {
    for client in clients.iter_mut() {
        if let Some(doubt) = client.in_doubt.take() {
            let id = doubt.id.or_else(|| {
                actual
                    .iter()
                    .find(|(_, t)| t.title == doubt.title)
                    .map(|(id, _)| *id)
            });
            let found = id.and_then(|id| actual.get(&id)).cloned();
            assert!(
                found == doubt.before || found == doubt.after,
                "half-applied change: {doubt:?} found {found:?}"
            );
            match (id, found) {
                (Some(id), Some(task)) => {
                    ids.lock().unwrap().seen.insert(id);
                    client.tasks.insert(id, task);
                }
                (Some(id), None) => {
                    client.tasks.remove(&id);
                }
                (None, _) => {}
            }
        }
        for (id, expect) in &client.tasks {
            let found = actual.remove(id);
            assert_eq!(
                found.as_ref(),
                Some(expect),
                "acknowledged task {id} after a restart"
            );
        }
    }
    assert!(actual.is_empty(), "tasks nobody acknowledged: {actual:?}");
    ids.lock().unwrap().restarted();
}

fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("taskd-crash-{}-{nanos}", std::process::id()))
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_change() {
    let dir = temp_dir();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed:#x}");
    let mut rng = Rng(seed);
    let highest_id = Arc::new(Mutex::new(Ids::default()));
    let mut clients: Vec<Client> = (0..THREADS)
        .map(|name| Client {
            name,
            tasks: BTreeMap::new(),
            in_doubt: None,
            acknowledged: 0,
            serial: 0,
        })
        .collect();
    let mut doubts = 0;
    for round in 0..ROUNDS {
        let (mut running, addr) = start(&dir);
        let mut actual = fetch_all(addr);
        verify(&mut actual, &mut clients, &highest_id);
        let workers: Vec<_> = clients
            .drain(..)
            .map(|mut client| {
                let ids = highest_id.clone();
                let mut rng = Rng(seed ^ (round << 32) ^ ((client.name + 1) * 0x9E37_79B9));
                thread::spawn(move || {
                    client.run(addr, &mut rng, &ids);
                    client
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(40 + rng.below(260)));
        running.0.kill().unwrap();
        running.0.wait().unwrap();
        clients = workers.into_iter().map(|w| w.join().unwrap()).collect();
        doubts += clients.iter().filter(|c| c.in_doubt.is_some()).count();
    }
    let (_running, addr) = start(&dir);
    let mut actual = fetch_all(addr);
    verify(&mut actual, &mut clients, &highest_id);
    let acknowledged: u64 = clients.iter().map(|c| c.acknowledged).sum();
    eprintln!("{ROUNDS} kills, {acknowledged} acknowledged changes, {doubts} unanswered");
    assert!(
        acknowledged > ROUNDS * 10,
        "too little work to prove anything: {acknowledged}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
