//! `docs/taskd.service` works as written (systemd itself does not run in CI): its `ExecStart`
//! line, parsed from the file, runs as an unprivileged user (`nobody`, through `setpriv`) with
//! `CREDENTIALS_DIRECTORY` holding a token file only that user can read and the
//! `StateDirectory=` as its data directory, and answers 401 without the token, 200 with it.
//! Its hardening score is `.ci/check-systemd-unit`'s (`systemd-analyze security`).

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const UNIT: &str = include_str!("../docs/taskd.service");
/// Where the unit expects the binary; the test runs the one cargo built instead.
const INSTALLED_BINARY: &str = "/usr/local/bin/taskd";

/// The values of `key=` in the `[Service]` section, in order.
fn service_values(key: &str) -> Vec<String> {
    let mut in_service = false;
    let mut values = Vec::new();
    for line in UNIT.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if let Some(value) = line.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
            if in_service && !line.starts_with('#') {
                values.push(value.to_owned());
            }
        }
    }
    values
}

fn only_value(key: &str) -> String {
    let values = service_values(key);
    assert_eq!(values.len(), 1, "{key}= once in [Service]: {values:?}");
    values[0].clone()
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn id_of(flag: &str, user: &str) -> u32 {
    let output = Command::new("id").args([flag, user]).output().expect("id");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no {flag} for {user}"))
}

fn is_root() -> bool {
    id_of("-u", "root") == 0 && {
        let output = Command::new("id").arg("-u").output().expect("id -u");
        String::from_utf8_lossy(&output.stdout).trim() == "0"
    }
}

fn status_of(addr: SocketAddr, path: &str, token: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let authorization = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{authorization}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

/// The unit's own pieces agree: the credential it loads is the file ExecStart reads, and the
/// data directory is the StateDirectory.
#[test]
fn the_unit_reads_its_token_from_its_credential_and_keeps_data_in_its_state_directory() {
    let exec = only_value("ExecStart");
    let credential = only_value("LoadCredential");
    let (name, source) = credential
        .split_once(':')
        .expect("LoadCredential=NAME:PATH");
    assert_eq!(source, "/etc/taskd/token");
    assert!(
        exec.contains(&format!("--token-file ${{CREDENTIALS_DIRECTORY}}/{name}")),
        "{exec}"
    );
    let state = only_value("StateDirectory");
    assert!(
        exec.contains(&format!("--data-dir /var/lib/{state}")),
        "{exec}"
    );
    assert_eq!(only_value("DynamicUser"), "yes");
    assert!(
        service_values("IPAddressDeny").is_empty(),
        "addresses stay open"
    );
}

#[test]
fn the_units_exec_start_runs_unprivileged_with_its_credential() {
    if !is_root() {
        eprintln!("skipped: running ExecStart as another user needs root (setpriv)");
        return;
    }
    let root = Scratch(std::env::temp_dir().join(format!("taskd-unit-{}", std::process::id())));
    let _ = fs::remove_dir_all(&root.0);
    fs::create_dir_all(&root.0).unwrap();
    fs::set_permissions(&root.0, fs::Permissions::from_mode(0o755)).unwrap();
    let (uid, gid) = (id_of("-u", "nobody"), id_of("-g", "nobody"));
    // What systemd makes: a credentials directory and a state directory owned by the service's
    // user, mode 0700 (StateDirectoryMode=), and the token readable by that user only.
    let credentials = root.0.join("credentials");
    let state = root.0.join("state");
    for dir in [&credentials, &state] {
        fs::create_dir(dir).unwrap();
        chown(dir, Some(uid), Some(gid)).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    }
    let token = "unit-test-token";
    let token_file = credentials.join("token");
    fs::write(&token_file, format!("{token}\n")).unwrap();
    chown(&token_file, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(&token_file, fs::Permissions::from_mode(0o400)).unwrap();
    // A copy of the binary where `nobody` can surely execute it.
    let binary = root.0.join("taskd");
    fs::copy(env!("CARGO_BIN_EXE_taskd"), &binary).unwrap();
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();

    let exec = only_value("ExecStart")
        .replace("${CREDENTIALS_DIRECTORY}", &credentials.to_string_lossy())
        .replace("/var/lib/taskd", &state.to_string_lossy())
        // Port 0: the test must not depend on 8000 being free.
        .replace("127.0.0.1:8000", "127.0.0.1:0");
    assert!(
        !exec.contains('$') && !exec.contains('%'),
        "unsubstituted: {exec}"
    );
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some(INSTALLED_BINARY));
    let mut child = Command::new("setpriv")
        .args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
            "--",
        ])
        .arg(&binary)
        .args(words)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready = line.trim().strip_prefix("taskd listening on http://");
    let Some(addr) = ready.and_then(|addr| addr.parse::<SocketAddr>().ok()) else {
        let _ = child.kill();
        let mut stderr = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        panic!("ExecStart did not start: {line:?} {stderr}");
    };
    let statuses = (
        status_of(addr, "/tasks", None),
        status_of(addr, "/tasks", Some(token)),
        status_of(addr, "/metrics", Some(token)),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(statuses, (401, 200, 200));
    let journal = fs::metadata(state.join("journal.0")).expect("the data dir is used");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&journal), uid);
    assert!(Path::new(&state.join("lock")).exists());
}
