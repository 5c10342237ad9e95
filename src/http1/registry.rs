//! The connection registry: which connections are open, which of them are idle and since when,
//! so that the accept loop can close the longest-idle one at `--max-connections` (RFC 9112 §9.5
//! lets a server close an idle connection at any time), shutdown can close the idle ones at
//! once, and `Running::wait` can wait for the rest.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Most threads answering 503 at once; past this a refused connection is just closed.
const MAX_REFUSERS: usize = 64;
/// A connection's registry state: busy, closed, or idle since this many nanoseconds (+ 1) after
/// the registry's epoch.
const BUSY: u64 = 0;
const CLOSED: u64 = u64::MAX;

/// One open connection, as the registry knows it.
#[derive(Debug)]
pub struct Slot {
    /// The connection's number.
    pub id: u64,
    /// Shared with its thread, so the registry can shut it down from outside.
    pub stream: Arc<TcpStream>,
    /// `BUSY`, `CLOSED`, or when it became idle.
    state: AtomicU64,
}

impl Slot {
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
pub struct Registry {
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    /// Threads answering 503 to connections over the cap (see `MAX_REFUSERS`).
    refusers: AtomicUsize,
    /// Signalled when the last connection or refuser leaves.
    emptied: Condvar,
    epoch: Instant,
    max: usize,
}

impl Registry {
    pub(super) fn new(max: usize) -> Registry {
        Registry {
            slots: Mutex::new(HashMap::new()),
            refusers: AtomicUsize::new(0),
            emptied: Condvar::new(),
            epoch: Instant::now(),
            max,
        }
    }

    /// The map; a panic elsewhere cannot leave it half-changed, so a poisoned lock is fine.
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(CLOSED - 1) + 1
    }

    /// Registers a new connection (idle: it has sent nothing yet), closing the longest-idle one
    /// at the cap. `None` when the cap is reached and every connection is busy.
    pub(super) fn admit(&self, id: u64, stream: &Arc<TcpStream>) -> Option<Arc<Slot>> {
        let mut slots = self.lock();
        while slots.len() >= self.max {
            let (victim, since) = slots
                .values()
                .filter_map(|slot| slot.idle_since().map(|since| (slot.id, since)))
                .min_by_key(|&(_, since)| since)?;
            if slots[&victim].close_if_idle(since) {
                slots.remove(&victim);
            }
        }
        let slot = Arc::new(Slot {
            id,
            stream: stream.clone(),
            state: AtomicU64::new(self.now()),
        });
        slots.insert(id, slot.clone());
        Some(slot)
    }

    /// The connection waits for a request; false if it was closed meanwhile. A connection idle
    /// already (a fresh one, idle since it was admitted) keeps its time: however late its thread
    /// starts, the longest-idle connection is still the one that waited longest.
    pub(super) fn mark_idle(&self, slot: &Slot) -> bool {
        let now = self.now();
        slot.state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| match state {
                CLOSED => None,
                BUSY => Some(now),
                since => Some(since),
            })
            .is_ok()
    }

    /// A request's first byte arrived; false if the connection was closed meanwhile.
    pub(super) fn mark_busy(&self, slot: &Slot) -> bool {
        slot.state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| {
                (state != CLOSED).then_some(BUSY)
            })
            .is_ok()
    }

    pub(super) fn leave(&self, slot: &Slot) {
        let mut slots = self.lock();
        if slots
            .get(&slot.id)
            .is_some_and(|held| std::ptr::eq(&**held, slot))
        {
            slots.remove(&slot.id);
        }
        if slots.is_empty() {
            self.emptied.notify_all();
        }
    }

    /// Takes one of the `MAX_REFUSERS` places, if one is free.
    pub(super) fn claim_refuser(&self) -> bool {
        self.refusers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |running| {
                (running < MAX_REFUSERS).then_some(running + 1)
            })
            .is_ok()
    }

    pub(super) fn release_refuser(&self) {
        let _slots = self.lock();
        self.refusers.fetch_sub(1, Ordering::SeqCst);
        self.emptied.notify_all();
    }

    pub(super) fn close_idle(&self) {
        for slot in self.lock().values() {
            if let Some(since) = slot.idle_since() {
                slot.close_if_idle(since);
            }
        }
    }

    pub(super) fn close_all(&self) {
        for slot in self.lock().values() {
            slot.state.store(CLOSED, Ordering::SeqCst);
            let _ = slot.stream.shutdown(Shutdown::Both);
        }
    }

    /// How many connections are open now (read by a metrics scrape, not per request).
    pub(super) fn open(&self) -> usize {
        self.lock().len()
    }

    /// Waits until no connection is open and no refuser runs, at most `timeout`; whether so.
    pub(super) fn wait_empty(&self, timeout: Duration) -> bool {
        let busy = |slots: &mut HashMap<u64, Arc<Slot>>| {
            !slots.is_empty() || self.refusers.load(Ordering::SeqCst) > 0
        };
        let slots = self.lock();
        let (mut slots, _) = self
            .emptied
            .wait_timeout_while(slots, timeout, busy)
            .unwrap_or_else(PoisonError::into_inner);
        !busy(&mut slots)
    }
}
