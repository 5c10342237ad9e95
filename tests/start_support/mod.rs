//! The real `taskd` binary for the start-up tests of CONTRACT §14 (`tests/postgres_start*.rs`):
//! started with a clean environment (no `TASKD_*`, no `PG*` variable of the test's own), its
//! stdout and stderr read all along, never waited for without a bound; and the check every
//! refusal shares: the exit code, nothing on stdout (no ready line), one line on stderr (a usage
//! error's second line is `see taskd --help`), and no password anywhere. Also a TCP server that
//! answers like something other than PostgreSQL.
#![allow(dead_code)] // each test binary uses a different subset

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const TASKD: &str = env!("CARGO_BIN_EXE_taskd");

/// No variables beyond the clean environment.
pub const NO_ENV: &[(&str, &str)] = &[];

/// A refusal that CONTRACT §14 says comes "at once" takes milliseconds; a retried one takes
/// 30 s. The bound leaves room for a loaded machine and still tells the two apart.
pub const AT_ONCE: Duration = Duration::from_secs(5);

/// How a run ended.
#[derive(Debug)]
pub struct Exited {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// A running `taskd`; dropping it kills it.
pub struct Launched {
    child: Child,
    lines: Receiver<String>,
    stdout: Vec<String>,
    stdout_reader: Option<JoinHandle<()>>,
    stderr_reader: Option<JoinHandle<String>>,
    started: Instant,
}

impl Launched {
    /// Starts `taskd ARGS` with only `env` (and `PATH`, `HOME`, `USER`) beyond the defaults.
    pub fn spawn<A: AsRef<OsStr>, V: AsRef<OsStr>>(args: &[A], env: &[(&str, V)]) -> Launched {
        let mut command = Command::new(TASKD);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("TASKD_") || name.starts_with("PG") {
                command.env_remove(&*name);
            }
        }
        command.args(args);
        command.envs(env.iter().map(|(name, value)| (name, value)));
        let started = Instant::now();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start taskd");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (sender, lines) = mpsc::channel();
        let stdout_reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let stderr_reader = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Launched {
            child,
            lines,
            stdout: Vec::new(),
            stdout_reader: Some(stdout_reader),
            stderr_reader: Some(stderr_reader),
            started,
        }
    }

    /// The address of the ready line (`taskd listening on http://ADDR`), if it comes within
    /// `within`.
    pub fn ready_line(&mut self, within: Duration) -> Option<SocketAddr> {
        let line = match self.lines.recv_timeout(within) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
        };
        self.stdout.push(line.clone());
        let addr = line.strip_prefix("taskd listening on http://")?;
        Some(addr.parse().expect("the ready line holds a socket address"))
    }

    /// True while the process has not exited.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for the exit; past `limit` the process is killed and the test fails.
    pub fn exit_within(&mut self, limit: Duration) -> Exited {
        while self.running() {
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.collect().stderr;
                panic!("taskd still running after {limit:?}; stderr: {stderr:?}");
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.collect()
    }

    /// SIGTERM, then the exit (a server exits 0 within its grace).
    pub fn terminate(&mut self) -> Exited {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let limit = self.started.elapsed() + Duration::from_secs(15);
        self.exit_within(limit)
    }

    fn collect(&mut self) -> Exited {
        let took = self.started.elapsed();
        let code = self.child.wait().expect("wait").code();
        if let Some(reader) = self.stdout_reader.take() {
            let _ = reader.join();
        }
        self.stdout.extend(self.lines.try_iter());
        let stderr = self
            .stderr_reader
            .take()
            .map(|reader| reader.join().expect("the stderr reader"))
            .unwrap_or_default();
        Exited {
            code,
            stdout: self.stdout.iter().map(|line| format!("{line}\n")).collect(),
            stderr,
            took,
        }
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `taskd ARGS` to its exit (at most 60 s).
pub fn run<A: AsRef<OsStr>, V: AsRef<OsStr>>(args: &[A], env: &[(&str, V)]) -> Exited {
    Launched::spawn(args, env).exit_within(Duration::from_secs(60))
}

/// A refusal as CONTRACT §14 and the house rules shape it: exit `code`; no ready line; stderr
/// one line `taskd: …` holding every piece of `names` (exit 2: then `see taskd --help`, which
/// every usage error ends with); no piece of `secrets` on stdout or stderr.
pub fn assert_one_line(exited: &Exited, code: i32, names: &[&str], secrets: &[&str]) {
    let Exited { stdout, stderr, .. } = exited;
    for secret in secrets {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret:?} printed: {exited:?}"
        );
    }
    assert_eq!(exited.code, Some(code), "{exited:?}");
    assert_eq!(stdout, "", "no ready line: {exited:?}");
    let lines: Vec<&str> = stderr.lines().collect();
    let expected = if code == 2 { 2 } else { 1 };
    assert_eq!(lines.len(), expected, "stderr lines: {stderr:?}");
    assert!(lines[0].starts_with("taskd"), "{stderr:?}");
    if code == 2 {
        assert_eq!(lines[1], "see taskd --help", "{stderr:?}");
    }
    for name in names {
        assert!(lines[0].contains(name), "{name:?} not named: {stderr:?}");
    }
}

/// [`assert_one_line`], and the refusal came at once, not after the start-up retries.
pub fn assert_refused_at_once(exited: &Exited, code: i32, names: &[&str], secrets: &[&str]) {
    assert_one_line(exited, code, names, secrets);
    assert!(exited.took < AT_ONCE, "took {:?}: {exited:?}", exited.took);
}

/// The password of every test here, unmistakable in any output: a space and `@ : / %`, so it
/// must be percent-encoded in a URL ([`SECRET_ENCODED`]) and quoted in `key=value` form.
pub const SECRET: &str = "Pgbad s3cret@:/%";
/// [`SECRET`] percent-encoded for a URL (RFC 3986 §2.1).
pub const SECRET_ENCODED: &str = "Pgbad%20s3cret%40%3A%2F%25";
/// What must never be printed: the password in either form, and its core alone.
pub const SECRETS: &[&str] = &[SECRET, SECRET_ENCODED, "s3cret"];

/// A TCP server on a free port that answers every connection with `reply` and closes it.
pub fn not_postgres(reply: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || answer_and_close(stream, reply));
        }
    });
    port
}

/// Reads what the client sent first, answers, and closes after draining the rest, so the client
/// reads the answer and an end, never a reset.
fn answer_and_close(mut stream: TcpStream, reply: &[u8]) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.read(&mut [0; 8]);
    let _ = stream.write_all(reply);
    let _ = stream.shutdown(Shutdown::Write);
    let _ = std::io::copy(&mut stream, &mut std::io::sink());
}
