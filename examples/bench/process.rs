//! The servers under test run as separate processes, so that their memory figures are theirs
//! and not the generator's: spawned on port 0, found through their ready line, measured through
//! `/proc/PID/status`, killed when dropped.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server process.
pub struct ServerProcess {
    /// `None` for a server someone else started (`--url`): nothing to measure or kill.
    child: Option<Child>,
    pub addr: SocketAddr,
    /// From spawn to the ready line: how long the process took to listen.
    pub startup: Duration,
}

impl ServerProcess {
    /// Starts `program --addr 127.0.0.1:0 ARGS...` and waits for its
    /// `... listening on http://ADDR` line.
    ///
    /// # Errors
    /// When the program cannot start or exits before that line.
    pub fn spawn(program: &Path, args: &[String]) -> io::Result<ServerProcess> {
        let started = Instant::now();
        let mut child = Command::new(program)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| io::Error::other(format!("{}: {error}", program.display())))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let startup = started.elapsed();
        let addr = line
            .trim()
            .rsplit_once("http://")
            .and_then(|(_, addr)| addr.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "{} did not print its ready line (got {line:?})",
                program.display()
            )));
        };
        Ok(ServerProcess {
            child: Some(child),
            addr,
            startup,
        })
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
