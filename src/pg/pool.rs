//! The pool (`--database-pool N`, CONTRACT §14) and the connection kept apart for `/healthz`.
//!
//! Why not r2d2: r2d2 opens connections on its own threads with its own timeout and, when they
//! fail, answers a `get` with "timed out" rather than the reason (wrong password, refused), and
//! its checkout test is a query that nothing bounds on a silent network. Here a `get` waits
//! at most until the request's deadline, opens the connection itself on the caller's thread
//! within what is left of it, and returns the real error. That is about a hundred lines.
//!
//! Connections are opened as needed, up to N; one that broke (or that the server closed while it
//! sat idle, as after a restart) is dropped and its place freed, so the pool recovers by itself.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::conn::{Connector, Deadline, PgConn};
use super::error::PgError;

/// The default `--database-pool`: PostgreSQL's default `max_connections` (100) leaves room for
/// several instances.
pub(crate) const DEFAULT_POOL_SIZE: usize = 16;

/// At most `size` connections, shared by every HTTP connection of an instance.
pub(crate) struct Pool {
    connector: Arc<Connector>,
    size: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    idle: Vec<PgConn>,
    /// Idle plus lent plus being opened.
    open: usize,
    /// Requests waiting for a connection: a return wakes one only when there is one, so an
    /// unqueued return costs no system call.
    waiting: usize,
}

impl Pool {
    pub(crate) fn new(connector: Arc<Connector>, size: usize) -> Pool {
        Pool {
            connector,
            size: size.max(1),
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
                waiting: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// Adds an already open connection (the one start-up used), if there is room.
    pub(crate) fn adopt(&self, conn: PgConn) {
        let mut state = self.lock();
        if state.open < self.size {
            state.open += 1;
            state.idle.push(conn);
            self.returned.notify_one();
        }
    }

    /// A connection, idle or newly opened, before `deadline`; else `Unavailable`.
    pub(crate) fn get(&self, deadline: Deadline) -> Result<Pooled<'_>, PgError> {
        let mut state = self.lock();
        loop {
            // Most recently returned first: it is the likeliest to be alive. Whether it is
            // turns the connection's runtime, so it is asked with the pool unlocked.
            while let Some(mut conn) = state.idle.pop() {
                drop(state);
                if conn.is_usable() {
                    return Ok(Pooled {
                        pool: self,
                        conn: Some(conn),
                    });
                }
                drop(conn);
                state = self.lock();
                state.open -= 1;
            }
            if state.open < self.size {
                state.open += 1;
                drop(state);
                return match self.connector.connect(deadline) {
                    Ok(conn) => Ok(Pooled {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(error) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(error)
                    }
                };
            }
            let Some(left) = deadline.remaining() else {
                return Err(PgError::Unavailable(format!(
                    "database at {}: all {} pooled connections stayed busy past the deadline",
                    self.connector.target(),
                    self.size
                )));
            };
            state.waiting += 1;
            state = self
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiting -= 1;
        }
    }

    /// Connections open now (idle, lent, or being opened).
    pub(crate) fn open_connections(&self) -> usize {
        self.lock().open
    }

    // Every change to the state is one step that cannot panic halfway, so a poisoned lock's
    // state is still consistent.
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes back a lent connection. One the server closed meanwhile is found at the next
    /// checkout ([`Pool::get`] asks); here only a break that the request saw counts, so a
    /// return costs no turn of the connection's runtime.
    fn give_back(&self, conn: PgConn) {
        let usable = !conn.is_broken();
        let mut state = self.lock();
        if usable {
            state.idle.push(conn);
        } else {
            state.open -= 1;
        }
        let waiting = state.waiting > 0;
        drop(state);
        if waiting {
            self.returned.notify_one();
        }
    }
}

/// A lent connection; dropping it gives it back (or drops it, if it broke).
pub(crate) struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<PgConn>,
}

impl Deref for Pooled<'_> {
    type Target = PgConn;
    fn deref(&self) -> &PgConn {
        self.conn
            .as_ref()
            .expect("a Pooled holds its connection until dropped")
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut PgConn {
        self.conn
            .as_mut()
            .expect("a Pooled holds its connection until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }
}

/// `/healthz` on PostgreSQL (CONTRACT §14): healthy when the database answered anything in the
/// last second, or answers `SELECT 1` within a second on a connection of its own, which never
/// waits behind a busy pool.
pub(crate) struct Health {
    connector: Arc<Connector>,
    probe: Mutex<Probe>,
}

#[derive(Default)]
struct Probe {
    conn: Option<PgConn>,
    /// When the last probe failed: a request that waited for it takes its answer rather than
    /// queueing a probe of its own, so a burst of `/healthz` while the database is away costs
    /// each request at most two seconds, not one more per request ahead of it.
    failed_at: Option<Instant>,
}

/// How recent an answer must be, and how long the probe may take.
const HEALTH_WINDOW: Duration = Duration::from_secs(1);

impl Health {
    pub(crate) fn new(connector: Arc<Connector>) -> Health {
        Health {
            connector,
            probe: Mutex::new(Probe::default()),
        }
    }

    /// True for 200, false for 503.
    pub(crate) fn is_healthy(&self) -> bool {
        if self.connector.clock.answered_within(HEALTH_WINDOW) {
            return true;
        }
        let asked = Instant::now();
        let mut probe = self.probe.lock().unwrap_or_else(PoisonError::into_inner);
        // A probe that ran while this request waited for the lock decided for it.
        if self.connector.clock.answered_within(HEALTH_WINDOW) {
            return true;
        }
        if probe.failed_at.is_some_and(|failed| failed >= asked) {
            return false;
        }
        let deadline = Deadline::after(HEALTH_WINDOW);
        let kept = probe
            .conn
            .take()
            .and_then(|mut conn| conn.is_usable().then_some(conn));
        let healthy = match kept.map_or_else(|| self.connector.connect(deadline), Ok) {
            Ok(mut conn) => {
                let answered = conn.batch("SELECT 1", deadline).is_ok();
                if conn.is_usable() {
                    probe.conn = Some(conn);
                }
                answered
            }
            Err(_) => false,
        };
        if !healthy {
            probe.failed_at = Some(Instant::now());
        }
        healthy
    }
}
