//! taskd: a small task-manager HTTP API for teaching HTTP semantics.
//!
//! It serves the Task Manager of the "Robust Task Endpoints" lesson — `201 Created` with a
//! `Location`, clean `404`s, `204` with a truly empty body, `405` with a complete `Allow`, `409`
//! on duplicate titles, multipart attachments and their download, `ETag`s with 304 and 412,
//! byte ranges and list navigation — over a minimal synchronous
//! server: a blocking accept loop of its own with one thread per connection, a small
//! hand-written HTTP/1.1 layer (heads parsed by `httparse`), a router and one status-code
//! mapper over a `Mutex`-guarded store. The exact behaviour is CONTRACT.md's.
//!
//! # Layout
//! - [`server`]: [`Config`], binding, the service that answers CORS preflights, checks the
//!   token, routes, turns panics into 500s and adds the CORS fields, the access log or the
//!   `--trace` blocks, shutdown.
//! - `http1` (the crate `crates/http1`): the HTTP/1.1 connection layer: accept loop, connection
//!   cap, heads, body framing, timeouts, writing answers. It knows nothing of tasks.
//! - [`auth`]: the optional bearer token.
//! - [`check`]: `taskd check URL`, an HTTP audit of any server of the lesson's API.
//! - [`cors`]: which origins may read the answers, the CORS fields of every response, and
//!   preflights (CONTRACT §12). Pure: the server asks it and adds what it is told.
//! - [`router`]: `(method, target)` → [`router::Route`], or 404 / 405 + `Allow` / 307.
//! - [`handlers`]: one function per operation, returning a [`http::Reply`] or an [`ApiError`];
//!   where CONTRACT §11 applies, preconditions before any body is read, validators and ranges.
//! - [`http`]: the `Reply` value and its `Body` (whole, a file stretch, `multipart/byteranges`),
//!   JSON body reading, media types.
//! - [`log`]: lines on stderr that never panic.
//! - [`error`]: [`ApiError`], the status-code mapper, and the JSON error bodies.
//! - [`model`]: tasks and their validation. No HTTP, no locks.
//! - [`store`]: the `Mutex`-guarded tasks, each change a value that is journaled and applied.
//!   No HTTP.
//! - [`trace`]: `--trace`: one exchange as a block of `> ` / `< ` lines, the sink that writes
//!   blocks to stderr whole, and [`trace::capture`], which turns what the connection layer
//!   saw into a block.
//! - [`durable`]: `--data-dir`: the journal with group commit, snapshots, recovery, blobs.
//! - [`upload`]: multipart uploads driven through `multer`, and the download's headers.
//! - [`validators`]: entity tags, HTTP dates, preconditions, ranges, `multipart/byteranges`,
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

pub mod auth;
pub mod check;
pub mod cors;
pub mod durable;
pub mod error;
pub mod handlers;
pub mod http;
pub mod log;
pub mod model;
pub mod router;
pub mod server;
pub mod store;
pub mod trace;
pub mod upload;
pub mod validators;

pub use error::ApiError;
pub use server::{Config, Handle, Server, Stopper};
