//! The accept loop, binding, starting and stopping. Accepting never blocks on anything but
//! `accept` itself: at `--max-connections` the longest-idle connection is closed to make room
//! (RFC 9112 §9.5 lets a server close an idle connection at any time), and when none is idle the
//! newcomer gets 503 from a short-lived thread of its own. Running out of file descriptors
//! pauses accepting briefly instead of ending it (tiny_http's accept loop died for good).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::answer::{self, Responder};
use super::conn::Connection;
use super::registry::{OpenConnection, Registry, Shared, Tracked};
use super::service::{Service, Settings};
use super::socket::{self, SocketWire};

/// The listen backlog: room for a burst of connections while the accept loop starts threads.
const BACKLOG: i32 = 1024;
/// The longest pause when `accept` fails for want of descriptors or memory.
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// Binds `addr` with a listen backlog of 1024 (std's `bind` uses 128).
///
/// # Errors
/// When the address does not resolve or cannot be bound.
pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    // listen(2) again on a listening socket only changes its backlog.
    rustix::net::listen(&listener, BACKLOG)?;
    Ok(listener)
}

/// The accept loop, running on its own thread.
pub struct Running {
    switch: StopSwitch,
    acceptor: Option<JoinHandle<()>>,
}

/// Stops a running server from any thread.
#[derive(Clone)]
pub struct StopSwitch {
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
            .name("http1-accept".to_owned())
            .spawn(move || accept_loop(&listener, &shared))?
    };
    Ok(Running {
        switch: StopSwitch { shared, listener },
        acceptor: Some(acceptor),
    })
}

/// Reads how many connections a running server has open (a metrics gauge). Holds only the
/// registry, never the service, so keeping it does not keep the application alive.
#[derive(Clone)]
pub struct OpenConnections(Arc<Registry>);

impl OpenConnections {
    /// The connections open now.
    pub fn count(&self) -> usize {
        self.0.open()
    }
}

impl Running {
    /// How many connections are open, readable from anywhere while the server runs.
    pub fn open_connections(&self) -> OpenConnections {
        OpenConnections(self.switch.shared.registry.clone())
    }

    /// A way to stop the server from another thread.
    pub fn stop_switch(&self) -> StopSwitch {
        self.switch.clone()
    }

    /// Waits until the server is stopped and its connections are gone: those still busy after
    /// `grace` are closed.
    pub fn wait(&mut self, grace: Duration) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let registry = &self.switch.shared.registry;
        if !registry.wait_empty(grace) {
            registry.close_all();
            registry.wait_empty(Duration::from_secs(1));
        }
    }
}

impl StopSwitch {
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
                    shared
                        .service
                        .note(format_args!("accepting connections again"));
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
                        shared.service.note(format_args!(
                            "cannot accept connections ({error}); retrying"
                        ));
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
    let _ = SocketWire::prepare(&stream, shared.settings.io_timeout);
    let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
    let stream = Arc::new(stream);
    let Some(open) = shared.registry.admit(id, &stream) else {
        refuse(shared, stream, peer, id);
        return;
    };
    let guard = Leave {
        shared: Some(shared.clone()),
        registry: shared.registry.clone(),
        open: Some(open),
    };
    let spawned = thread::Builder::new()
        .name("http1-conn".to_owned())
        .spawn(move || {
            let (shared, open) = guard.parts();
            serve(shared, open, peer);
            drop(guard);
        });
    if let Err(error) = spawned {
        // The closure, and the guard in it, were dropped: the connection has left the registry.
        shared.service.note(format_args!(
            "cannot start a connection thread, closing the connection: {error}"
        ));
    }
}

/// Serves one accepted connection until it closes.
fn serve(shared: &Shared, open: &OpenConnection, peer: SocketAddr) {
    let wire = SocketWire::new(open.stream.clone(), shared.settings.io_timeout);
    let mut connection = Connection::new(wire, &*shared.service, shared.settings, peer, open.id);
    connection.serve_tracked(&Tracked { shared, open });
}

/// Ends a connection's stay, however its thread ends: first lets go of `Shared` (the service
/// and its store), then leaves the registry, whose emptiness `Running::wait` waits for.
struct Leave {
    shared: Option<Arc<Shared>>,
    registry: Arc<Registry>,
    open: Option<Arc<OpenConnection>>,
}

impl Leave {
    fn parts(&self) -> (&Shared, &OpenConnection) {
        let shared = self.shared.as_deref().expect("held until drop");
        (shared, self.open.as_deref().expect("held until drop"))
    }
}

impl Drop for Leave {
    fn drop(&mut self) {
        drop(self.shared.take());
        if let Some(open) = self.open.take() {
            self.registry.leave(&open);
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
        .name("http1-refuse".to_owned())
        .spawn(move || {
            let mut wire = SocketWire::new(stream.clone(), thread_shared.settings.io_timeout);
            let mut response_head = Vec::new();
            let mut responder = Responder {
                service: &*thread_shared.service,
                settings: thread_shared.settings,
                peer,
                id,
                response_head: &mut response_head,
            };
            let sent = answer::refuse_at_cap(&mut responder, &mut wire);
            drop(thread_shared);
            if sent {
                socket::linger(&stream);
            }
            registry.release_refuser();
        });
    if spawned.is_err() {
        shared.registry.release_refuser();
    }
}
