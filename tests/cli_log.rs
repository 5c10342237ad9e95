//! What the binary tells an operator on stderr (issue 18): the start line (version, address,
//! storage with its task count), printed even with `--quiet`, and the access log in the Common
//! Log Format with taskd's duration after it (docs/cli.md).

use crate::binary;
use crate::common;

use std::path::PathBuf;

use binary::Taskd;

/// A data directory of this test's own, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("taskd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }

    fn as_str(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp dir")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The start line of a stderr: the one line that begins `taskd VERSION listening on`.
fn start_lines(stderr: &str) -> Vec<&str> {
    let prefix = format!("taskd {} listening on http://", env!("CARGO_PKG_VERSION"));
    stderr
        .lines()
        .filter(|line| line.starts_with(&prefix))
        .collect()
}

#[test]
fn start_line_names_version_address_and_memory() {
    let taskd = Taskd::start(&["--quiet"], &[]);
    let addr = taskd.addr();
    let stderr = taskd.stop();
    let expected = format!(
        "taskd {} listening on http://{addr}, storage: memory",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(start_lines(&stderr), [expected.as_str()], "{stderr}");
}

#[test]
fn start_line_names_the_data_directory_and_its_task_count() {
    let dir = TempDir::new("start-line");
    let first = Taskd::start(&["--data-dir", dir.as_str()], &[]);
    let stderr = first.stop();
    assert!(start_lines(&stderr)[0].ends_with("(0 tasks)"), "{stderr}");
    let second = Taskd::start(&[], &[("TASKD_DATA_DIR", dir.as_str())]);
    common::create_task(second.addr(), "one");
    common::create_task(second.addr(), "two");
    drop(second.stop());
    let third = Taskd::start(&["--data-dir", dir.as_str(), "--quiet"], &[]);
    let addr = third.addr();
    let stderr = third.stop();
    let canonical = std::fs::canonicalize(&dir.0).unwrap();
    let expected = format!(
        "taskd {} listening on http://{addr}, storage: data directory {} (2 tasks)",
        env!("CARGO_PKG_VERSION"),
        canonical.display()
    );
    assert_eq!(start_lines(&stderr), [expected.as_str()], "{stderr}");
}

/// The fields of one Common Log Format line with taskd's duration after it:
/// `HOST - - [DD/Mon/YYYY:HH:MM:SS +0000] "REQUEST" STATUS BYTES Nus[ (abandoned)]`, checked
/// field by field as a regular expression would (`^(\S+) - - \[(\d\d)/([A-Z][a-z]{2})/(\d{4}):
/// (\d\d):(\d\d):(\d\d) \+0000\] "([^"]*)" (\d{3}) (\d+) (\d+)us( \(abandoned\))?$`); the
/// project has no regex crate, and this is that expression by hand.
#[derive(Debug, PartialEq, Eq)]
struct ClfLine {
    host: String,
    time: String,
    request: String,
    status: u16,
    bytes: u64,
    micros: u64,
}

fn parse_clf(line: &str) -> Option<ClfLine> {
    let (host, rest) = line.split_once(" - - [")?;
    let (time, rest) = rest.split_once("] \"")?;
    let (request, rest) = rest.split_once("\" ")?;
    let fields: Vec<&str> = rest.split(' ').collect();
    let [status, bytes, duration] = fields[..] else {
        return None;
    };
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let time_ok = time.len() == 26
        && time.ends_with(" +0000")
        && time.bytes().enumerate().all(|(at, byte)| match at {
            2 | 6 => byte == b'/',
            3 => byte.is_ascii_uppercase(),
            4 | 5 => byte.is_ascii_lowercase(),
            11 | 14 | 17 => byte == b':',
            20.. => true,
            _ => byte.is_ascii_digit(),
        });
    let micros = duration.strip_suffix("us")?;
    let ok = !host.contains(' ')
        && time_ok
        && !request.contains('"')
        && status.len() == 3
        && digits(status)
        && digits(bytes)
        && digits(micros);
    if !ok {
        return None;
    }
    Some(ClfLine {
        host: host.to_owned(),
        time: time.to_owned(),
        request: request.to_owned(),
        status: status.parse().ok()?,
        bytes: bytes.parse().ok()?,
        micros: micros.parse().ok()?,
    })
}

#[test]
fn access_log_is_common_log_format_with_the_duration() {
    let taskd = Taskd::start(&[], &[]);
    let secret = "Bearer do-not-log-me";
    let response = common::request(
        taskd.addr(),
        "GET",
        "/tasks/7?x=1",
        &[("Authorization", secret)],
        b"",
    );
    assert_eq!(response.status, 404);
    let stderr = taskd.stop();
    let lines: Vec<ClfLine> = stderr.lines().filter_map(parse_clf).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = &lines[0];
    assert_eq!(line.host, "127.0.0.1");
    assert_eq!(line.request, "GET /tasks/7?x=1 HTTP/1.1");
    assert_eq!(line.status, 404);
    assert_eq!(line.bytes, response.body.len() as u64);
    assert!(line.micros > 0, "{line:?}");
    assert!(!stderr.contains("do-not-log-me"), "{stderr}");
}

#[test]
fn clf_parser_refuses_what_is_not_the_format() {
    let good = "127.0.0.1 - - [07/Dec/2026:19:40:00 +0000] \"GET /tasks HTTP/1.1\" 200 123 845us";
    assert!(parse_clf(good).is_some());
    for bad in [
        // Today's format before issue 18: no time, the port in the host.
        "127.0.0.1:5000 \"GET /tasks\" 200 123 845us",
        "127.0.0.1 - - [2026-12-07T19:40:00Z] \"GET /tasks HTTP/1.1\" 200 123 845us",
        "127.0.0.1 - - [07/Dec/2026:19:40:00 +0000] \"GET /tasks HTTP/1.1\" 200 - 845us",
    ] {
        assert_eq!(parse_clf(bad), None, "{bad}");
    }
}
