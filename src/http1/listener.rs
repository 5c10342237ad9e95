//! The accept loop and the connection registry. Accepting never blocks on anything but
//! `accept` itself: at `--max-connections` the longest-idle connection is closed to make room
//! (RFC 9112 §9.5 lets a server close an idle connection at any time), and when none is idle the
//! newcomer gets 503 from a short-lived thread of its own. Running out of file descriptors
//! pauses accepting briefly instead of ending it (tiny_http's accept loop died for good).

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::io::Writer;
use super::write::Persistence;
use super::{conn, write, Exchange, Refusal, Service, Settings, TransportError};
use crate::error::ApiError;
use crate::http::Reply;

/// The listen backlog: room for a burst of connections while the accept loop starts threads.
const BACKLOG: i32 = 1024;
/// The longest pause when `accept` fails for want of descriptors or memory.
const MAX_BACKOFF: Duration = Duration::from_millis(100);
/// Most threads answering 503 at once; past this a refused connection is just closed.
const MAX_REFUSERS: usize = 64;
/// A connection's registry state: busy, closed, or idle since this many nanoseconds (+ 1) after
/// the registry's epoch.
const BUSY: u64 = 0;
const CLOSED: u64 = u64::MAX;

/// Binds `addr` with a listen backlog of [`BACKLOG`] (std's `bind` uses 128).
///
/// # Errors
/// When the address does not resolve or cannot be bound.
pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    // listen(2) again on a listening socket only changes its backlog.
    rustix::net::listen(&listener, BACKLOG)?;
    Ok(listener)
}

/// What the accept loop and the connection threads share.
pub struct Shared {
    pub(super) service: Arc<dyn Service>,
    pub(super) settings: Settings,
    /// Its own `Arc`: a thread lets go of `Shared` (and with it the service and its store)
    /// *before* it leaves the registry, so when the registry is empty the store is released.
    pub(super) registry: Arc<Registry>,
    stopping: AtomicBool,
    next_connection: AtomicU64,
}

impl Shared {
    pub(super) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// The accept loop, running on its own thread.
pub struct Running {
    stopper: Stopper,
    acceptor: Option<JoinHandle<()>>,
}

/// Stops a running server from any thread.
#[derive(Clone)]
pub struct Stopper {
    shared: Arc<Shared>,
    listener: Arc<TcpListener>,
}

/// Starts accepting connections on `listener` on a new thread.
///
/// # Errors
/// When the thread cannot be started.
pub fn start(
    listener: TcpListener,
    service: Arc<dyn Service>,
    settings: Settings,
) -> io::Result<Running> {
    let shared = Arc::new(Shared {
        service,
        settings,
        registry: Arc::new(Registry::new(settings.max_connections.max(1))),
        stopping: AtomicBool::new(false),
        next_connection: AtomicU64::new(1),
    });
    let listener = Arc::new(listener);
    let acceptor = {
        let (shared, listener) = (shared.clone(), listener.clone());
        thread::Builder::new()
            .name("taskd-accept".to_owned())
            .spawn(move || accept_loop(&listener, &shared))?
    };
    Ok(Running {
        stopper: Stopper { shared, listener },
        acceptor: Some(acceptor),
    })
}

impl Running {
    /// A way to stop the server from another thread.
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Waits until the server is stopped and its connections are gone: those still busy after
    /// `grace` are closed.
    pub fn wait(&mut self, grace: Duration) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let registry = &self.stopper.shared.registry;
        if !registry.wait_empty(grace) {
            registry.close_all();
            registry.wait_empty(Duration::from_secs(1));
        }
    }
}

impl Stopper {
    /// Stops accepting and closes idle connections at once; busy ones close after their answer.
    pub fn stop(&self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // On Linux, shutting down a listening socket wakes the thread blocked in accept(2).
        let _ = rustix::net::shutdown(&*self.listener, rustix::net::Shutdown::Read);
        self.shared.registry.close_idle();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut backoff: Option<Duration> = None;
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                if backoff.take().is_some() {
                    eprintln!("taskd: accepting connections again");
                }
                admit(shared, stream, peer);
            }
            Err(_) if shared.is_stopping() => return,
            Err(error) if is_transient(&error) => {}
            Err(error) => {
                // EMFILE / ENFILE / ENOBUFS / ENOMEM: the connections already open keep being
                // served; accepting resumes once some close. One log line per episode.
                let pause = match backoff {
                    None => {
                        eprintln!("taskd: cannot accept connections ({error}); retrying");
                        Duration::from_millis(5)
                    }
                    Some(pause) => (pause * 2).min(MAX_BACKOFF),
                };
                backoff = Some(pause);
                thread::sleep(pause);
            }
        }
    }
}

/// Errors about one connection, not the listener: move on to the next.
fn is_transient(error: &io::Error) -> bool {
    use rustix::io::Errno;
    let transient = [
        Errno::CONNABORTED,
        Errno::INTR,
        Errno::PROTO,
        Errno::PERM,
        Errno::AGAIN,
    ];
    error
        .raw_os_error()
        .is_some_and(|code| transient.iter().any(|errno| errno.raw_os_error() == code))
}

fn admit(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    // Answers leave in one write each (see write.rs), so Nagle's algorithm only adds delay.
    let _ = stream.set_nodelay(true);
    let _ = Writer::prepare(&stream, shared.settings.io_timeout);
    let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
    let stream = Arc::new(stream);
    let Some(slot) = shared.registry.admit(id, &stream) else {
        refuse(shared, stream, peer, id);
        return;
    };
    let guard = Leave {
        shared: Some(shared.clone()),
        registry: shared.registry.clone(),
        slot: Some(slot),
    };
    let spawned = thread::Builder::new()
        .name("taskd-conn".to_owned())
        .spawn(move || {
            let (shared, slot) = guard.parts();
            conn::serve(shared, slot, peer);
            drop(guard);
        });
    if let Err(error) = spawned {
        // The closure, and the guard in it, were dropped: the slot has left the registry.
        eprintln!("taskd: cannot start a connection thread, closing the connection: {error}");
    }
}

/// Ends a connection's stay, however its thread ends: first lets go of `Shared` (the service
/// and its store), then leaves the registry, whose emptiness `Running::wait` waits for.
struct Leave {
    shared: Option<Arc<Shared>>,
    registry: Arc<Registry>,
    slot: Option<Arc<Slot>>,
}

impl Leave {
    fn parts(&self) -> (&Shared, &Slot) {
        let shared = self.shared.as_deref().expect("held until drop");
        (shared, self.slot.as_deref().expect("held until drop"))
    }
}

impl Drop for Leave {
    fn drop(&mut self) {
        drop(self.shared.take());
        if let Some(slot) = self.slot.take() {
            self.registry.leave(&slot);
        }
    }
}

/// At the cap with no idle connection: 503 with `Retry-After: 1` (RFC 9110 §15.6.4), from a
/// thread of its own so the accept loop never waits on a client.
fn refuse(shared: &Arc<Shared>, stream: Arc<TcpStream>, peer: SocketAddr, id: u64) {
    if !shared.registry.claim_refuser() {
        return;
    }
    let registry = shared.registry.clone();
    let thread_shared = shared.clone();
    let spawned = thread::Builder::new()
        .name("taskd-refuse".to_owned())
        .spawn(move || {
            let started = Instant::now();
            let mut reply = Reply::from(ApiError::from(Refusal::ServiceUnavailable));
            thread_shared.service.amend(None, &mut reply);
            let mut head = Vec::new();
            write::head(&mut head, &reply, Persistence::Close);
            let window = thread_shared.settings.io_timeout;
            let sent = write::send(&stream, &head, &reply, false, window);
            thread_shared.service.log(&Exchange {
                peer,
                connection: id,
                request: None,
                raw_head: &[],
                request_body: &[],
                request_body_len: 0,
                continue_sent: false,
                transport_error: Some(TransportError::Refused(Refusal::ServiceUnavailable)),
                reply: Some(&reply),
                response_head: &head,
                body_bytes: sent.unwrap_or(0),
                elapsed: started.elapsed(),
                completed: sent.is_ok(),
            });
            drop(thread_shared);
            if sent.is_ok() {
                conn::linger(&stream);
            }
            registry.release_refuser();
        });
    if spawned.is_err() {
        shared.registry.release_refuser();
    }
}

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
    fn new(max: usize) -> Registry {
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
    fn admit(&self, id: u64, stream: &Arc<TcpStream>) -> Option<Arc<Slot>> {
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

    fn leave(&self, slot: &Slot) {
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
    fn claim_refuser(&self) -> bool {
        self.refusers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |running| {
                (running < MAX_REFUSERS).then_some(running + 1)
            })
            .is_ok()
    }

    fn release_refuser(&self) {
        let _slots = self.lock();
        self.refusers.fetch_sub(1, Ordering::SeqCst);
        self.emptied.notify_all();
    }

    fn close_idle(&self) {
        for slot in self.lock().values() {
            if let Some(since) = slot.idle_since() {
                slot.close_if_idle(since);
            }
        }
    }

    fn close_all(&self) {
        for slot in self.lock().values() {
            slot.state.store(CLOSED, Ordering::SeqCst);
            let _ = slot.stream.shutdown(Shutdown::Both);
        }
    }

    /// Waits until no connection is open and no refuser runs, at most `timeout`; whether so.
    fn wait_empty(&self, timeout: Duration) -> bool {
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
