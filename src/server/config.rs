//! [`Config`]: how to run a server, with the defaults of CONTRACT §10 and §13, and the
//! connection layer's [`Settings`] derived from it.

use std::path::PathBuf;
use std::time::Duration;

use http1::Settings;

use crate::cors::Cors;
#[cfg(feature = "test-hooks")]
use crate::storage::StorageHooks;
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

/// How to run a server: where to listen, the limits and timeouts, the token, CORS, logging,
/// and where tasks are kept.
///
/// Start from [`Config::default`] (the binary's defaults, on `127.0.0.1:8000`) or
/// [`Config::ephemeral`] (port 0, no access log) and change what you need with the `with_*`
/// methods. The struct is `#[non_exhaustive]` and its fields are private, so a new setting is
/// never a breaking change.
///
/// ```
/// use std::time::Duration;
///
/// let config = taskd::Config::ephemeral()
///     .with_token("s3cret")
///     .with_max_upload_bytes(1024 * 1024)
///     .with_keep_alive_timeout(Duration::from_secs(5));
/// let handle = taskd::Server::bind(config)?.spawn();
/// handle.shutdown();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// `HOST:PORT` to listen on; port 0 picks a free port.
    pub(crate) addr: String,
    /// Largest accepted file in an upload.
    pub(crate) max_upload_bytes: u64,
    /// Write one access-log line per request to stderr (unless `trace` is on), and with CORS
    /// off, one hint per page origin that could not read the answers; `--quiet` turns both off.
    pub(crate) access_log: bool,
    /// Which origins may read the answers from a browser (CONTRACT §12); off by default.
    pub(crate) cors: Cors,
    /// `--trace`: each exchange as a block of text on stderr, in place of the access log.
    pub(crate) trace: bool,
    /// When set, every route but `/healthz`, `/docs` and `/openapi.json` needs
    /// `Authorization: Bearer <token>`.
    pub(crate) token: Option<String>,
    /// A request head must be complete this long after its first byte, or it gets 408.
    pub(crate) request_timeout: Duration,
    /// A request body, or an answer being written, must move 1 KiB in every window this long.
    pub(crate) io_timeout: Duration,
    /// A connection that sends nothing for this long between requests is closed.
    pub(crate) keep_alive_timeout: Duration,
    /// Open connections at most; past it the longest-idle one is closed, or the newcomer gets
    /// 503.
    pub(crate) max_connections: usize,
    /// Test hook (the `test-hooks` feature): `GET /_test/panic` panics while holding the
    /// storage lock, to show that a panic becomes a 500 and leaves the connection and the
    /// storage usable. Never set it in production.
    #[cfg(feature = "test-hooks")]
    pub(crate) fault_injection: bool,
    /// Durable mode: keep tasks, attachments and the id counter in this directory (created if
    /// missing). `None` keeps everything in memory.
    pub(crate) data_dir: Option<PathBuf>,
    /// `--database-url`: keep everything in PostgreSQL (CONTRACT §14).
    #[cfg(feature = "postgres")]
    pub(crate) database_url: Option<String>,
    /// `--database-pool N`: connections at most per instance.
    #[cfg(feature = "postgres")]
    pub(crate) database_pool: usize,
    /// Test hooks for durable mode (failing writes, the compaction floor); the `test-hooks`
    /// feature.
    #[cfg(feature = "test-hooks")]
    pub(crate) storage_hooks: StorageHooks,
}

impl Default for Config {
    /// The binary's defaults: `127.0.0.1:8000`, 32 MiB uploads, the access log on, no token,
    /// CORS off, in memory, and CONTRACT §13's timeouts and connection cap.
    ///
    /// ```
    /// let config = taskd::Config::default().with_addr("127.0.0.1:0");
    /// let handle = taskd::Server::bind(config)?.spawn();
    /// assert!(handle.addr().ip().is_loopback());
    /// handle.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
            #[cfg(feature = "test-hooks")]
            fault_injection: false,
            data_dir: None,
            #[cfg(feature = "postgres")]
            database_url: None,
            #[cfg(feature = "postgres")]
            database_pool: crate::pg::pool::DEFAULT_POOL_SIZE,
            #[cfg(feature = "test-hooks")]
            storage_hooks: StorageHooks::default(),
        }
    }
}

impl Config {
    /// The default config on `127.0.0.1:0` (a free port) without an access log, for tests and
    /// embedding.
    ///
    /// ```
    /// let handle = taskd::Server::bind(taskd::Config::ephemeral())?.spawn();
    /// assert_ne!(handle.addr().port(), 0);
    /// handle.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
