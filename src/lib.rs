//! taskd: a small task-manager HTTP API for teaching HTTP semantics.
//!
//! It serves the Task Manager of the "Robust Task Endpoints" lesson — `201 Created` with a
//! `Location`, clean `404`s, `204` with a truly empty body, `405` with a complete `Allow`, `409`
//! on duplicate titles, multipart attachments and their download, `ETag`s with 304 and 412,
//! byte ranges and list navigation — over a minimal synchronous
//! server: a blocking accept loop of its own with one thread per connection, a small
//! hand-written HTTP/1.1 layer (heads parsed by `httparse`), a router and one status-code
//! mapper over one storage interface. The exact behaviour is CONTRACT.md's.
//!
//! # Using it as a library
//! The public API is what an embedder needs and nothing else: [`Config`] (built with its
//! `with_*` methods), [`Server`] (bind, then spawn or run), [`Handle`] (the running server:
//! its address, shutdown) and [`Stopper`] (stops it from another thread). Everything else is
//! private to the crate, so it can change without breaking an embedder. The library never
//! changes its host process: no panic hook, no signal handlers, no resource limits (the
//! `taskd` binary does those itself). `taskd check` is its own crate, `taskd-check`.
//!
//! # Layout (private modules)
//! - `server`: [`Config`], binding, the service that answers CORS preflights, checks the
//!   token, routes, turns panics into 500s and adds the CORS fields, the access log or the
//!   `--trace` blocks, shutdown; the handler panic hook that only the binary installs.
//! - `http1` (the crate `crates/http1`): the HTTP/1.1 connection layer: accept loop, connection
//!   cap, heads, body framing, timeouts, writing answers. It knows nothing of tasks.
//! - `auth`: the optional bearer token.
//! - `cors`: which origins may read the answers, the CORS fields of every response, and
//!   preflights (CONTRACT §12). Pure: the server asks it and adds what it is told.
//! - `router`: `(method, target)` → `router::Route`, or 404 / 405 + `Allow` / 307.
//! - `handlers`: one function per operation, returning a `message::Reply` or an `ApiError`;
//!   where CONTRACT §11 applies, preconditions before any body is read, validators and ranges.
//! - `message`: the `Reply` value and its `Body` (whole, a file stretch, `multipart/byteranges`),
//!   JSON body reading, media types.
//! - `log`: lines on stderr through a bounded queue and one writer thread: they never panic
//!   and never stall a request (a stderr nobody reads drops lines and counts them).
//! - `error`: `ApiError`, the status-code mapper, and the JSON error bodies.
//! - `model`: tasks and their validation. No HTTP, no locks.
//! - `validation`: `ErrorItem`, one 422 problem, and `loc`, where it is; made by validation,
//!   carried by `ApiError`.
//! - `storage`: the `Storage` trait that handlers talk to, its errors, the body source of a
//!   download and the upload spool; its backends `storage::memory` and `storage::durable`
//!   (`--data-dir`: the journal with group commit, snapshots, recovery, blobs), sharing one
//!   in-memory state. No HTTP.
//! - `trace`: `--trace`: one exchange as a block of `> ` / `< ` lines, the sink that writes
//!   blocks to stderr whole, and `trace::capture`, which turns what the connection layer
//!   saw into a block.
//! - `upload`: multipart uploads driven through `multer`, and the download's headers.
//! - `validators`: entity tags, HTTP dates, preconditions, ranges, `multipart/byteranges`,
//!   list navigation, and the digest behind the tags. Pure functions.
//!
//! # Example
//! Start a server on an ephemeral port, make one request, shut it down:
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! let server = taskd::Server::bind(taskd::Config::ephemeral())?;
//! let handle = server.spawn();
//!
//! let mut stream = TcpStream::connect(handle.addr())?;
//! stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
//! let mut response = String::new();
//! stream.read_to_string(&mut response)?;
//! assert!(response.starts_with("HTTP/1.1 200 OK"));
//! assert!(response.ends_with(r#"{"status":"ok"}"#));
//!
//! handle.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod backup;
mod cors;
mod error;
mod handlers;
mod hints;
#[cfg(feature = "postgres")]
mod import;
mod log;
mod message;
mod metrics;
mod model;
// PostgreSQL (CONTRACT §14): private, and unused until the backend is wired to the storage
// trait; `dead_code` is allowed until then.
#[cfg(feature = "postgres")]
#[allow(dead_code)]
mod pg;
mod router;
mod server;
mod storage;
mod trace;
mod upload;
mod validation;
mod validators;

pub use server::{Config, Handle, Server, Stopper};

/// What the `taskd` binary needs beyond the public API: the log queue (its lines must not
/// block on a stderr nobody reads either), the shutdown grace, the CORS variable's parsing,
/// the handler panic hook that only a binary may install, and the task count of its start
/// line. Not for embedders.
#[doc(hidden)]
pub mod binary {
    pub use crate::backup::run as backup;
    pub use crate::cors::{split_origins, CORS_ORIGINS_VAR};
    /// `taskd import` (CONTRACT §14).
    #[cfg(feature = "postgres")]
    pub use crate::import::{run as run_import, ImportFailure};
    pub use crate::log::{flush as flush_log, line as log_line, FLUSH_BOUND};
    #[cfg(feature = "postgres")]
    pub use crate::pg::{redact_database_url, redacted_database_url};
    pub use crate::server::{install_handler_panic_hook, task_count, SHUTDOWN_GRACE};
    pub use crate::storage::StorageError;
}

/// The pure pieces the fuzz crate (`fuzz/`, its own workspace) feeds with arbitrary bytes.
/// Not for embedders.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::error::ApiError;
    pub use crate::message::{
        check_json_length, is_json_media_type, read_json, validate_body, JsonBody, Reply,
        Validator, MAX_JSON_BYTES,
    };
    pub use crate::model::{NewTask, Priority, TaskPatch, MAX_TITLE_CHARS};
    pub use crate::router::{
        route, Route, TaskId, ALLOW_ATTACHMENT, ALLOW_READ_ONLY, ALLOW_SERVER, ALLOW_TASK,
        ALLOW_TASKS,
    };
    pub use crate::upload::{read_file_field, FileField, UploadLimits};
    pub use crate::validation::{loc, ErrorItem};
}

/// Hooks for taskd's own tests and benchmarks (failing writes, the store without HTTP, the
/// validators), behind the `test-hooks` feature that the release binary never has.
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub mod test_hooks {
    pub use crate::cors::{Cors, EXPOSED_HEADERS, PREFLIGHT_VARY};
    pub use crate::model::{NewTask, Priority};
    pub use crate::storage::{
        durable, memory, BodySource, Download, Guard, ListQuery, Storage, StorageHooks,
    };
    pub use crate::validators::{parse_http_date, whole_seconds, Digest, Digester, EntityTag};
}
