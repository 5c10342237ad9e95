//! A throwaway PostgreSQL cluster: `initdb` into a temporary directory, listening on
//! 127.0.0.1 at a free port, password authentication (so a wrong password can be tested), one
//! database per test copied from a template.
//!
//! Binaries: `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin` holding
//! `initdb`. Missing, the test FAILS with a message saying to install PostgreSQL or set
//! `TASKD_SKIP_POSTGRES=1` (a passing test's output is hidden, so a printed skip would go
//! unseen). As root, `initdb` and `pg_ctl` run as the `postgres` user: initdb refuses root.
//!
//! Removal at the end: a `static` is never dropped, so the shared cluster cannot stop itself
//! from a `Drop`. Each cluster has a watchdog instead: a `sh` child blocked reading a pipe whose
//! only writer is this test process. However the process ends (return, panic, abort, SIGKILL),
//! the kernel closes the pipe, `read` returns, and the watchdog stops PostgreSQL
//! (`pg_ctl stop -m immediate`) and deletes the directory. PostgreSQL has no option to exit with
//! its parent (pg_ctl detaches it), so the watchdog is what ties its life to the test's.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// The superuser's name; its password is [`Cluster::password`].
pub const SUPERUSER: &str = "postgres";

/// One running cluster.
pub struct Cluster {
    pub port: u16,
    pub password: String,
    bindir: PathBuf,
    /// Holds `data/`, the log, the password file.
    pub(super) dir: PathBuf,
    pub(super) as_postgres: bool,
    /// Dropping the write end tells the watchdog to stop the cluster and remove `dir`.
    watchdog: Mutex<Option<(Child, ChildStdin)>>,
}

static SHARED: OnceLock<Cluster> = OnceLock::new();
static NEXT_NAME: AtomicU32 = AtomicU32::new(1);

/// The cluster shared by every test of this test binary, started on first use; `None` only
/// when `TASKD_SKIP_POSTGRES=1`.
pub fn shared_cluster() -> Option<&'static Cluster> {
    if skip_requested() {
        return None;
    }
    Some(SHARED.get_or_init(Cluster::start_new))
}

fn skip_requested() -> bool {
    std::env::var("TASKD_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

impl Cluster {
    /// A cluster of its own, for a test that stops and restarts the server; `None` only when
    /// `TASKD_SKIP_POSTGRES=1`. Dropping it stops it.
    pub fn private() -> Option<Cluster> {
        (!skip_requested()).then(Cluster::start_new)
    }

    fn start_new() -> Cluster {
        let bindir = find_bindir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's server binaries (initdb, pg_ctl) were found neither through `pg_config --bindir` \
                 nor in /usr/lib/postgresql/*/bin: install PostgreSQL (e.g. `apt-get install postgresql`) \
                 or set TASKD_SKIP_POSTGRES=1 to skip the PostgreSQL tests"
            )
        });
        let as_postgres = is_root();
        let n = NEXT_NAME.fetch_add(1, Ordering::Relaxed);
        let dir = cluster_root().join(format!("taskd-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster's temporary directory");
        let password = format!("pw-{}-{n}", std::process::id());
        std::fs::write(dir.join("pwfile"), &password).expect("write the password file");
        if as_postgres {
            run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir),
                "chown the cluster directory",
            );
        }
        let watchdog = spawn_watchdog(&bindir, &dir, as_postgres);
        let mut cluster = Cluster {
            port: 0,
            password,
            bindir,
            dir,
            as_postgres,
            watchdog: Mutex::new(Some(watchdog)),
        };
        let data = cluster.dir.join("data");
        let mut initdb = cluster.pg_command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            SUPERUSER,
            "-A",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        initdb.arg(format!("--pwfile={}", cluster.dir.join("pwfile").display()));
        run(&mut initdb, "initdb");
        // A free port can be taken between this check and the server's bind: try a few.
        for attempt in 0..5 {
            cluster.port = free_port();
            if cluster.pg_ctl_start() {
                break;
            }
            assert!(
                attempt < 4,
                "PostgreSQL did not start; see {}",
                cluster.dir.join("server.log").display()
            );
        }
        cluster.psql(
            "postgres",
            "CREATE DATABASE taskd_template TEMPLATE template0 ENCODING 'UTF8'",
        );
        cluster
    }

    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/DB?sslmode=disable`
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}?sslmode=disable",
            self.password, self.port
        )
    }

    /// A new, empty database copied from the template; its name.
    ///
    /// PostgreSQL 15's default strategy (WAL_LOG: the copy goes through the WAL) is kept: for
    /// this small template it was faster here than FILE_COPY, whose two checkpoints per database
    /// flush what every other test has written (tests/tasks.rs on PostgreSQL, 79 tests: 49 and 55 s
    /// against 65 and 59 s).
    pub fn create_database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT_NAME.fetch_add(1, Ordering::Relaxed)
        );
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE taskd_template"),
        );
        name
    }

    /// Runs SQL as the superuser in `database` and returns psql's unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let mut command = Command::new(self.bindir.join("psql"));
        command.args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            SUPERUSER,
        ]);
        command
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-d", database, "-c", sql]);
        command
            .env("PGPASSWORD", &self.password)
            .env("PGCONNECT_TIMEOUT", "10");
        let output = command.stdin(Stdio::null()).output().expect("run psql");
        assert!(
            output.status.success(),
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_owned()
    }

    /// `pg_ctl stop -m immediate`: the server dies as in a crash (no checkpoint, every
    /// connection cut), and recovers from its WAL on the next start.
    pub fn stop_immediately(&self) {
        let mut stop = self.pg_command("pg_ctl");
        stop.arg("-D")
            .arg(self.dir.join("data"))
            .args(["stop", "-m", "immediate", "-w"]);
        run(&mut stop, "pg_ctl stop");
    }

    /// Starts the cluster again on the same port.
    pub fn start_again(&self) {
        assert!(
            self.pg_ctl_start(),
            "PostgreSQL did not start again; see {}",
            self.dir.join("server.log").display()
        );
    }

    /// Where extra files (certificates) can go; owned by the server's user.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Gives `path` to the server's user (as root), so PostgreSQL can read it.
    pub fn hand_to_server(&self, path: &Path) {
        if self.as_postgres {
            run(
                Command::new("chown").arg("postgres:postgres").arg(path),
                "chown for the server",
            );
        }
    }

    fn pg_ctl_start(&self) -> bool {
        // Not `synchronous_commit=off`, though it would be faster: a commit must have reached the
        // WAL (the kernel's memory, with fsync=off) before it is acknowledged, or a test's
        // `stop_immediately` could lose a write the server had already answered for.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let mut start = self.pg_command("pg_ctl");
        start
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"));
        start.args(["-w", "-t", "60", "-o", &options, "start"]);
        start
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .stdin(Stdio::null());
        start.status().is_ok_and(|status| status.success())
    }

    /// `bindir/program`, run as `postgres` when this process is root.
    fn pg_command(&self, program: &str) -> Command {
        pg_command(&self.bindir, program, self.as_postgres)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Closing the pipe is the signal; waiting lets the watchdog finish its removal.
        let taken = self
            .watchdog
            .lock()
            .map(|mut guard| guard.take())
            .unwrap_or(None);
        if let Some((mut child, stdin)) = taken {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn pg_command(bindir: &Path, program: &str, as_postgres: bool) -> Command {
    let mut command = if as_postgres {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(bindir.join(program));
        command
    } else {
        Command::new(bindir.join(program))
    };
    // The test's own directory may be closed to the `postgres` user; pg_ctl needs a readable one.
    command.current_dir("/");
    command
}

/// The watchdog: `sh` waits for EOF on its stdin, then stops the cluster and removes its
/// directory. Its stdin's write end is created close-on-exec by `std`, so no other child (not
/// PostgreSQL) keeps the pipe open after this process is gone.
fn spawn_watchdog(bindir: &Path, dir: &Path, as_postgres: bool) -> (Child, ChildStdin) {
    let stop = pg_command(bindir, "pg_ctl", as_postgres);
    let mut words: Vec<String> = vec![stop.get_program().to_string_lossy().into_owned()];
    words.extend(stop.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.extend([
        "-D".to_owned(),
        dir.join("data").display().to_string(),
        "stop".to_owned(),
        "-m".to_owned(),
        "immediate".to_owned(),
    ]);
    let mut child = Command::new("sh")
        .arg("-c")
        // Signals aimed at the test's process group (Ctrl-C, `timeout`) must not kill the
        // watchdog before it has done its job: it is in a group of its own, and ignores them.
        .arg(
            r#"trap '' INT TERM HUP; cat >/dev/null; "$@" >/dev/null 2>&1; rm -rf "$TASKD_PG_DIR""#,
        )
        .arg("taskd-pg-watchdog")
        .args(&words)
        .env("TASKD_PG_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn the cluster's watchdog");
    let mut stdin = child.stdin.take().expect("the watchdog's stdin is piped");
    let _ = stdin.flush();
    (child, stdin)
}

fn find_bindir() -> Option<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_initdb(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            Some((
                entry.file_name().to_str()?.parse().ok()?,
                entry.path().join("bin"),
            ))
        })
        .filter(|(_, bin)| has_initdb(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Where clusters live: `/dev/shm` where there is one, else the temporary directory. A behaviour
/// suite creates a database of about 8 MB per test, so a test binary writes hundreds of MB that
/// are thrown away at its end; in memory they never wait for the disk (tests/tasks.rs on
/// PostgreSQL: 49 and 55 s against 88 and 79 s in /tmp). Durability is not these clusters'
/// concern (`fsync=off`); a `pg_ctl stop -m immediate` loses nothing either way, as the server's
/// writes are in the kernel's memory whatever backs them.
fn cluster_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

pub(super) fn run(command: &mut Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
