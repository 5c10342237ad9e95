//! [`Config`]: how to run a server, with the defaults of CONTRACT §10 and §13, and the
//! connection layer's [`Settings`] derived from it.

use std::path::PathBuf;
use std::time::Duration;

use http1::Settings;

use crate::cors::Cors;
use crate::durable::StorageHooks;
use crate::trace;

/// Default listening address of the binary.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8000";
/// Default largest upload in bytes (32 MiB).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 32 * 1024 * 1024;
/// Default `--request-timeout`: a request head must be complete this long after its first byte.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--io-timeout`: a body or an answer must move 1 KiB in every window this long.
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `--keep-alive-timeout`: an idle connection is closed after this long.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `--max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// How long requests in progress may take to finish once the server is told to stop.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How to run a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `HOST:PORT` to listen on; port 0 picks a free port.
    pub addr: String,
    /// Largest accepted file in an upload.
    pub max_upload_bytes: u64,
    /// Write one access-log line per request to stderr (unless `trace` is on), and with CORS
    /// off, one hint per page origin that could not read the answers; `--quiet` turns both off.
    pub access_log: bool,
    /// Which origins may read the answers from a browser (CONTRACT §12); off by default.
    pub cors: Cors,
    /// `--trace`: each exchange as a block of text on stderr, in place of the access log.
    pub trace: bool,
    /// When set, every route but `/healthz`, `/docs` and `/openapi.json` needs
    /// `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// A request head must be complete this long after its first byte, or it gets 408.
    pub request_timeout: Duration,
    /// A request body, or an answer being written, must move 1 KiB in every window this long.
    pub io_timeout: Duration,
    /// A connection that sends nothing for this long between requests is closed.
    pub keep_alive_timeout: Duration,
    /// Open connections at most; past it the longest-idle one is closed, or the newcomer gets
    /// 503.
    pub max_connections: usize,
    /// Test hook: `GET /_test/panic` panics while holding the store lock, to show that a panic
    /// becomes a 500 and leaves the connection and the store usable. Never set it in production.
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
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            access_log: true,
            cors: Cors::off(),
            trace: false,
            token: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            io_timeout: DEFAULT_IO_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
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

    pub(super) fn settings(&self) -> Settings {
        Settings {
            request_timeout: self.request_timeout,
            io_timeout: self.io_timeout,
            keep_alive_timeout: self.keep_alive_timeout,
            max_connections: self.max_connections,
            body_sample_bytes: if self.trace {
                trace::TRACE_BODY_BYTES
            } else {
                0
            },
        }
    }
}
