//! The connection registry: which connections are open, which of them are idle and since when,
//! so that the accept loop can close the longest-idle one at `--max-connections` (RFC 9112 §9.5
//! lets a server close an idle connection at any time), shutdown can close the idle ones at
//! once, and `Running::wait` can wait for the rest; and [`Shared`], what the accept loop and the
//! connection threads share.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::conn::Tracker;
use super::service::{Service, Settings};

/// Most threads answering 503 at once; past this a refused connection is just closed.
const MAX_REFUSERS: usize = 64;
/// A connection's registry state: busy, closed, or idle since this many nanoseconds (+ 1) after
/// the registry's epoch.
const BUSY: u64 = 0;
const CLOSED: u64 = u64::MAX;

/// What the accept loop and the connection threads share.
pub(crate) struct Shared {
    pub(crate) service: Arc<dyn Service>,
    pub(crate) settings: Settings,
    /// Its own `Arc`: a thread lets go of `Shared` (and with it the service and its state)
    /// *before* it leaves the registry, so when the registry is empty the service is released.
    pub(crate) registry: Arc<Registry>,
    pub(crate) stopping: AtomicBool,
    pub(crate) next_connection: AtomicU64,
}

impl Shared {
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// One connection as its thread reports to the registry.
pub(crate) struct Tracked<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) open: &'a OpenConnection,
}

impl Tracker for Tracked<'_> {
    fn idle(&self) -> bool {
        self.shared.registry.mark_idle(self.open)
    }

    fn busy(&self) -> bool {
        self.shared.registry.mark_busy(self.open)
    }

    fn stopping(&self) -> bool {
        self.shared.is_stopping()
    }
}

/// One open connection, as the registry knows it.
#[derive(Debug)]
pub(crate) struct OpenConnection {
    /// The connection's number.
    pub id: u64,
    /// Shared with its thread, so the registry can shut it down from outside.
    pub stream: Arc<TcpStream>,
    /// `BUSY`, `CLOSED`, or when it became idle.
    state: AtomicU64,
}

impl OpenConnection {
    fn idle_since(&self) -> Option<u64> {
        let state = self.state.load(Ordering::SeqCst);
        (state != BUSY && state != CLOSED).then_some(state)
    }

    /// Closes it if it is idle as of `since`; false if it has become busy or closed meanwhile.
    fn close_if_idle(&self, since: u64) -> bool {
        let closed = self
            .state
            .compare_exchange(since, CLOSED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if closed {
            let _ = self.stream.shutdown(Shutdown::Both);
        }
        closed
    }
}

/// The open connections: the cap, and which are idle.
pub(crate) struct Registry {
    connections: Mutex<HashMap<u64, Arc<OpenConnection>>>,
    /// Threads answering 503 to connections over the cap (see `MAX_REFUSERS`).
    refusers: AtomicUsize,
    /// Signalled when the last connection or refuser leaves.
    emptied: Condvar,
    epoch: Instant,
    max: usize,
}

impl Registry {
    pub(crate) fn new(max: usize) -> Registry {
        Registry {
            connections: Mutex::new(HashMap::new()),
            refusers: AtomicUsize::new(0),
            emptied: Condvar::new(),
            epoch: Instant::now(),
            max,
        }
    }

    /// The map; a panic elsewhere cannot leave it half-changed, so a poisoned lock is fine.
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<OpenConnection>>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(CLOSED - 1) + 1
    }

    /// Registers a new connection (idle: it has sent nothing yet), closing the longest-idle one
    /// at the cap. `None` when the cap is reached and every connection is busy.
    pub(crate) fn admit(&self, id: u64, stream: &Arc<TcpStream>) -> Option<Arc<OpenConnection>> {
        let mut connections = self.lock();
        while connections.len() >= self.max {
            let (victim, since) = connections
                .values()
                .filter_map(|open| open.idle_since().map(|since| (open.id, since)))
                .min_by_key(|&(_, since)| since)?;
            if connections[&victim].close_if_idle(since) {
                connections.remove(&victim);
            }
        }
        let open = Arc::new(OpenConnection {
            id,
            stream: stream.clone(),
            state: AtomicU64::new(self.now()),
        });
        connections.insert(id, open.clone());
        Some(open)
    }

    /// The connection waits for a request; false if it was closed meanwhile. A connection idle
    /// already (a fresh one, idle since it was admitted) keeps its time: however late its thread
    /// starts, the longest-idle connection is still the one that waited longest.
    pub(crate) fn mark_idle(&self, open: &OpenConnection) -> bool {
        let now = self.now();
        open.state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| match state {
                CLOSED => None,
                BUSY => Some(now),
                since => Some(since),
            })
            .is_ok()
    }

    /// A request's first byte arrived; false if the connection was closed meanwhile.
    pub(crate) fn mark_busy(&self, open: &OpenConnection) -> bool {
        open.state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| {
                (state != CLOSED).then_some(BUSY)
            })
            .is_ok()
    }

    pub(crate) fn leave(&self, open: &OpenConnection) {
        let mut connections = self.lock();
        if connections
            .get(&open.id)
            .is_some_and(|held| std::ptr::eq(&**held, open))
        {
            connections.remove(&open.id);
        }
        if connections.is_empty() {
            self.emptied.notify_all();
        }
    }

    /// Takes one of the `MAX_REFUSERS` places, if one is free.
    pub(crate) fn claim_refuser(&self) -> bool {
        self.refusers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |running| {
                (running < MAX_REFUSERS).then_some(running + 1)
            })
            .is_ok()
    }

    pub(crate) fn release_refuser(&self) {
        let _connections = self.lock();
        self.refusers.fetch_sub(1, Ordering::SeqCst);
        self.emptied.notify_all();
    }

    pub(crate) fn close_idle(&self) {
        for open in self.lock().values() {
            if let Some(since) = open.idle_since() {
                open.close_if_idle(since);
            }
        }
    }

    pub(crate) fn close_all(&self) {
        for open in self.lock().values() {
            open.state.store(CLOSED, Ordering::SeqCst);
            let _ = open.stream.shutdown(Shutdown::Both);
        }
    }

    /// How many connections are open now (read by a metrics scrape, not per request).
    pub(super) fn open(&self) -> usize {
        self.lock().len()
    }

    /// Waits until no connection is open and no refuser runs, at most `timeout`; whether so.
    pub(crate) fn wait_empty(&self, timeout: Duration) -> bool {
        let busy = |connections: &mut HashMap<u64, Arc<OpenConnection>>| {
            !connections.is_empty() || self.refusers.load(Ordering::SeqCst) > 0
        };
        let connections = self.lock();
        let (mut connections, _) = self
            .emptied
            .wait_timeout_while(connections, timeout, busy)
            .unwrap_or_else(PoisonError::into_inner);
        !busy(&mut connections)
    }
}
