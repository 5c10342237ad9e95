//! The request scripts of each scenario, with their bytes built once: a GET cycles through
//! pre-built requests, a create rewrites ten digits of its title in place, so the generator
//! spends its CPU on the socket, not on formatting.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;

use crate::client::{json_id, Conn};
use crate::load::{open, Script};

/// `GET /tasks/{id}` over a fixed set of ids, each connection starting at another offset.
pub struct Get {
    requests: Arc<Vec<Vec<u8>>>,
    next: usize,
    /// The status every answer must have (200 unless [`Get::expecting`] says otherwise).
    status: u16,
}

impl Get {
    /// Pre-builds one request per target (e.g. `/tasks/17`); 200 is expected.
    pub fn requests(host: &str, targets: impl Iterator<Item = String>) -> Arc<Vec<Vec<u8>>> {
        let build = |target: String| format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        Arc::new(targets.map(|target| build(target).into_bytes()).collect())
    }

    pub fn new(requests: Arc<Vec<Vec<u8>>>, connection: usize) -> Get {
        let next = connection * 7919 % requests.len().max(1);
        Get {
            requests,
            next,
            status: 200,
        }
    }

    /// The same script, expecting `status` (a 304 to `If-None-Match`, a 206 to `Range`).
    pub fn expecting(self, status: u16) -> Get {
        Get { status, ..self }
    }
}

impl Script for Get {
    fn request(&mut self) -> &[u8] {
        let index = self.next;
        self.next = (self.next + 1) % self.requests.len();
        &self.requests[index]
    }

    fn expect(&mut self, status: u16, _body: &[u8]) -> bool {
        status == self.status
    }
}

/// A request whose answer does not matter (any status), to open a connection with.
struct Probe(Get);

impl Script for Probe {
    fn request(&mut self) -> &[u8] {
        self.0.request()
    }

    fn expect(&mut self, _status: u16, _body: &[u8]) -> bool {
        true
    }
}

/// `POST /tasks` with a unique title per request: `PREFIX-NNNNNNNNNN`.
pub struct Create {
    bytes: Vec<u8>,
    /// Where the ten counter digits are in `bytes`.
    digits: usize,
    counter: u64,
}

impl Create {
    pub fn new(host: &str, prefix: &str) -> Create {
        let body = format!(r#"{{"title":"{prefix}-0000000000"}}"#);
        let head = format!(
            "POST /tasks HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let digits = head.len() + body.len() - 12;
        Create {
            bytes: (head + &body).into_bytes(),
            digits,
            counter: 0,
        }
    }

    /// The next request, with the next title.
    pub fn next_bytes(&mut self) -> &[u8] {
        let mut value = self.counter;
        for byte in self.bytes[self.digits..self.digits + 10].iter_mut().rev() {
            *byte = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.counter += 1;
        &self.bytes
    }
}

impl Script for Create {
    fn request(&mut self) -> &[u8] {
        self.next_bytes()
    }

    fn expect(&mut self, status: u16, _body: &[u8]) -> bool {
        status == 201 || status == 200
    }
}

/// create → get it → delete it, again and again: a third of each.
pub struct Mixed {
    create: Create,
    host: String,
    buf: Vec<u8>,
    /// The id being read and deleted; `None` means the next request is a create.
    id: Option<u64>,
    deleting: bool,
}

impl Mixed {
    pub fn new(host: &str, prefix: &str) -> Mixed {
        Mixed {
            create: Create::new(host, prefix),
            host: host.to_owned(),
            buf: Vec::with_capacity(128),
            id: None,
            deleting: false,
        }
    }
}

impl Script for Mixed {
    fn request(&mut self) -> &[u8] {
        let Some(id) = self.id else {
            return self.create.next_bytes();
        };
        let method = if self.deleting { "DELETE" } else { "GET" };
        self.buf.clear();
        let host = &self.host;
        let head = format!("{method} /tasks/{id} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        self.buf.extend_from_slice(head.as_bytes());
        &self.buf
    }

    fn expect(&mut self, status: u16, body: &[u8]) -> bool {
        match (self.id, self.deleting) {
            (None, _) => {
                self.id = json_id(body);
                (status == 201 || status == 200) && self.id.is_some()
            }
            (Some(_), false) => {
                self.deleting = true;
                status == 200
            }
            (Some(_), true) => {
                self.id = None;
                self.deleting = false;
                (200..300).contains(&status)
            }
        }
    }
}

/// `POST /tasks/{id}/attachment` with a `size`-byte text file, to a task of its own.
pub struct Upload {
    host: String,
    prefix: String,
    size: usize,
    bytes: Vec<u8>,
}

impl Upload {
    pub fn new(host: &str, prefix: &str, size: usize) -> Upload {
        Upload {
            host: host.to_owned(),
            prefix: prefix.to_owned(),
            size,
            bytes: Vec::new(),
        }
    }
}

impl Script for Upload {
    fn prepare(&mut self, conn: &mut Conn) -> io::Result<()> {
        let mut create = Create::new(&self.host, &self.prefix);
        conn.send(create.next_bytes())?;
        let (status, _) = conn.recv()?;
        let id = json_id(conn.body())
            .ok_or_else(|| io::Error::other(format!("create for the upload: {status}")))?;
        let (head, tail) = multipart_frame(&self.host, id, self.size as u64);
        self.bytes = head.into_bytes();
        self.bytes.resize(self.bytes.len() + self.size, b'x');
        self.bytes.extend_from_slice(tail.as_bytes());
        Ok(())
    }

    fn request(&mut self) -> &[u8] {
        &self.bytes
    }

    fn expect(&mut self, status: u16, _body: &[u8]) -> bool {
        status == 200
    }
}

/// The bytes before and after a `size`-byte file in a one-part upload to task `id`: the
/// request head with its `Content-Length`, the part's head, and the closing delimiter.
pub fn multipart_frame(host: &str, id: u64, size: u64) -> (String, String) {
    let boundary = "taskd-bench-boundary";
    let part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.txt\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = part.len() as u64 + size + tail.len() as u64;
    let head = format!(
        "POST /tasks/{id}/attachment HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n{part}"
    );
    (head, tail)
}

/// Creates `count` tasks titled `PREFIX-N` over 4 connections, pipelining batches of 256
/// requests (answers come back in order, RFC 9112 §9.3.2), and returns their ids, sorted.
///
/// # Errors
/// A failed connection or a create that was not answered with a task.
pub fn populate(addr: SocketAddr, host: &str, prefix: &str, count: u64) -> io::Result<Vec<u64>> {
    const CONNECTIONS: u64 = 4;
    const BATCH: u64 = 256;
    // Connected one at a time with an exchange each: see `load::open`.
    let mut lanes = Vec::new();
    for lane in 0..CONNECTIONS {
        let probe = Get::requests(host, ["/tasks/0".to_owned()].into_iter());
        let (conn, _) = open(addr, Probe(Get::new(probe, 0)))?;
        lanes.push((lane, conn));
    }
    let workers: Vec<_> = lanes
        .into_iter()
        .map(|(lane, mut conn)| {
            let mut create = Create::new(host, &format!("{prefix}{lane}"));
            let share = count / CONNECTIONS + u64::from(lane < count % CONNECTIONS);
            thread::spawn(move || -> io::Result<Vec<u64>> {
                let mut ids = Vec::with_capacity(share as usize);
                let mut batch = Vec::new();
                let mut left = share;
                while left > 0 {
                    let n = left.min(BATCH);
                    batch.clear();
                    for _ in 0..n {
                        batch.extend_from_slice(create.next_bytes());
                    }
                    conn.send(&batch)?;
                    for _ in 0..n {
                        let (status, _) = conn.recv()?;
                        let id = json_id(conn.body()).ok_or_else(|| {
                            io::Error::other(format!("pre-population create: {status}"))
                        })?;
                        ids.push(id);
                    }
                    left -= n;
                }
                Ok(ids)
            })
        })
        .collect();
    let mut ids = Vec::with_capacity(count as usize);
    for worker in workers {
        let lane = worker
            .join()
            .map_err(|_| io::Error::other("a populate thread panicked"))??;
        ids.extend(lane);
    }
    ids.sort_unstable();
    Ok(ids)
}
