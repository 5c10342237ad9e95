//! A running server as its embedder holds it: [`Handle`] (its address, shutdown, waiting for
//! its connections) and [`Stopper`], which stops it from another thread.

use std::io;
use std::net::SocketAddr;

use super::SHUTDOWN_GRACE;

/// A running server. Dropping it (or calling [`shutdown`](Handle::shutdown)) stops it and
/// waits for its connections.
///
/// ```
/// let handle = taskd::Server::bind(taskd::Config::ephemeral())?.spawn();
/// println!("listening on http://{}", handle.addr());
/// drop(handle); // stops it, as `handle.shutdown()` would
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Handle {
    addr: SocketAddr,
    running: http1::Running,
}

impl Handle {
    pub(super) fn new(addr: SocketAddr, running: http1::Running) -> Handle {
        Handle { addr, running }
    }

    /// The address the server listens on.
    ///
    /// ```
    /// let handle = taskd::Server::bind(taskd::Config::ephemeral())?.spawn();
    /// assert!(handle.addr().ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes idle connections at once, lets requests in progress finish (at
    /// most 10 seconds) and returns when every connection is closed.
    ///
    /// ```
    /// let handle = taskd::Server::bind(taskd::Config::ephemeral())?.spawn();
    /// let addr = handle.addr();
    /// handle.shutdown();
    /// assert!(std::net::TcpStream::connect(addr).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// A way to stop the server from another thread (a signal handler's), while this thread
    /// blocks in [`Handle::wait`].
    ///
    /// ```
    /// let handle = taskd::Server::bind(taskd::Config::ephemeral())?.spawn();
    /// let stopper = handle.stopper();
    /// std::thread::spawn(move || stopper.stop());
    /// handle.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stopper(&self) -> Stopper {
        Stopper(self.running.stop_switch())
    }

    /// Blocks until the server is stopped (see [`Handle::stopper`]) and its connections are
    /// closed (those still busy 10 seconds after the stop are cut).
    ///
    /// ```
    /// let handle = taskd::Server::bind(taskd::Config::ephemeral())?.spawn();
    /// handle.stopper().stop();
    /// handle.wait()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// None today; kept so that callers handle a failure should one ever end the server.
    pub fn wait(mut self) -> io::Result<()> {
        self.running.wait(SHUTDOWN_GRACE);
        crate::log::flush(crate::log::FLUSH_BOUND);
        Ok(())
    }

    /// Stops, waits for the connections, then gives the log writer a moment for the last
    /// lines (a stderr nobody reads does not hold the shutdown longer than that).
    fn stop(&mut self) {
        self.running.stop_switch().stop();
        self.running.wait(SHUTDOWN_GRACE);
        crate::log::flush(crate::log::FLUSH_BOUND);
    }
}

/// Stops a running server from any thread; see [`Handle::stopper`]. Cheap to clone.
///
/// ```
/// let handle = taskd::Server::bind(taskd::Config::ephemeral())?.spawn();
/// let stopper = handle.stopper();
/// stopper.stop();
/// stopper.stop(); // a second stop does nothing
/// handle.wait()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Stopper(http1::StopSwitch);

impl Stopper {
    /// Stops accepting and closes idle connections; requests in progress finish. Returns at
    /// once; [`Handle::wait`] returns when the last connection is gone.
    ///
    /// ```
    /// let handle = taskd::Server::bind(taskd::Config::ephemeral())?.spawn();
    /// let addr = handle.addr();
    /// handle.stopper().stop();
    /// handle.wait()?;
    /// assert!(std::net::TcpStream::connect(addr).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self) {
        self.0.stop();
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}
