//! The servers under test run as separate processes, so that their memory and CPU figures are
//! theirs and not the generator's: spawned (optionally under `taskset`), found through their
//! ready line or by connecting to the port they were given, measured through `/proc/PID/...`,
//! killed when dropped.

use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to listen before the bench gives up on it.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// How a program says where it listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ready {
    /// taskd's way: `--addr 127.0.0.1:0`, then a `... listening on http://ADDR` line on stdout.
    Line,
    /// The peers' way: a free port as the last argument, then listening once it accepts a
    /// connection.
    Port,
}

/// A running server process.
pub struct ServerProcess {
    /// `None` for a server someone else started (`--url`): nothing to measure or kill.
    child: Option<Child>,
    pub addr: SocketAddr,
    /// From spawn to listening.
    pub startup: Duration,
}

impl ServerProcess {
    /// Starts `program --addr 127.0.0.1:0 ARGS...` and waits for its ready line.
    ///
    /// # Errors
    /// When the program cannot start or exits before that line.
    pub fn spawn(program: &Path, args: &[String]) -> io::Result<ServerProcess> {
        ServerProcess::launch(&[], program, args, Ready::Line)
    }

    /// Starts `PREFIX... program ARGS...` (the prefix is e.g. `taskset -c 0`, which executes
    /// the program in its own process, so the pid stays the server's) and waits until it
    /// listens, as `ready` says.
    ///
    /// # Errors
    /// When the program cannot start, exits first, or does not listen within 10 s.
    pub fn launch(
        prefix: &[String],
        program: &Path,
        args: &[String],
        ready: Ready,
    ) -> io::Result<ServerProcess> {
        let (mut command, port) = command(prefix, program, args, ready)?;
        let started = Instant::now();
        let child = command
            .spawn()
            .map_err(|error| io::Error::other(format!("{}: {error}", program.display())))?;
        let mut server = ServerProcess {
            child: Some(child),
            addr: ([127, 0, 0, 1], port.unwrap_or(0)).into(),
            startup: Duration::ZERO,
        };
        match port {
            None => server.addr = server.read_ready_line(program)?,
            Some(_) => server.await_port(program, started)?,
        }
        server.startup = started.elapsed();
        Ok(server)
    }

    fn read_ready_line(&mut self, program: &Path) -> io::Result<SocketAddr> {
        let child = self.child.as_mut().expect("spawned");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        line.trim()
            .rsplit_once("http://")
            .and_then(|(_, addr)| addr.parse().ok())
            .ok_or_else(|| {
                io::Error::other(format!(
                    "{} did not print its ready line (got {line:?})",
                    program.display()
                ))
            })
    }

    fn await_port(&mut self, program: &Path, started: Instant) -> io::Result<()> {
        let child = self.child.as_mut().expect("spawned");
        while TcpStream::connect(self.addr).is_err() {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "{} exited before listening ({status})",
                    program.display()
                )));
            }
            if started.elapsed() > READY_WITHIN {
                return Err(io::Error::other(format!(
                    "{} did not listen on {} within {READY_WITHIN:?}",
                    program.display(),
                    self.addr
                )));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }

    /// A server that is already running elsewhere.
    pub fn external(addr: SocketAddr) -> ServerProcess {
        ServerProcess {
            child: None,
            addr,
            startup: Duration::ZERO,
        }
    }

    /// Whether this is our process, whose memory can be read.
    pub fn is_local(&self) -> bool {
        self.child.is_some()
    }

    /// The process id, when the process is ours.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `VmRSS` (now) and `VmHWM` (peak) in KiB; zeros for an external server.
    pub fn memory_kib(&self) -> io::Result<(u64, u64)> {
        Ok((self.status_field("VmRSS:")?, self.status_field("VmHWM:")?))
    }

    /// A number from the process's `/proc/PID/status` (`VmRSS:`, `Threads:`, ...), without its
    /// unit; 0 for an external server or a missing field.
    pub fn status_field(&self, name: &str) -> io::Result<u64> {
        let Some(child) = &self.child else {
            return Ok(0);
        };
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
        Ok(status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Our own child, by its handle: SIGKILL, then reap it.
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `PREFIX... program ARGS...` with the address arguments `ready` needs, and the port given
/// to a program that takes one.
fn command(
    prefix: &[String],
    program: &Path,
    args: &[String],
    ready: Ready,
) -> io::Result<(Command, Option<u16>)> {
    let mut command = match prefix.split_first() {
        Some((first, rest)) => {
            let mut command = Command::new(first);
            command.args(rest).arg(program);
            command
        }
        None => Command::new(program),
    };
    command.stdin(Stdio::null());
    let port = match ready {
        Ready::Line => {
            command.args(["--addr", "127.0.0.1:0"]).args(args);
            command.stdout(Stdio::piped()).stderr(Stdio::inherit());
            None
        }
        Ready::Port => {
            let port = free_port()?;
            command.args(args).arg(port.to_string());
            // A peer's own log lines (axum's "listening on ...") would break up the table.
            command.stdout(Stdio::null()).stderr(Stdio::null());
            Some(port)
        }
    };
    Ok((command, port))
}

/// A port that was free a moment ago, for a program that takes a port but not port 0. Another
/// process could take it in between; the peer then fails to start and says so.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
