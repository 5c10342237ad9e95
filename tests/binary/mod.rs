//! The real `taskd` binary on `127.0.0.1:0` with its stderr collected, for what only the binary
//! prints: the CORS hints and the `--trace` blocks. A test makes its requests, then stops the
//! server with SIGTERM and reads the whole of stderr: the process has written every block and
//! hint by the time it exits, so nothing is waited for with a sleep.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const TASKD: &str = env!("CARGO_BIN_EXE_taskd");

/// Reads taskd's one ready line (`taskd listening on http://ADDR`) from its stdout: the address
/// and the line as printed.
pub fn ready_line(stdout: impl Read) -> (SocketAddr, String) {
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the ready line");
    let addr = line
        .trim_end()
        .strip_prefix("taskd listening on http://")
        .unwrap_or_else(|| panic!("unexpected ready line: {line:?}"))
        .parse()
        .expect("a socket address");
    (addr, line)
}

/// A child process killed (and reaped) when the test ends, pass or fail, for a test that
/// drives the binary's pipes and signals itself.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` (taskd's, possibly under a shell) with both pipes, reads the ready line and
/// hands back stderr unread, for a test that reads it itself (or, on purpose, never does).
pub fn start_with_stderr_unread(mut command: Command) -> (Running, SocketAddr, ChildStderr) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start taskd");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let running = Running(child);
    let (addr, _) = ready_line(stdout);
    (running, addr, stderr)
}

/// A running binary; dropping it kills it.
pub struct Taskd {
    child: Child,
    addr: SocketAddr,
    stderr: Option<JoinHandle<String>>,
}

impl Taskd {
    /// Starts `taskd --addr 127.0.0.1:0 ARGS` with these environment variables (and no
    /// inherited `TASKD_*` ones) and reads the ready line.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Taskd {
        Taskd::start_program(TASKD, args, env)
    }

    /// As [`Taskd::start`], with another build of taskd (a release binary, for a test that
    /// measures what only an optimised build can reach in its time).
    pub fn start_program(program: &str, args: &[&str], env: &[(&str, &str)]) -> Taskd {
        let mut command = Command::new(program);
        command
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("TASKD_TOKEN")
            .env_remove("TASKD_CORS_ORIGINS")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start taskd");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        // Read stderr all along, so a chatty server never blocks on a full pipe.
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let (addr, _) = ready_line(stdout);
        Taskd {
            child,
            addr,
            stderr: Some(stderr),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id, for what only `/proc/PID` tells (its peak resident memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM and returns everything it wrote on stderr.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "taskd did not exit after SIGTERM"
            );
            thread::sleep(Duration::from_millis(10));
        }
        self.stderr
            .take()
            .expect("stderr read once")
            .join()
            .expect("the stderr reader")
    }
}

impl Drop for Taskd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `taskd ARGS` to its exit (for flags refused at start): its exit code and stderr.
pub fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(TASKD)
        .args(args)
        .env_remove("TASKD_TOKEN")
        .env_remove("TASKD_CORS_ORIGINS")
        .envs(env.iter().copied())
        .output()
        .expect("run taskd");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}
