//! Test support for the transport tests (CONTRACT §13): a kept-alive raw connection that reads
//! one response at a time and can wait for the server to close, a sender that trickles bytes
//! with pauses until the server answers, servers with short deadlines, and the assertion every
//! refusal shares.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::json;
use taskd::Config;

use super::{connect, parse_response, read_one_response, spawn_server_with, Response, TestServer};

/// How long any single wait for the server may take before a test fails: far longer than any
/// deadline the transport tests configure, so a pass is never a matter of luck.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A server whose config `adjust` changes from [`Config::ephemeral`] (with its `with_*`
/// methods).
pub fn spawn_configured(adjust: impl FnOnce(Config) -> Config) -> TestServer {
    spawn_server_with(adjust(Config::ephemeral()))
}

impl TestServer {
    /// Stops the server: stops accepting, closes idle connections, waits for busy ones.
    pub fn shutdown(self) {
        self.handle.shutdown();
    }

    /// Stops the server from this thread without waiting (see `Handle::stopper`).
    pub fn stop_now(&self) {
        self.handle.stopper().stop();
    }
}

/// A request head without `Connection: close`: `method target HTTP/1.1`, a `Host`, and `lines`.
pub fn kept_head(method: &str, target: &str, lines: &[&str]) -> Vec<u8> {
    let mut text = format!("{method} {target} HTTP/1.1\r\nHost: taskd.test\r\n");
    for line in lines {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// `GET /healthz`, kept alive.
pub fn healthz() -> Vec<u8> {
    kept_head("GET", "/healthz", &[])
}

/// A JSON `POST /tasks` creating `title`, kept alive.
pub fn create_request(title: &str) -> Vec<u8> {
    let body = json!({ "title": title }).to_string();
    let length = format!("Content-Length: {}", body.len());
    let mut bytes = kept_head(
        "POST",
        "/tasks",
        &["Content-Type: application/json", &length],
    );
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// The JSON body the framing tests send: `{"title":"Framed"}`, 18 bytes.
pub const TITLE_JSON: &[u8] = br#"{"title":"Framed"}"#;

/// `POST /tasks` with a JSON content type, these extra field lines, then `body` as sent.
pub fn post_tasks(lines: &[&str], body: &[u8]) -> Vec<u8> {
    let mut all = vec!["Content-Type: application/json"];
    all.extend_from_slice(lines);
    let mut bytes = kept_head("POST", "/tasks", &all);
    bytes.extend_from_slice(body);
    bytes
}

/// No task was created.
pub fn assert_no_tasks(server: &TestServer) {
    let list = super::get(server.addr(), "/tasks");
    assert_eq!(list.json(), json!([]), "a refused request created a task");
}

/// A server that wants `Authorization: Bearer <token>` (every route but the public ones).
pub fn spawn_with_token(token: &str) -> TestServer {
    spawn_configured(|config| config.with_token(token))
}

/// `GET /healthz` sent as `bytes` on a new connection is answered 200 `{"status":"ok"}`, the
/// only answer before the connection closes (so `bytes` must end it: `Connection: close` or
/// HTTP/1.0).
pub fn assert_served(bytes: &[u8]) -> Response {
    let server = super::spawn_server();
    let response = only_response(server.addr(), bytes);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), json!({"status": "ok"}));
    response
}

/// One client connection, kept open across requests, with what it received but did not consume
/// yet.
pub struct Client {
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

/// How a wait for the end of a connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The server closed (FIN); these bytes came first.
    Closed(Vec<u8>),
    /// The server reset the connection after sending these bytes.
    Reset(Vec<u8>),
}

impl Client {
    /// A new connection to `addr`.
    pub fn open(addr: SocketAddr) -> Client {
        Client {
            stream: connect(addr),
            buffer: Vec::new(),
        }
    }

    /// Writes `bytes` whole.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write the request");
    }

    /// Reads the next response (framed by its `Content-Length`).
    pub fn response(&mut self) -> Response {
        read_one_response(&mut self.stream, &mut self.buffer, false)
    }

    /// Reads the next response to a HEAD: its head only.
    pub fn head_response(&mut self) -> Response {
        read_one_response(&mut self.stream, &mut self.buffer, true)
    }

    /// Sends `bytes` and reads one response.
    pub fn exchange(&mut self, bytes: &[u8]) -> Response {
        self.send(bytes);
        self.response()
    }

    /// Bytes received and not yet read as a response.
    pub fn unread(&self) -> &[u8] {
        &self.buffer
    }

    /// Reads until the server ends the connection (failing the test after [`PATIENCE`]) and
    /// returns how, with every byte not yet read as a response.
    pub fn ending(&mut self) -> Ending {
        self.stream
            .set_read_timeout(Some(PATIENCE))
            .expect("set read timeout");
        let mut bytes = std::mem::take(&mut self.buffer);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ending::Closed(bytes),
                Ok(read) => bytes.extend_from_slice(&chunk[..read]),
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    panic!(
                        "the server kept the connection open; received {:?}",
                        String::from_utf8_lossy(&bytes)
                    )
                }
                Err(_) => return Ending::Reset(bytes),
            }
        }
    }

    /// Asserts the server closes the connection without sending anything more.
    pub fn assert_closed_silently(&mut self) {
        match self.ending() {
            Ending::Closed(bytes) if bytes.is_empty() => {}
            Ending::Closed(bytes) | Ending::Reset(bytes) => panic!(
                "expected a close without a word, received {:?}",
                String::from_utf8_lossy(&bytes)
            ),
        }
    }
}

/// Sends `bytes` on a new connection and reads until the server closes; asserts the server
/// sent exactly one response, with nothing after it, and returns it.
pub fn only_response(addr: SocketAddr, bytes: &[u8]) -> Response {
    let mut client = Client::open(addr);
    // A refused head may be answered before all of it is written: ignore a broken pipe.
    let _ = client.stream.write_all(bytes);
    let received = match client.ending() {
        Ending::Closed(received) | Ending::Reset(received) => received,
    };
    let response = parse_response(&received)
        .unwrap_or_else(|| panic!("no response in {:?}", String::from_utf8_lossy(&received)));
    let head_end = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let length: usize = response
        .header("Content-Length")
        .map_or(0, |value| value.parse().expect("numeric Content-Length"));
    assert_eq!(
        received.len(),
        head_end + length,
        "not exactly one response: {:?}",
        String::from_utf8_lossy(&received)
    );
    response
}

/// A refusal of CONTRACT §13: this status, an `HTTP/1.1` status line, `Connection: close`, and
/// exactly `{"detail": detail}`.
pub fn assert_refused(response: &Response, status: u16, detail: &str) {
    let status_line = String::from_utf8_lossy(&response.raw[..response.raw.len().min(40)]);
    assert_eq!(
        response.status,
        status,
        "{:?}",
        String::from_utf8_lossy(&response.raw)
    );
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line:?}");
    assert_eq!(response.header("Connection"), Some("close"));
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.json(), json!({ "detail": detail }));
}

/// Sends `bytes` on a new connection and asserts it earns `status` with `detail`, and that the
/// connection then closes.
pub fn assert_request_refused(addr: SocketAddr, bytes: &[u8], status: u16, detail: &str) {
    let response = only_response(addr, bytes);
    assert_refused(&response, status, detail);
}

/// [`assert_request_refused`] with 400 `Bad Request`.
pub fn assert_bad_request(addr: SocketAddr, bytes: &[u8]) {
    let response = only_response(addr, bytes);
    assert!(
        response.status == 400,
        "{:?} got {:?}",
        String::from_utf8_lossy(bytes),
        String::from_utf8_lossy(&response.raw)
    );
    assert_refused(&response, 400, "Bad Request");
}

/// Writes `bytes` a `piece` at a time with `pause` between pieces on a thread of its own, until
/// all are sent or [`Trickle::stop`] is called (the server answered), whichever comes first.
pub struct Trickle {
    stop: Arc<AtomicBool>,
    writer: Option<JoinHandle<usize>>,
}

impl Trickle {
    pub fn start(stream: &TcpStream, bytes: Vec<u8>, piece: usize, pause: Duration) -> Trickle {
        let mut stream = stream.try_clone().expect("clone the stream");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let writer = thread::spawn(move || {
            let mut sent = 0;
            for part in bytes.chunks(piece) {
                if stopped.load(Ordering::SeqCst) || stream.write_all(part).is_err() {
                    break;
                }
                sent += part.len();
                thread::sleep(pause);
            }
            sent
        });
        Trickle {
            stop,
            writer: Some(writer),
        }
    }

    /// Waits until every byte is sent (or the server stopped taking them) and returns how many
    /// were sent.
    pub fn finish(mut self) -> usize {
        self.writer
            .take()
            .map_or(0, |writer| writer.join().unwrap_or(0))
    }

    /// Stops sending and returns how many bytes were sent.
    pub fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.writer
            .take()
            .map_or(0, |writer| writer.join().unwrap_or(0))
    }
}

impl Drop for Trickle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Runs `wait` and returns how long it took.
pub fn timed<T>(wait: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let result = wait();
    (result, started.elapsed())
}

/// Half-closes the client's sending side: the server reads the end of the stream.
pub fn finish_sending(stream: &TcpStream) {
    stream.shutdown(Shutdown::Write).expect("shut down writing");
}
