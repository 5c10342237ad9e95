//! The only user of `tiny_http::Server`: binding, a fixed pool of worker threads that each loop on
//! `recv()`, turning a panic into a 500, writing each `Reply` exactly once, and shutdown.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::SystemTime;

use tiny_http::{Header, Request, Response};

use crate::error::ApiError;
use crate::handlers::{self, App};
use crate::http::{http_date, Body, Reply};
use crate::router;
use crate::store::Store;
use crate::upload::UploadLimits;

/// Default listening address of the binary.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8000";
/// Default number of worker threads.
pub const DEFAULT_WORKERS: usize = 4;
/// Default largest upload in bytes (32 MiB).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 32 * 1024 * 1024;

/// How to run a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `HOST:PORT` to listen on; port 0 picks a free port.
    pub addr: String,
    /// Worker threads handling requests; at least 1.
    pub workers: usize,
    /// Largest accepted file in an upload.
    pub max_upload_bytes: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: DEFAULT_ADDR.to_owned(),
            workers: DEFAULT_WORKERS,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
        }
    }
}

impl Config {
    /// The default config on `127.0.0.1:0`, for tests and embedding.
    pub fn ephemeral() -> Config {
        Config {
            addr: "127.0.0.1:0".to_owned(),
            ..Config::default()
        }
    }
}

/// A bound server that is not yet answering requests.
pub struct Server {
    http: Arc<tiny_http::Server>,
    app: Arc<App>,
    addr: SocketAddr,
    workers: usize,
}

impl Server {
    /// Binds the listening socket now, so the address is known (and connectable) before any
    /// worker runs.
    ///
    /// # Errors
    /// When the address cannot be parsed or bound (e.g. the port is in use).
    pub fn bind(config: Config) -> io::Result<Server> {
        let http = tiny_http::Server::http(&config.addr).map_err(|error| {
            io::Error::other(format!("cannot listen on {}: {error}", config.addr))
        })?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("listener has no IP address"))?;
        let app = App {
            store: Store::new(),
            limits: UploadLimits {
                max_file_bytes: config.max_upload_bytes,
            },
        };
        Ok(Server {
            http: Arc::new(http),
            app: Arc::new(app),
            addr,
            workers: config.workers.max(1),
        })
    }

    /// The address the server listens on (the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts the worker threads and returns at once.
    pub fn spawn(self) -> Handle {
        let stopping = Arc::new(AtomicBool::new(false));
        let (failure_tx, failures) = mpsc::channel();
        let workers = (0..self.workers)
            .map(|index| {
                let (http, app) = (self.http.clone(), self.app.clone());
                let (stopping, failure_tx) = (stopping.clone(), failure_tx.clone());
                thread::Builder::new()
                    .name(format!("taskd-worker-{index}"))
                    .spawn(move || worker_loop(&http, &app, &stopping, &failure_tx))
                    .expect("the OS can start a worker thread")
            })
            .collect();
        Handle {
            http: self.http,
            addr: self.addr,
            stopping,
            workers,
            failures,
        }
    }

    /// Serves until the listener fails.
    ///
    /// # Errors
    /// The error that stopped tiny_http's accept loop; it never restarts, so the caller should
    /// exit and let a supervisor start a fresh process.
    pub fn run(self) -> io::Result<()> {
        self.spawn().wait()
    }
}

/// A running server. Dropping it (or calling `shutdown`) stops the workers and joins them.
pub struct Handle {
    http: Arc<tiny_http::Server>,
    addr: SocketAddr,
    /// Set before waking the workers so they can tell our `unblock()` from a real failure.
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    /// Receives the error of a worker whose `recv()` failed without a shutdown.
    failures: mpsc::Receiver<io::Error>,
}

impl Handle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the workers after their current request and waits for them.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Blocks until a worker reports that the listener failed, then stops the rest.
    ///
    /// # Errors
    /// That failure.
    pub fn wait(mut self) -> io::Result<()> {
        let result = match self.failures.recv() {
            Ok(error) => Err(error),
            Err(mpsc::RecvError) => Ok(()),
        };
        self.stop();
        result
    }

    fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Each unblock() wakes exactly one recv().
        for _ in &self.workers {
            self.http.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn worker_loop(
    http: &tiny_http::Server,
    app: &App,
    stopping: &AtomicBool,
    failures: &mpsc::Sender<io::Error>,
) {
    loop {
        match http.recv() {
            Ok(request) => handle(app, request),
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(error) => {
                eprintln!(
                    "taskd: the listener failed, no more connections can be accepted: {error}"
                );
                let _ = failures.send(error);
                return;
            }
        }
    }
}

/// Routes and answers one request. A panicking handler becomes a 500 and the worker lives on.
fn handle(app: &App, mut request: Request) {
    let method = request.method().as_str().to_owned();
    let target = request.url().to_owned();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        router::route(&method, &target)
            .and_then(|route| handlers::dispatch(app, &mut request, route))
    }));
    let reply = match outcome {
        Ok(Ok(reply)) => reply,
        Ok(Err(error)) => {
            if let ApiError::Internal(reason) = &error {
                eprintln!("taskd: {method} {target}: 500: {reason}");
            }
            Reply::from(error)
        }
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            eprintln!("taskd: {method} {target}: 500: handler panicked: {message}");
            Reply::from(ApiError::Internal(message))
        }
    };
    if let Err(error) = respond(request, reply) {
        // The client went away; nothing else to do.
        let _ = error;
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

/// Writes `reply` to the client, once.
fn respond(request: Request, reply: Reply) -> io::Result<()> {
    let (content_type, body) = match reply.body {
        Body::Empty if reply.status == 204 => return respond_no_content(request, &reply.headers),
        Body::Empty => (None, bytes::Bytes::new()),
        Body::Json(json) => (
            Some("application/json".to_owned()),
            bytes::Bytes::from(json),
        ),
        Body::File {
            content_type,
            bytes,
        } => (Some(content_type), bytes),
    };
    let mut headers: Vec<Header> = reply
        .headers
        .iter()
        .filter_map(|(name, value)| header(name, value))
        .collect();
    headers.extend(content_type.and_then(|value| header("Content-Type", &value)));
    let length = body.len();
    let response = Response::new(
        reply.status.into(),
        headers,
        bytes::Buf::reader(body),
        Some(length),
        None,
    )
    // Always send Content-Length: tiny_http would otherwise go chunked at 32 KiB.
    .with_chunked_threshold(usize::MAX);
    request.respond(response)
}

/// RFC 9110 §8.6: a 204 carries no Content-Length. tiny_http always adds one (its #136), so the
/// head is written by hand through the raw writer.
fn respond_no_content(request: Request, headers: &[(&'static str, String)]) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 204 No Content\r\nDate: {}\r\n",
        http_date(SystemTime::now())
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut writer = request.into_writer();
    writer.write_all(head.as_bytes())?;
    writer.flush()
}

/// A tiny_http header. Values derived from client input are encoded or checked before they get
/// here; should one still be unsendable (non-ASCII), it is dropped and logged, never a panic.
fn header(name: &str, value: &str) -> Option<Header> {
    let header = Header::from_bytes(name.as_bytes(), value.as_bytes()).ok();
    if header.is_none() {
        eprintln!("taskd: dropped an unsendable {name} header");
    }
    header
}
