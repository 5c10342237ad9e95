//! The only user of `tiny_http::Server`: binding, a fixed pool of worker threads that each loop on
//! `recv()`, turning a panic into a 500, writing each `Reply` exactly once, watching that the
//! listener still accepts, and shutdown.

use std::cell::{Cell, RefCell};
use std::io::{self, ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Once};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use tiny_http::{Header, Request, Response};

use crate::auth;
use crate::durable::StorageHooks;
use crate::error::ApiError;
use crate::handlers::{self, App};
use crate::http::{http_date, Body, Reply};
use crate::pipeline::Sequencer;
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
    /// Write one access-log line per request to stderr.
    pub access_log: bool,
    /// When set, every route but `/healthz`, `/docs` and `/openapi.json` needs
    /// `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Test hook: `GET /_test/panic` panics while holding the store lock, to show that a panic
    /// becomes a 500 and leaves the worker and the store usable. Never set it in production.
    #[doc(hidden)]
    pub fault_injection: bool,
    /// Durable mode: keep tasks, attachments and the id counter in this directory (created if
    /// missing). `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Test hooks for durable mode (failing writes, the compaction floor).
    #[doc(hidden)]
    pub storage_hooks: StorageHooks,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: DEFAULT_ADDR.to_owned(),
            workers: DEFAULT_WORKERS,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            access_log: true,
            token: None,
            fault_injection: false,
            data_dir: None,
            storage_hooks: StorageHooks::default(),
        }
    }
}

impl Config {
    /// The default config on `127.0.0.1:0` without an access log, for tests and embedding.
    pub fn ephemeral() -> Config {
        Config {
            addr: "127.0.0.1:0".to_owned(),
            access_log: false,
            ..Config::default()
        }
    }
}

/// The fault-injection route of [`Config::fault_injection`].
const PANIC_TARGET: &str = "/_test/panic";

/// How often the watchdog checks that the listener still accepts connections.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long one probe may take to connect before it counts as inconclusive.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// A declared body longer than this that the handler may have left unread is answered from a
/// drain thread (see `respond_or_hand_off`); shorter ones drain in the worker at once.
const DRAIN_IN_PLACE_BYTES: u64 = 64 * 1024;
/// Replies up to this size are serialised into one buffer and sent with one write (see
/// `respond`); larger ones stream through tiny_http.
const SINGLE_WRITE_BYTES: usize = 256 * 1024;
/// Most drain threads at once; past this a worker answers (and drains) in place again, so a
/// flood of refused bodies costs at most this many threads.
const MAX_DRAINS: usize = 16;

/// What the workers share: the application and the per-request policies around it.
struct Service {
    app: App,
    token: Option<String>,
    access_log: bool,
    fault_injection: bool,
    /// Keeps each connection's pipelined requests in order.
    sequencer: Sequencer,
    /// Drain threads running now (`MAX_DRAINS`).
    drains: Arc<AtomicUsize>,
}

/// A bound server that is not yet answering requests.
pub struct Server {
    http: Arc<tiny_http::Server>,
    service: Arc<Service>,
    addr: SocketAddr,
    workers: usize,
}

impl Server {
    /// Binds the listening socket now, so the address is known (and connectable) before any
    /// worker runs.
    ///
    /// # Errors
    /// When the address cannot be parsed or bound (e.g. the port is in use); in durable mode,
    /// when the data directory is in use by another taskd, cannot be created, or holds a
    /// corrupt record.
    pub fn bind(config: Config) -> io::Result<Server> {
        // The data directory first: a refusal there should not depend on the port.
        let store = match &config.data_dir {
            Some(dir) => Store::open(dir, config.storage_hooks.clone())?,
            None => Store::new(),
        };
        let http = tiny_http::Server::http(&config.addr).map_err(|error| {
            io::Error::other(format!("cannot listen on {}: {error}", config.addr))
        })?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| io::Error::other("listener has no IP address"))?;
        let app = App {
            store,
            limits: UploadLimits {
                max_file_bytes: config.max_upload_bytes,
            },
        };
        let service = Service {
            app,
            token: config.token,
            access_log: config.access_log,
            fault_injection: config.fault_injection,
            sequencer: Sequencer::default(),
            drains: Arc::default(),
        };
        install_panic_hook();
        Ok(Server {
            http: Arc::new(http),
            service: Arc::new(service),
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
                let (http, service) = (self.http.clone(), self.service.clone());
                let (stopping, failure_tx) = (stopping.clone(), failure_tx.clone());
                thread::Builder::new()
                    .name(format!("taskd-worker-{index}"))
                    .spawn(move || worker_loop(&http, &service, &stopping, &failure_tx))
                    .expect("the OS can start a worker thread")
            })
            .collect();
        let (wake_watchdog, watchdog_sleep) = mpsc::channel();
        let watchdog = {
            let (addr, stopping) = (self.addr, stopping.clone());
            thread::Builder::new()
                .name("taskd-watchdog".to_owned())
                .spawn(move || watch_listener(addr, &stopping, &watchdog_sleep, &failure_tx))
                .expect("the OS can start the watchdog thread")
        };
        Handle {
            http: self.http,
            addr: self.addr,
            stopping,
            workers,
            watchdog: Some(watchdog),
            wake_watchdog,
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
    watchdog: Option<JoinHandle<()>>,
    /// Ends the watchdog's sleep early on shutdown.
    wake_watchdog: mpsc::Sender<()>,
    /// Receives the error of a worker whose `recv()` failed, or the watchdog's, without a
    /// shutdown.
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

    /// A way to stop the server from another thread (a signal handler's), while this thread
    /// blocks in [`Handle::wait`].
    pub fn stopper(&self) -> Stopper {
        Stopper {
            http: self.http.clone(),
            stopping: self.stopping.clone(),
            workers: self.workers.len(),
            wake_watchdog: self.wake_watchdog.clone(),
        }
    }

    /// Blocks until a worker or the watchdog reports that the listener failed, then stops the
    /// rest.
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
        self.stopper().stop();
        for worker in self.workers.drain(..).chain(self.watchdog.take()) {
            let _ = worker.join();
        }
    }
}

/// Stops a running server's workers; see [`Handle::stopper`].
pub struct Stopper {
    http: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    workers: usize,
    wake_watchdog: mpsc::Sender<()>,
}

impl Stopper {
    /// Tells every worker to exit once the requests already queued are answered. Returns at
    /// once; [`Handle::wait`] returns when the last worker is gone.
    pub fn stop(&self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // unblock() queues one wake-up token behind the requests already queued, and each
        // worker exits on the first token it takes, so queued requests are still answered.
        for _ in 0..self.workers {
            self.http.unblock();
        }
        let _ = self.wake_watchdog.send(());
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn worker_loop(
    http: &tiny_http::Server,
    service: &Service,
    stopping: &AtomicBool,
    failures: &mpsc::Sender<io::Error>,
) {
    loop {
        match service.sequencer.next(http) {
            Ok((request, _turn)) => handle(service, request),
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

/// Checks every second that the listener still accepts, and reports when it does not.
///
/// tiny_http's accept thread ends for good on an `accept()` error (which `recv()` reports) but
/// also when it panics, which nothing reports: with one descriptor left, `accept()` succeeds and
/// its `try_clone().unwrap()` of the new socket fails with EMFILE. Either way the thread drops
/// the listening socket, so a refused connection to our own address proves the server can take
/// no more connections. Other probe errors (our own EMFILE, a full backlog) are inconclusive.
fn watch_listener(
    addr: SocketAddr,
    stopping: &AtomicBool,
    sleep: &mpsc::Receiver<()>,
    failures: &mpsc::Sender<io::Error>,
) {
    let probe = probe_address(addr);
    while let Err(mpsc::RecvTimeoutError::Timeout) = sleep.recv_timeout(PROBE_INTERVAL) {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        match TcpStream::connect_timeout(&probe, PROBE_TIMEOUT) {
            Err(error)
                if error.kind() == ErrorKind::ConnectionRefused
                    && !stopping.load(Ordering::SeqCst) =>
            {
                eprintln!(
                    "taskd: the listener on {addr} stopped accepting connections \
                     (tiny_http's accept thread ended), giving up"
                );
                let _ = failures.send(io::Error::new(
                    ErrorKind::ConnectionRefused,
                    format!("the listener on {addr} stopped accepting connections"),
                ));
                return;
            }
            // The probe is accepted and closed at once; tiny_http reads no request from it.
            _ => {}
        }
    }
}

/// Where to connect to reach our own listener: a wildcard address is reached over loopback.
fn probe_address(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

thread_local! {
    /// Set while this thread runs a handler, whose panics `handle` reports itself.
    static ANSWERING: Cell<bool> = const { Cell::new(false) };
    /// Where the last handler panic on this thread happened, for `handle`'s log line.
    static PANIC_SITE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Makes a handler's panic one log line (written by `handle`) instead of the default hook's
/// several; panics anywhere else still go to the hook that was installed before.
fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if ANSWERING.get() {
                let site = info.location().map(ToString::to_string);
                PANIC_SITE.with_borrow_mut(|slot| *slot = site);
            } else {
                previous(info);
            }
        }));
    });
}

/// Answers one request and logs it. A panicking handler becomes a 500 and the worker lives on.
fn handle(service: &Service, mut request: Request) {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let target = request.url().to_owned();
    let client = request.remote_addr().copied();
    ANSWERING.set(true);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        answer(service, &mut request, &method, &target)
    }));
    ANSWERING.set(false);
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
            let site = PANIC_SITE
                .take()
                .map_or_else(String::new, |site| format!(" at {site}"));
            let target = target.escape_default();
            eprintln!("taskd: {method} {target}: 500: handler panicked{site}: {message}");
            Reply::from(ApiError::Internal(message))
        }
    };
    let status = reply.status;
    let sent_bytes = if method == "HEAD" {
        0
    } else {
        reply.body.len()
    };
    respond_or_hand_off(service, request, reply, &method);
    if service.access_log {
        // Never the body or the Authorization header; the target is escaped so a client cannot
        // forge log lines.
        let client = client.map_or_else(|| "-".to_owned(), |addr| addr.to_string());
        let micros = started.elapsed().as_micros();
        let target = target.escape_default();
        eprintln!("{client} \"{method} {target}\" {status} {sent_bytes} {micros}us");
    }
}

/// Sends the reply, from a drain thread when the body may be long and unread.
///
/// tiny_http drains an unread body when the request is dropped, right after the response is
/// written, and the dropping thread waits until the client has sent all it declared or closed.
/// A refused 30 MB upload from a slow client would hold a worker for as long as it takes, so a
/// reply that may leave a long body unread is handed to a thread of its own (at most
/// `MAX_DRAINS`). Only a 2xx to POST or PATCH is known to have read its body to the end.
fn respond_or_hand_off(service: &Service, request: Request, reply: Reply, method: &str) {
    let read_to_end = (200..300).contains(&reply.status) && matches!(method, "POST" | "PATCH");
    let long_body = request
        .body_length()
        .is_some_and(|length| u64::try_from(length).unwrap_or(u64::MAX) > DRAIN_IN_PLACE_BYTES);
    if read_to_end || !long_body || !claim_drain(&service.drains) {
        // An error here means the client went away; there is no one left to tell.
        let _ = respond(request, reply);
        return;
    }
    let drains = Arc::clone(&service.drains);
    // The request travels over a channel rather than in the closure, so that when no thread
    // can be started it is still here to be answered in place.
    let (hand_over, handed) = mpsc::sync_channel::<(Request, Reply)>(1);
    let spawned = thread::Builder::new()
        .name("taskd-drain".to_owned())
        .spawn(move || {
            if let Ok((request, reply)) = handed.recv() {
                let _ = respond(request, reply);
            }
            drains.fetch_sub(1, Ordering::SeqCst);
        });
    match spawned {
        Ok(_) => {
            // The thread only exits after receiving, so the channel is open.
            let _ = hand_over.send((request, reply));
        }
        Err(error) => {
            service.drains.fetch_sub(1, Ordering::SeqCst);
            eprintln!("taskd: cannot start a drain thread, draining in the worker: {error}");
            let _ = respond(request, reply);
        }
    }
}

/// Takes one of the `MAX_DRAINS` drain slots, if one is free.
fn claim_drain(drains: &AtomicUsize) -> bool {
    drains
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |running| {
            (running < MAX_DRAINS).then_some(running + 1)
        })
        .is_ok()
}

/// Checks the token, routes, and runs the handler.
fn answer(
    service: &Service,
    request: &mut Request,
    method: &str,
    target: &str,
) -> Result<Reply, ApiError> {
    if let Some(token) = &service.token {
        // Before routing and before any body is read: an unauthenticated client learns nothing.
        let authorization = handlers::header(request, "Authorization");
        if !auth::is_public(target) && !auth::is_authorized(token, authorization) {
            return Err(ApiError::Unauthorized);
        }
    }
    if service.fault_injection && target == PANIC_TARGET {
        service.app.store.panic_while_locked();
    }
    let route = router::route(method, target)?;
    handlers::dispatch(&service.app, request, route)
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
        Body::Stream {
            content_type,
            file,
            len,
        } => {
            // A durable attachment goes out straight from its file, a buffer at a time.
            let headers = reply_headers(&reply.headers, Some(content_type));
            let length = usize::try_from(len).unwrap_or(usize::MAX);
            let response = Response::new(reply.status.into(), headers, file, Some(length), None)
                .with_chunked_threshold(usize::MAX);
            return request.respond(response);
        }
    };
    let headers = reply_headers(&reply.headers, content_type);
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
    // `into_writer` drops the request, and so drains an unread body, *before* anything is
    // written, so only a body tiny_http already read into memory (1 KiB or less, and only
    // without `Expect`, whose client may wait for us before sending it) or one without a
    // declared length (chunked bodies are not drained) may take the single write.
    let body_in_memory = request
        .body_length()
        .is_none_or(|declared| declared <= 1024)
        && handlers::header(&request, "Expect").is_none();
    if length > SINGLE_WRITE_BYTES || !body_in_memory {
        return request.respond(response);
    }
    // tiny_http writes through a 1 KiB buffer, so a longer reply leaves as two sends, head then
    // body; Nagle's algorithm then holds the body until the client's delayed ACK of the head,
    // about 40 ms on every keep-alive response over 1 KiB. tiny_http's own serialisation into
    // one buffer, sent with one write, avoids that without changing a byte of the response.
    let mut message = Vec::with_capacity(length + 512);
    let head_only = request.method() == &tiny_http::Method::Head;
    let version = request.http_version().clone();
    response.raw_print(&mut message, version, request.headers(), head_only, None)?;
    let mut writer = request.into_writer();
    writer.write_all(&message)?;
    writer.flush()
}

/// The reply's headers and its `Content-Type`, as tiny_http headers.
fn reply_headers(extra: &[(&'static str, String)], content_type: Option<String>) -> Vec<Header> {
    let mut headers: Vec<Header> = extra
        .iter()
        .filter_map(|(name, value)| header(name, value))
        .collect();
    headers.extend(content_type.and_then(|value| header("Content-Type", &value)));
    headers
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
