//! The storage backends a behaviour suite runs on: each test of a suite that defines CONTRACT
//! §5–§11 runs once per backend, with that backend's setup (memory: nothing; durable: a fresh
//! `--data-dir` under the temp dir, removed afterwards). A backend that cannot run here is
//! skipped with a line on stderr. PostgreSQL (CONTRACT §14) needs a server: the throwaway
//! cluster of `tests/pg_support`, started once per test binary, and a fresh database per server
//! copied from its template. Where PostgreSQL's binaries are missing its tests FAIL, saying to
//! install it or set `TASKD_SKIP_POSTGRES=1` (which skips them).
//!
//! The backend is per test thread: [`run_on`] sets it, and every server the test spawns through
//! `spawn_server` or `spawn_server_with` gets it, unless its config names a data dir itself.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use taskd::Config;

/// A storage backend the suites run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Everything in memory (no `--data-dir`).
    Memory,
    /// `--data-dir` in a fresh temporary directory.
    Durable,
    /// `--database-url` to a fresh database of the throwaway cluster.
    Postgres,
}

thread_local! {
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Memory) };
}

impl Backend {
    /// Whether this backend can run here; `Err` says why not.
    pub fn available(self) -> Result<(), String> {
        match self {
            Backend::Memory | Backend::Durable => Ok(()),
            #[cfg(feature = "postgres")]
            Backend::Postgres => match super::pg_support::shared_cluster() {
                Some(_) => Ok(()),
                None => Err("TASKD_SKIP_POSTGRES=1".to_owned()),
            },
            #[cfg(not(feature = "postgres"))]
            Backend::Postgres => Err("built without the `postgres` feature".to_owned()),
        }
    }
}

/// Runs `test` with its servers on `backend`, or skips it (saying so) when the backend is not
/// available here.
pub fn run_on(backend: Backend, test: fn()) {
    if let Err(why) = backend.available() {
        eprintln!("skipped on {backend:?}: {why}");
        return;
    }
    BACKEND.set(backend);
    test();
}

/// A data directory under the temp dir, removed when dropped (after its server stopped).
pub struct DataDir(PathBuf);

impl DataDir {
    /// A path no other test of this run uses (the process id and a counter: the same test runs
    /// once per backend, in parallel), empty, under [`data_root`].
    pub fn fresh(name: &str) -> DataDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = data_root().join(format!(
            "taskd-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        DataDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where the durable suites keep their data directories: `/dev/shm` where there is one, where
/// an fsync costs nothing, so running a suite on the durable backend costs about what it costs
/// in memory. These suites check behaviour; what survives a crash is tests/durable_crash.rs's.
fn data_root() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

/// `config` set up for this thread's backend, with what must live as long as its server.
pub fn configure(config: Config) -> (Config, Option<DataDir>) {
    match BACKEND.get() {
        Backend::Memory => (config, None),
        Backend::Durable if config.has_data_dir() => (config, None),
        Backend::Durable => {
            let dir = DataDir::fresh("suite");
            let config = config.with_data_dir(dir.path());
            (config, Some(dir))
        }
        Backend::Postgres if config.has_data_dir() => (config, None),
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            let cluster = super::pg_support::shared_cluster()
                .expect("run_on checked that PostgreSQL is available");
            let database = cluster.create_database();
            // A small pool: the suites run several servers at once on one cluster.
            let config = config
                .with_database_url(cluster.url(&database))
                .with_database_pool(4);
            (config, None)
        }
        #[cfg(not(feature = "postgres"))]
        Backend::Postgres => (config, None),
    }
}

/// Runs each named test function (a plain `fn()`, not itself a `#[test]`) once per backend:
/// as `on_memory::NAME`, `on_durable::NAME` and `on_postgres::NAME`.
#[allow(unused_macros)] // only the behaviour suites use it
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod on_memory {
            $(
                #[test]
                fn $name() {
                    crate::common::run_on(crate::common::Backend::Memory, super::$name);
                }
            )*
        }
        mod on_durable {
            $(
                #[test]
                fn $name() {
                    crate::common::run_on(crate::common::Backend::Durable, super::$name);
                }
            )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $name() {
                    crate::common::run_on(crate::common::Backend::Postgres, super::$name);
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use backend_tests;
