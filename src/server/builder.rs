//! The `with_*` methods of [`Config`]: one per setting, each taking the config by value and
//! returning it changed, so an embedder writes `Config::ephemeral().with_token(..)` and a new
//! setting is a new method, never a breaking change.

use std::path::PathBuf;
use std::time::Duration;

use super::Config;
#[cfg(feature = "test-hooks")]
use crate::storage::StorageHooks;

impl Config {
    /// Listens on `addr`, `HOST:PORT`; port 0 picks a free port (see [`Handle::addr`]).
    ///
    /// ```
    /// let config = taskd::Config::default().with_addr("127.0.0.1:0");
    /// let handle = taskd::Server::bind(config)?.spawn();
    /// assert_ne!(handle.addr().port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// [`Handle::addr`]: crate::Handle::addr
    #[must_use]
    pub fn with_addr(mut self, addr: impl Into<String>) -> Config {
        self.addr = addr.into();
        self
    }

    /// Refuses an uploaded file larger than `bytes` with 413 (default 32 MiB).
    ///
    /// ```
    /// let config = taskd::Config::ephemeral().with_max_upload_bytes(64 * 1024);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_max_upload_bytes(mut self, bytes: u64) -> Config {
        self.max_upload_bytes = bytes;
        self
    }

    /// One access-log line per answer on stderr, and with CORS off a hint per page origin
    /// that could not read the answers (on by default, off in [`Config::ephemeral`]). The
    /// lines go through a bounded queue: a stderr nobody reads drops lines, never stalls.
    ///
    /// ```
    /// let quiet = taskd::Config::default().with_access_log(false);
    /// # let _ = quiet;
    /// ```
    #[must_use]
    pub fn with_access_log(mut self, on: bool) -> Config {
        self.access_log = on;
        self
    }

    /// Each exchange as a block of `> ` / `< ` lines on stderr (heads, the first 2 KiB of
    /// text bodies, credentials redacted), in place of the access log.
    ///
    /// ```
    /// let config = taskd::Config::ephemeral().with_trace(true);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_trace(mut self, on: bool) -> Config {
        self.trace = on;
        self
    }

    /// Requires `Authorization: Bearer <token>` on every route but `/healthz`, `/docs` and
    /// `/openapi.json` (401 otherwise).
    ///
    /// ```
    /// let config = taskd::Config::ephemeral().with_token("s3cret");
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Config {
        self.token = Some(token.into());
        self
    }

    /// Lets pages on these origins read the answers (CORS, CONTRACT §12), in addition to any
    /// allowed before; `*` allows every page. An origin is written exactly as browsers send
    /// it in `Origin`: `scheme://host[:port]`, no path, no trailing slash.
    ///
    /// ```
    /// let config = taskd::Config::ephemeral().with_cors_origins(["http://localhost:5173"])?;
    /// assert!(taskd::Config::ephemeral().with_cors_origins(["localhost:5173"]).is_err());
    /// # let _ = config;
    /// # Ok::<(), String>(())
    /// ```
    ///
    /// # Errors
    /// The first value that is neither `*` nor an origin, quoted, with the reason and the fix.
    pub fn with_cors_origins<I, S>(mut self, origins: I) -> Result<Config, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.cors = self.cors.allowing(origins)?;
        Ok(self)
    }

    /// A request head must be complete this long after its first byte, or it gets 408
    /// (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = taskd::Config::ephemeral().with_request_timeout(Duration::from_secs(2));
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Config {
        self.request_timeout = timeout;
        self
    }

    /// A request body, or an answer being written, must move 1 KiB in every window this long,
    /// or the transfer is cut (408 for a body) (default 30 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = taskd::Config::ephemeral().with_io_timeout(Duration::from_secs(5));
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_io_timeout(mut self, timeout: Duration) -> Config {
        self.io_timeout = timeout;
        self
    }

    /// Closes a connection idle this long between requests (default 30 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = taskd::Config::ephemeral().with_keep_alive_timeout(Duration::from_secs(5));
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_keep_alive_timeout(mut self, timeout: Duration) -> Config {
        self.keep_alive_timeout = timeout;
        self
    }

    /// Open connections at most (default 1024); past it the longest-idle one is closed to
    /// make room, or the newcomer gets 503. At least 1.
    ///
    /// ```
    /// let config = taskd::Config::ephemeral().with_max_connections(64);
    /// # let _ = config;
    /// ```
    #[must_use]
    pub fn with_max_connections(mut self, connections: usize) -> Config {
        self.max_connections = connections.max(1);
        self
    }

    /// Durable mode: keeps tasks, attachments and the id counter in `dir` (created if
    /// missing); every answered change survives a restart or a crash. Without it, everything
    /// is in memory.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("taskd-doc-{}", std::process::id()));
    /// let config = taskd::Config::ephemeral().with_data_dir(&dir);
    /// taskd::Server::bind(config)?.spawn().shutdown();
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Config {
        self.data_dir = Some(dir.into());
        self
    }

    /// Keeps everything in the PostgreSQL database at `url` (CONTRACT §14): either
    /// `postgres://user:password@host:port/dbname?options` or libpq's `key=value` form.
    /// Several instances may share one database. Not together with a data directory.
    #[cfg(feature = "postgres")]
    #[must_use]
    pub fn with_database_url(mut self, url: impl Into<String>) -> Config {
        self.database_url = Some(url.into());
        self
    }

    /// At most `connections` pooled database connections (default 16); instances × this must
    /// stay under the server's `max_connections`.
    #[cfg(feature = "postgres")]
    #[must_use]
    pub fn with_database_pool(mut self, connections: usize) -> Config {
        self.database_pool = connections.max(1);
        self
    }

    /// Test hook: `GET /_test/panic` panics while holding the storage lock.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    #[must_use]
    pub fn with_fault_injection(mut self, on: bool) -> Config {
        self.fault_injection = on;
        self
    }

    /// Test hooks for durable mode (failing writes, the compaction floor).
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    #[must_use]
    pub fn with_storage_hooks(mut self, hooks: StorageHooks) -> Config {
        self.storage_hooks = hooks;
        self
    }

    /// Test hook: whether a data directory is set (the backend suites give each durable test
    /// its own unless the test chose one).
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn has_data_dir(&self) -> bool {
        self.data_dir.is_some()
    }
}
