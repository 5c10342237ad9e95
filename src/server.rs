//! The application's glue around the HTTP/1.1 layer: [`Config`], binding, the `http1::Service`
//! that answers CORS preflights, checks the token, routes, runs the handler, turns a panic into a
//! 500 and adds the CORS fields to every answer, and the access log or the `--trace` blocks. A
//! running server's [`Handle`] and [`Stopper`] are in `handle.rs`.

mod access_log;
mod builder;
mod config;
mod count;
mod handle;
mod panics;
mod response;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use http1::{Exchange, Refusal, Request, Response, Settings};

pub use self::config::{Config, SHUTDOWN_GRACE};
pub use self::count::task_count;
pub use self::handle::{Handle, Stopper};
use self::panics::catch_handler_panic;
pub use self::panics::install_handler_panic_hook;
use crate::auth;
use crate::cors::{self, Cors, ForeignOriginHints, PreflightRequest};
use crate::error::ApiError;
use crate::handlers::{self, App};
use crate::hints::{asked, MistakeHints};
use crate::message::Reply;
use crate::router;
use crate::storage::{self, Storage};
use crate::trace::{self, TraceSink};
use crate::upload::UploadLimits;

/// The fault-injection route of `Config::fault_injection` (the `test-hooks` feature).
#[cfg(feature = "test-hooks")]
const PANIC_TARGET: &str = "/_test/panic";

/// What every connection shares: the application and the per-request policies around it.
struct Service {
    app: App,
    token: Option<String>,
    access_log: bool,
    #[cfg(feature = "test-hooks")]
    fault_injection: bool,
    cors: Cors,
    /// With CORS off and without `--quiet`: the page origins already named in a hint.
    hints: Option<ForeignOriginHints>,
    /// Without `--quiet`: the newcomer mistakes already hinted at (`hints.rs`).
    mistakes: Option<MistakeHints>,
    /// With `--trace`: where the blocks go (the access log is then off).
    trace: Option<TraceSink>,
}

/// A bound server that is not yet answering requests: [`Server::bind`] it with a [`Config`],
/// then [`spawn`](Server::spawn) it (or [`run`](Server::run) it on this thread).
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::TcpStream;
///
/// let server = taskd::Server::bind(taskd::Config::ephemeral())?;
/// let handle = server.spawn();
/// let mut stream = TcpStream::connect(handle.addr())?;
/// stream.write_all(b"POST /tasks HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"title\":\"Write\"}")?;
/// let mut response = String::new();
/// stream.read_to_string(&mut response)?;
/// assert!(response.starts_with("HTTP/1.1 201 Created"));
/// assert!(response.contains("Location: /tasks/1\r\n"));
/// handle.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    listener: std::net::TcpListener,
    service: Arc<Service>,
    settings: Settings,
    addr: SocketAddr,
}

impl Server {
    /// Binds the listening socket now, so the address is known (and connectable) before the
    /// server runs.
    ///
    /// # Errors
    /// When the address cannot be parsed or bound (e.g. the port is in use); in durable mode,
    /// when the data directory is in use by another taskd, cannot be created, or holds a
    /// corrupt record.
    ///
    /// ```
    /// let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = taken.local_addr()?.to_string();
    /// let refused = taskd::Server::bind(taskd::Config::ephemeral().with_addr(addr));
    /// assert!(refused.is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(config: Config) -> io::Result<Server> {
        // The data directory first: a refusal there should not depend on the port.
        let storage = open_storage(&config)?;
        let listener = http1::bind(config.addr.as_str()).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot listen on {}: {error}", config.addr),
            )
        })?;
        let addr = listener.local_addr()?;
        let settings = config.settings();
        let service = Service {
            app: App {
                storage,
                limits: UploadLimits {
                    max_file_bytes: config.max_upload_bytes,
                },
                metrics: crate::metrics::Metrics::new(),
            },
            token: config.token,
            access_log: config.access_log,
            #[cfg(feature = "test-hooks")]
            fault_injection: config.fault_injection,
            hints: (config.access_log && !config.cors.is_enabled()).then(ForeignOriginHints::new),
            mistakes: config.access_log.then(MistakeHints::new),
            cors: config.cors,
            trace: config.trace.then(TraceSink::stderr),
        };
        Ok(Server {
            listener,
            service: Arc::new(service),
            settings,
            addr,
        })
    }

    /// The address the server listens on (the real port when bound to port 0). It accepts
    /// connections already; they are answered once the server is spawned.
    ///
    /// ```
    /// let server = taskd::Server::bind(taskd::Config::ephemeral())?;
    /// assert_ne!(server.addr().port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts accepting connections on threads of its own and returns at once.
    ///
    /// ```
    /// let handle = taskd::Server::bind(taskd::Config::ephemeral())?.spawn();
    /// std::net::TcpStream::connect(handle.addr())?;
    /// handle.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// When the OS cannot start the accept thread.
    pub fn spawn(self) -> Handle {
        let service = self.service.clone();
        let running = http1::start(self.listener, self.service, self.settings)
            .expect("the OS can start the accept thread");
        (service.app.metrics).attach_connections(running.open_connections());
        Handle::new(self.addr, running)
    }

    /// Serves on this thread until stopped from another one; to stop it, spawn and wait
    /// instead (`server.run()` is `server.spawn().wait()`), keeping a [`Stopper`]:
    ///
    /// ```
    /// let handle = taskd::Server::bind(taskd::Config::ephemeral())?.spawn();
    /// let stopper = handle.stopper();
    /// std::thread::spawn(move || stopper.stop());
    /// handle.wait()?; // what `run` does
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// None today: running out of file descriptors pauses accepting instead of ending it.
    pub fn run(self) -> io::Result<()> {
        self.spawn().wait()
    }
}

impl http1::Service for Service {
    /// Answers one request: a CORS preflight before anything else (browsers send no token on
    /// one), then the token, the route and the handler; every answer gets the CORS fields.
    fn respond(&self, request: &mut Request<'_>) -> Response {
        let origin = request.header("Origin");
        let preflight = PreflightRequest {
            method: request.method(),
            target: request.target(),
            origin,
            request_method: request.header("Access-Control-Request-Method"),
            request_headers: request.header("Access-Control-Request-Headers"),
        };
        if let Some(answer) = self.cors.preflight(&preflight) {
            return response::into_response(answer.into_reply());
        }
        if let Some(hints) = &self.hints {
            if let Some(line) = hints.hint(origin, request.header("Host")) {
                crate::log::line(format_args!("{line}"));
            }
        }
        let mut reply = self.answer_caught(request);
        if let Some(line) = self
            .mistakes
            .as_ref()
            .and_then(|m| m.hint(&asked(request), &reply))
        {
            crate::log::line(format_args!("{line}"));
        }
        cors::extend_headers(&mut reply.headers, self.cors.response_fields(origin));
        response::into_response(reply)
    }

    /// The layer's own refusals as JSON errors, with the CORS fields too: those to a known
    /// `Origin` when the head parsed, the origin-independent ones when it did not (CONTRACT §12
    /// "every response").
    fn refuse(&self, refusal: Refusal, request: Option<&Request<'_>>) -> Response {
        let mut reply = Reply::from(ApiError::from(refusal));
        let origin = request.and_then(|request| request.header("Origin"));
        cors::extend_headers(&mut reply.headers, self.cors.response_fields(origin));
        response::into_response(reply)
    }

    /// The layer's own lines (accepting failed, a field was dropped) go where taskd's go.
    fn note(&self, line: fmt::Arguments<'_>) {
        crate::log::line(format_args!("taskd: {line}"));
    }

    /// The `--trace` block of the exchange, or else one access-log line per answer (format:
    /// `access_log`).
    fn log(&self, exchange: &Exchange<'_>) {
        self.app.metrics.record(exchange);
        if let Some(sink) = &self.trace {
            trace::capture::write(sink, exchange);
            return;
        }
        let Some(response) = exchange.response else {
            return;
        };
        if !self.access_log {
            return;
        }
        let line = access_log::line(exchange, response.status, std::time::SystemTime::now());
        crate::log::line(format_args!("{line}"));
    }
}

impl Service {
    /// Runs [`answer`] and turns a panic into a 500 (the connection lives on) and an internal
    /// error into a log line.
    fn answer_caught(&self, request: &mut Request<'_>) -> Reply {
        let (method, target) = (request.method(), request.target());
        match catch_handler_panic(|| answer(self, request)) {
            Ok(Ok(reply)) => reply,
            Ok(Err(error)) => {
                // A body that failed to arrive is the connection layer's to answer (400/408).
                if let (ApiError::Internal(reason), None) = (&error, request.body().failure()) {
                    crate::log::line(format_args!(
                        "taskd: {method} {}: 500: {reason}",
                        target.escape_default()
                    ));
                }
                if let ApiError::StorageUnavailable(reason) = &error {
                    crate::log::line(format_args!(
                        "taskd: {method} {}: 503: {reason}",
                        target.escape_default()
                    ));
                }
                Reply::from(error)
            }
            Err(why) => {
                let target = target.escape_default();
                crate::log::line(format_args!("taskd: {method} {target}: 500: {why}"));
                Reply::from(ApiError::Internal(why))
            }
        }
    }
}

/// The storage backend `config` names: `--data-dir`, else memory.
fn open_storage(config: &Config) -> io::Result<Box<dyn Storage>> {
    #[cfg(feature = "postgres")]
    if let Some(url) = &config.database_url {
        if config.data_dir.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "--database-url and --data-dir cannot be used together",
            ));
        }
        let options =
            crate::pg::options::ConnectOptions::from_text(url).map_err(io::Error::other)?;
        let database = crate::pg::start::open(
            &options,
            config.database_pool,
            crate::pg::start::START_RETRY,
        )
        .map_err(|error| io::Error::other(error.to_string()))?;
        return Ok(Box::new(storage::postgres::Postgres::new(database)));
    }
    match &config.data_dir {
        #[cfg(feature = "test-hooks")]
        Some(dir) => storage::durable::open_with_hooks(dir, config.storage_hooks.clone()),
        #[cfg(not(feature = "test-hooks"))]
        Some(dir) => storage::durable::open(dir),
        None => Ok(storage::memory::open()),
    }
}

/// Checks the token, routes, and runs the handler.
fn answer(service: &Service, request: &mut Request<'_>) -> Result<Reply, ApiError> {
    let (method, target) = (request.method(), request.target());
    if let Some(token) = &service.token {
        // Before routing and before any body is read: an unauthenticated client learns nothing.
        let authorization = request.header("Authorization");
        if !auth::is_public(target) && !auth::is_authorized(token, authorization) {
            return Err(ApiError::Unauthorized);
        }
    }
    #[cfg(feature = "test-hooks")]
    if service.fault_injection && target == PANIC_TARGET {
        service.app.storage.panic_while_locked();
    }
    let route = router::route(method, target)?;
    handlers::dispatch(&service.app, request, route)
}
