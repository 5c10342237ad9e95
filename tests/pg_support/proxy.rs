//! A small TCP proxy for fault tests, between taskd and PostgreSQL. Three modes:
//! - `Forward`: bytes go both ways;
//! - `Refuse`: the listening socket is closed, so a connect is refused (ECONNREFUSED), and
//!   every open connection is cut;
//! - `Freeze`: nothing is forwarded and nothing is closed. The proxy's kernel still accepts
//!   connections and acknowledges segments, so the client sees a silent peer: the case TCP
//!   keepalives and the TCP user timeout cannot detect, only a client-side deadline.
//!
//! Switching back to `Forward` resumes frozen connections where they were.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What the proxy does now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ProxyMode {
    Forward = 0,
    Refuse = 1,
    Freeze = 2,
}

/// How often the copying threads look at the mode.
const TICK: Duration = Duration::from_millis(10);

struct Shared {
    mode: AtomicU8,
    stopping: AtomicBool,
    /// Both ends of every connection, to cut them on `Refuse`.
    streams: Mutex<Vec<TcpStream>>,
}

impl Shared {
    fn mode(&self) -> ProxyMode {
        match self.mode.load(Ordering::SeqCst) {
            0 => ProxyMode::Forward,
            1 => ProxyMode::Refuse,
            _ => ProxyMode::Freeze,
        }
    }
}

/// A running proxy to one target; dropping it stops it and cuts its connections.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 at a free port, forwarding to `target`.
    pub fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            mode: AtomicU8::new(0),
            stopping: AtomicBool::new(false),
            streams: Mutex::new(Vec::new()),
        });
        let accept_shared = shared.clone();
        thread::spawn(move || accept_loop(Some(listener), addr, target, accept_shared));
        FaultProxy { addr, shared }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Changes the mode; `Refuse` also cuts every open connection.
    pub fn set_mode(&self, mode: ProxyMode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
        if mode == ProxyMode::Refuse {
            cut_all(&self.shared);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        cut_all(&self.shared);
    }
}

fn cut_all(shared: &Shared) {
    let streams = std::mem::take(&mut *shared.streams.lock().unwrap_or_else(|e| e.into_inner()));
    for stream in streams {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

fn accept_loop(
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    target: SocketAddr,
    shared: Arc<Shared>,
) {
    while !shared.stopping.load(Ordering::SeqCst) {
        match (shared.mode(), listener.take()) {
            // Refusing: no listening socket at all, so the kernel answers a SYN with RST.
            (ProxyMode::Refuse, _) => thread::sleep(TICK),
            (_, None) => {
                // Back from refusing: listen again on the same port (SO_REUSEADDR is std's
                // default on Unix, so TIME_WAIT does not block it).
                listener = TcpListener::bind(addr).ok();
                thread::sleep(TICK);
            }
            (_, Some(open)) => {
                open.set_nonblocking(true).expect("non-blocking accept");
                match open.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        connect_pair(client, target, &shared);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(TICK),
                    Err(_) => thread::sleep(TICK),
                }
                listener = Some(open);
            }
        }
    }
}

fn connect_pair(client: TcpStream, target: SocketAddr, shared: &Arc<Shared>) {
    let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (Ok(client_copy), Ok(server_copy)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    if let Ok(mut streams) = shared.streams.lock() {
        streams.extend(client.try_clone());
        streams.extend(server.try_clone());
    }
    let (up, down) = (shared.clone(), shared.clone());
    thread::spawn(move || copy(client, server_copy, &up));
    thread::spawn(move || copy(server, client_copy, &down));
}

/// Copies `from` → `to` while forwarding; while frozen, reads nothing and writes nothing.
/// Bytes read just before a freeze are held until it ends, never forwarded during it.
fn copy(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let _ = from.set_read_timeout(Some(TICK));
    let mut buffer = [0u8; 16 * 1024];
    'copying: loop {
        let read = loop {
            if shared.stopping.load(Ordering::SeqCst) || shared.mode() == ProxyMode::Refuse {
                break 'copying;
            }
            if shared.mode() == ProxyMode::Freeze {
                thread::sleep(TICK);
                continue;
            }
            match from.read(&mut buffer) {
                Ok(0) => break 'copying,
                Ok(n) => break n,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => break 'copying,
            }
        };
        while shared.mode() == ProxyMode::Freeze && !shared.stopping.load(Ordering::SeqCst) {
            thread::sleep(TICK);
        }
        if shared.mode() == ProxyMode::Refuse || to.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}
