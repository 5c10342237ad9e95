//! `taskd check URL` end to end: against a fresh taskd every check passes (exit 0), `--json`
//! parses, a server that answers 200 to everything fails (exit 1) with a FastAPI fix under each
//! FAIL, a bad argument or a URL naming a route is exit 2, an unreachable URL exit 3, a
//! token-protected taskd exit 4 without a token and exit 0 with it, and a store that was not
//! empty keeps every task the checker did not make.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::thread;

use common::{create_task, get, spawn_server, spawn_server_with};
use serde_json::Value;
use taskd::Config;

const TASKD: &str = env!("CARGO_BIN_EXE_taskd");

/// How many checks taskd passes; a new check changes it, on purpose.
const CHECKS: usize = 54;

fn taskd_check(args: &[&str]) -> Output {
    taskd_check_with(args, &[])
}

/// `taskd check ARGS` with these environment variables and no inherited `TASKD_TOKEN`.
fn taskd_check_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(TASKD)
        .arg("check")
        .args(args)
        .env_remove("TASKD_TOKEN")
        .envs(env.iter().copied())
        .output()
        .expect("run taskd check")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn lines_starting(text: &str, prefix: &str) -> usize {
    text.lines().filter(|line| line.starts_with(prefix)).count()
}

#[test]
fn taskd_passes_every_check_of_its_own_checker() {
    let server = spawn_server();
    let output = taskd_check(&[&format!("http://{}", server.addr())]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{report}{}", stderr(&output));
    assert_eq!(lines_starting(&report, "FAIL "), 0, "{report}");
    assert_eq!(lines_starting(&report, "NOTE "), 0, "{report}");
    assert_eq!(lines_starting(&report, "PASS "), CHECKS, "{report}");
    let last = report.lines().last().unwrap_or_default();
    let totals = format!("check: {CHECKS} passed, 0 failed, 0 notes");
    assert!(last.starts_with(&totals), "{last}");
}

#[test]
fn the_checker_leaves_the_store_as_it_found_it() {
    let server = spawn_server();
    let addr = server.addr();
    let id = create_task(addr, "Someone else's task");
    let output = taskd_check(&[&format!("http://{addr}")]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(
        report.starts_with("NOTE GET /tasks on a fresh server"),
        "{report}"
    );
    let tasks = get(addr, "/tasks").json();
    let ids: Vec<u64> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [id], "only the task that was there before is left");
}

#[test]
fn json_report_parses_and_counts_the_same_checks() {
    let server = spawn_server();
    let output = taskd_check(&["--json", &format!("http://{}", server.addr())]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    let checks = report["checks"].as_array().expect("an array of checks");
    assert_eq!(checks.len(), CHECKS);
    assert_eq!(report["totals"]["passed"], CHECKS);
    assert_eq!(report["totals"]["failed"], 0);
    assert!(report["totals"]["requests"].as_u64().unwrap() <= 100);
    for check in checks {
        assert_eq!(check["outcome"], "pass", "{check}");
        assert!(
            check["name"].is_string() && check["title"].is_string(),
            "{check}"
        );
    }
}

/// A server that answers `200 {}` to every request, on 127.0.0.1:0.
fn yes_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer_200(stream);
        }
    });
    format!("http://{addr}")
}

/// Reads one request (head and `Content-Length` body) and answers `200 {}`.
fn answer_200(mut stream: TcpStream) {
    let mut request = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let mut needed = None;
    while needed.is_none_or(|needed| request.len() < needed) {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            needed = Some(end + 4 + length);
        }
    }
    let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
                  Connection: close\r\n\r\n{}";
    let _ = stream.write_all(answer.as_bytes());
}

#[test]
fn a_server_that_says_200_to_everything_fails_with_explanations() {
    let output = taskd_check(&[&yes_server()]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}{}", stderr(&output));
    assert!(lines_starting(&report, "FAIL ") >= 5, "{report}");
    assert!(
        report.contains("    see:      RFC 9110 §15.3.2"),
        "{report}"
    );
    let last = report.lines().last().unwrap_or_default();
    assert!(last.starts_with("check: "), "{last}");
    assert!(
        report.contains(
            "    see:      RFC 9110 §15.3.2\n    fix:      @app.post(\"/tasks\", status_code=201)\n"
        ),
        "{report}"
    );
}

#[test]
fn the_json_report_carries_each_fails_fix() {
    let output = taskd_check(&["--json", &yes_server()]);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON");
    let checks = report["checks"].as_array().expect("an array of checks");
    let create = checks
        .iter()
        .find(|check| check["name"] == "stage4.create")
        .expect("the create check");
    assert_eq!(create["outcome"], "fail");
    assert_eq!(create["fix"], "@app.post(\"/tasks\", status_code=201)");
}

#[test]
fn failures_prints_only_fail_and_note_lines_and_the_summary_last() {
    let output = taskd_check(&["--failures", &yes_server()]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert_eq!(lines_starting(&report, "PASS "), 0, "{report}");
    assert!(lines_starting(&report, "FAIL ") >= 5, "{report}");
    let last = report.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("check: ") && last.chars().count() <= 100,
        "{last}"
    );
}

fn token_server() -> common::TestServer {
    spawn_server_with(Config::ephemeral().with_token("s3cret-token"))
}

#[test]
fn a_token_protected_taskd_without_a_token_stops_at_the_first_401_in_one_line() {
    let server = token_server();
    let output = taskd_check(&[&format!("http://{}", server.addr())]);
    assert_eq!(output.status.code(), Some(4), "{}", stdout(&output));
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    assert_eq!(
        stderr(&output),
        "taskd check: GET /tasks answered 401 with WWW-Authenticate: Bearer: the server wants a \
         token; give it with --token-file FILE or TASKD_TOKEN=... (exit 4)\n"
    );
}

#[test]
fn a_token_protected_taskd_passes_with_the_token_from_a_file_or_the_environment() {
    let server = token_server();
    let url = format!("http://{}", server.addr());
    let file = std::env::temp_dir().join(format!("taskd-check-token-{}", std::process::id()));
    std::fs::write(&file, "s3cret-token\n").unwrap();
    let from_file = taskd_check(&["--token-file", file.to_str().unwrap(), &url]);
    std::fs::remove_file(&file).unwrap();
    let from_env = taskd_check_with(&[&url], &[("TASKD_TOKEN", "s3cret-token")]);
    for output in [from_file, from_env] {
        let report = stdout(&output);
        assert_eq!(output.status.code(), Some(0), "{report}{}", stderr(&output));
        let last = report.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("check: {CHECKS} passed, 0 failed, 0 notes")),
            "{last}"
        );
    }
    let wrong = taskd_check_with(&[&url], &[("TASKD_TOKEN", "wrong")]);
    assert_eq!(wrong.status.code(), Some(4));
    assert!(
        stderr(&wrong).contains("the server refused the token given"),
        "{}",
        stderr(&wrong)
    );
}

#[test]
fn a_url_without_a_scheme_is_read_as_http() {
    let server = spawn_server();
    let output = taskd_check(&[&format!("localhost:{}", server.addr().port())]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{report}{}", stderr(&output));
    let last = report.lines().last().unwrap_or_default();
    let expected = format!(
        "check: {CHECKS} passed, 0 failed, 0 notes (61 requests to http://localhost:{}/)",
        server.addr().port()
    );
    assert_eq!(last, expected);
}

#[test]
fn a_url_with_a_route_in_it_names_the_root_and_what_the_root_serves() {
    let server = spawn_server();
    let root = format!("http://{}", server.addr());
    let output = taskd_check(&[&format!("{root}/tasks")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let text = stderr(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..2],
        [
            format!(
                "taskd check: {root}/tasks has a path, /tasks, and the checker adds /tasks \
                 itself (it would send GET /tasks/tasks)."
            ),
            format!("Give the server's root: taskd check {root}"),
        ],
        "{text}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "At {root}: GET /docs answered 200; GET /openapi.json answered 200: an OpenAPI \
             document, "
        )),
        "{text}"
    );
    assert!(lines[2].contains(", /tasks/{task_id}"), "{text}");
}

#[test]
fn an_unreachable_server_exits_3() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = taskd_check(&[&format!("http://127.0.0.1:{port}")]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("cannot reach"),
        "{}",
        stderr(&output)
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2_and_https_is_explained() {
    assert_eq!(taskd_check(&[]).status.code(), Some(2));
    assert_eq!(taskd_check(&["--frob", "http://x"]).status.code(), Some(2));
    let https = taskd_check(&["https://127.0.0.1:8000"]);
    assert_eq!(https.status.code(), Some(2));
    assert!(
        stderr(&https).contains("plain http only"),
        "{}",
        stderr(&https)
    );
}

#[test]
fn help_explains_check_and_the_main_help_mentions_it() {
    let help = taskd_check(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(
        stdout(&help).starts_with("Usage: taskd check"),
        "{}",
        stdout(&help)
    );
    assert!(stdout(&help).contains("Exit status"), "{}", stdout(&help));
    let main_help = Command::new(TASKD).arg("--help").output().unwrap();
    assert!(
        stdout(&main_help).contains("taskd check"),
        "{}",
        stdout(&main_help)
    );
}
