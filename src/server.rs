//! The application's glue around the HTTP/1.1 layer: [`Config`], binding, the `http1::Service`
//! that answers CORS preflights, checks the token, routes, runs the handler, turns a panic into a
//! 500 and adds the CORS fields to every answer, the access log or the `--trace` blocks, and
//! shutdown.

mod config;
mod response;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
use std::sync::{Arc, Once};

use http1::{Exchange, Refusal, Request, Response, Settings};

pub use self::config::{
    Config, DEFAULT_ADDR, DEFAULT_IO_TIMEOUT, DEFAULT_KEEP_ALIVE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_REQUEST_TIMEOUT, SHUTDOWN_GRACE,
};
use crate::auth;
use crate::cors::{self, Cors, ForeignOriginHints, PreflightRequest};
use crate::error::ApiError;
use crate::handlers::{self, App};
use crate::http::Reply;
use crate::router;
use crate::store::Store;
use crate::trace::{self, TraceSink};
use crate::upload::UploadLimits;

/// The fault-injection route of [`Config::fault_injection`].
const PANIC_TARGET: &str = "/_test/panic";

/// What every connection shares: the application and the per-request policies around it.
struct Service {
    app: App,
    token: Option<String>,
    access_log: bool,
    fault_injection: bool,
    cors: Cors,
    /// With CORS off and without `--quiet`: the page origins already named in a hint.
    hints: Option<ForeignOriginHints>,
    /// With `--trace`: where the blocks go (the access log is then off).
    trace: Option<TraceSink>,
}

/// A bound server that is not yet answering requests.
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
    pub fn bind(config: Config) -> io::Result<Server> {
        // The data directory first: a refusal there should not depend on the port.
        let store = match &config.data_dir {
            Some(dir) => Store::open(dir, config.storage_hooks.clone())?,
            None => Store::new(),
        };
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
                store,
                limits: UploadLimits {
                    max_file_bytes: config.max_upload_bytes,
                },
            },
            token: config.token,
            access_log: config.access_log,
            fault_injection: config.fault_injection,
            hints: (config.access_log && !config.cors.is_enabled()).then(ForeignOriginHints::new),
            cors: config.cors,
            trace: config.trace.then(TraceSink::stderr),
        };
        install_panic_hook();
        Ok(Server {
            listener,
            service: Arc::new(service),
            settings,
            addr,
        })
    }

    /// The address the server listens on (the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts accepting connections and returns at once.
    ///
    /// # Panics
    /// When the OS cannot start the accept thread.
    pub fn spawn(self) -> Handle {
        let running = http1::start(self.listener, self.service, self.settings)
            .expect("the OS can start the accept thread");
        Handle {
            addr: self.addr,
            running,
        }
    }

    /// Serves until stopped from another thread (see [`Handle::stopper`]).
    ///
    /// # Errors
    /// None today: running out of file descriptors pauses accepting instead of ending it.
    pub fn run(self) -> io::Result<()> {
        self.spawn().wait()
    }
}

/// A running server. Dropping it (or calling `shutdown`) stops it and waits for its
/// connections.
pub struct Handle {
    addr: SocketAddr,
    running: http1::Running,
}

impl Handle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes idle connections at once, lets requests in progress finish (at
    /// most [`SHUTDOWN_GRACE`]) and returns when every connection is closed.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// A way to stop the server from another thread (a signal handler's), while this thread
    /// blocks in [`Handle::wait`].
    pub fn stopper(&self) -> Stopper {
        Stopper(self.running.stop_switch())
    }

    /// Blocks until the server is stopped (see [`Handle::stopper`]) and its connections are
    /// closed.
    ///
    /// # Errors
    /// None today; kept so that callers handle a failure should one ever end the server.
    pub fn wait(mut self) -> io::Result<()> {
        self.running.wait(SHUTDOWN_GRACE);
        Ok(())
    }

    fn stop(&mut self) {
        self.running.stop_switch().stop();
        self.running.wait(SHUTDOWN_GRACE);
    }
}

/// Stops a running server; see [`Handle::stopper`].
#[derive(Clone)]
pub struct Stopper(http1::StopSwitch);

impl Stopper {
    /// Stops accepting and closes idle connections; requests in progress finish. Returns at
    /// once; [`Handle::wait`] returns when the last connection is gone.
    pub fn stop(&self) {
        self.0.stop();
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
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

    /// The `--trace` block of the exchange, or else one access-log line per answer: never a
    /// body or `Authorization`; the target is escaped so a client cannot forge log lines.
    fn log(&self, exchange: &Exchange<'_>) {
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
        let (method, target) = exchange.request.unwrap_or(("-", "-"));
        let micros = exchange.elapsed.as_micros();
        let status = response.status;
        let sent = exchange.body_bytes;
        let cut = if exchange.completed {
            ""
        } else {
            " (abandoned)"
        };
        crate::log::line(format_args!(
            "{} \"{method} {}\" {status} {sent} {micros}us{cut}",
            exchange.peer,
            target.escape_default()
        ));
    }
}

impl Service {
    /// Runs [`answer`] and turns a panic into a 500 (the connection lives on) and an internal
    /// error into a log line.
    fn answer_caught(&self, request: &mut Request<'_>) -> Reply {
        let (method, target) = (request.method(), request.target());
        ANSWERING.set(true);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| answer(self, request)));
        ANSWERING.set(false);
        match outcome {
            Ok(Ok(reply)) => reply,
            Ok(Err(error)) => {
                // A body that failed to arrive is the connection layer's to answer (400/408).
                if let (ApiError::Internal(reason), None) = (&error, request.body().failure()) {
                    crate::log::line(format_args!(
                        "taskd: {method} {}: 500: {reason}",
                        target.escape_default()
                    ));
                }
                Reply::from(error)
            }
            Err(panic) => {
                let message = panic_message(panic.as_ref());
                let site = PANIC_SITE
                    .take()
                    .map_or_else(String::new, |site| format!(" at {site}"));
                let target = target.escape_default();
                crate::log::line(format_args!(
                    "taskd: {method} {target}: 500: handler panicked{site}: {message}"
                ));
                Reply::from(ApiError::Internal(message))
            }
        }
    }
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
