//! Whole sessions against fake transports: a server that says 200 to everything, one that
//! creates a task for every request, one that never answers, one that is not there.

use crate::client::{Target, Transport, TransportError};
use crate::message::{Request, Response};
use crate::report::Report;
use crate::{check, MAX_REQUESTS};

/// A transport that answers with a closure and remembers every request.
struct Fake<F> {
    answer: F,
    sent: Vec<Request>,
}

impl<F: FnMut(&Request) -> Result<Response, TransportError>> Transport for Fake<F> {
    fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
        self.sent.push(request.clone());
        (self.answer)(request)
    }
}

fn run<F>(answer: F) -> (Result<Report, crate::Stop>, Vec<Request>)
where
    F: FnMut(&Request) -> Result<Response, TransportError>,
{
    let target = Target::parse("http://127.0.0.1:8000").unwrap();
    let mut fake = Fake {
        answer,
        sent: Vec::new(),
    };
    let report = check(&mut fake, &target, "taskd check 000001");
    (report, fake.sent)
}

#[test]
fn a_server_that_says_200_to_everything_fails_and_is_never_sent_a_delete() {
    let (report, sent) = run(|_| Ok(Response::new(200).with_json("{}")));
    let report = report.unwrap();
    assert!(report.failed() >= 5, "{}", report.to_text(false));
    assert!(
        report.to_text(false).contains("\ncheck: "),
        "{}",
        report.to_text(false)
    );
    assert!(sent.iter().all(|request| request.method != "DELETE"));
    assert_eq!(report.requests, sent.len());
}

#[test]
fn only_tasks_the_run_created_are_deleted_and_all_of_them_are() {
    let mut next = 0u64;
    let mut created = Vec::new();
    let (report, sent) = run(|request| {
        let response = match request.method.as_str() {
            "POST" => {
                next += 1;
                if matches!(request.target.as_str(), "/tasks" | "/tasks/") {
                    created.push(format!("/tasks/{next}"));
                }
                Response::new(201).with_json(&format!(r#"{{"id":{next},"title":"t"}}"#))
            }
            "DELETE" => Response::new(204),
            _ => Response::new(200).with_json(r#"{"id":1}"#),
        };
        Ok(response)
    });
    let report = report.unwrap();
    let mut deleted: Vec<String> = sent
        .iter()
        .filter(|request| request.method == "DELETE")
        .map(|request| request.target.clone())
        .collect();
    deleted.sort();
    created.sort();
    // Each task this server created for the run is deleted once, and nothing else is.
    assert_eq!(deleted, created);
    assert!(sent.len() <= MAX_REQUESTS, "{} requests", sent.len());
    assert!(report.failed() > 0);
}

#[test]
fn a_server_that_never_answers_stops_the_run_after_three_requests() {
    let (report, sent) = run(|_| Err(TransportError::Broken("no answer within 5 s".to_owned())));
    let report = report.unwrap();
    assert_eq!(sent.len(), 3);
    assert_eq!(report.failed(), 3, "{}", report.to_text(false));
    assert!(
        report.to_text(false).contains("stopped:"),
        "{}",
        report.to_text(false)
    );
}

#[test]
fn a_server_that_is_not_there_is_an_error_not_a_report() {
    let (report, sent) = run(|_| Err(TransportError::Unreachable("refused".to_owned())));
    assert_eq!(
        report.unwrap_err(),
        crate::Stop::Unreachable("refused".to_owned())
    );
    assert_eq!(sent.len(), 1);
}

/// A server that wants a bearer token on every request.
fn bearer(_: &Request) -> Result<Response, TransportError> {
    Ok(Response::new(401)
        .with_header("WWW-Authenticate", "Bearer")
        .with_json(r#"{"detail":"Not authenticated"}"#))
}

#[test]
fn the_first_401_asking_for_a_bearer_token_stops_the_run() {
    let (report, sent) = run(bearer);
    assert_eq!(
        report.unwrap_err(),
        crate::Stop::NeedsToken {
            sent: "GET /tasks".to_owned()
        }
    );
    assert_eq!(sent.len(), 1);
}

#[test]
fn a_401_without_a_bearer_challenge_is_an_ordinary_answer() {
    let (report, _) = run(|_| Ok(Response::new(401).with_json(r#"{"detail":"no"}"#)));
    assert!(report.unwrap().failed() > 0);
}

#[test]
fn a_401_after_the_first_request_stops_the_run_too() {
    let mut answered = 0;
    let (report, sent) = run(|request| {
        answered += 1;
        if answered == 1 {
            Ok(Response::new(200).with_json("[]"))
        } else {
            bearer(request)
        }
    });
    assert!(matches!(report, Err(crate::Stop::NeedsToken { .. })));
    assert_eq!(sent.len(), 2, "nothing is sent after the 401");
}

#[test]
fn the_summary_fits_one_line_and_failures_only_drops_the_passes() {
    let (report, _) = run(|_| Ok(Response::new(200).with_json("{}")));
    let mut report = report.unwrap();
    report.url = format!("http://{}.example:8000/", "x".repeat(90));
    let text = report.to_text(true);
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("check: ") && last.chars().count() <= 100,
        "{last}"
    );
    assert!(!text.contains("\nPASS "), "{text}");
    assert!(
        text.contains("FAIL ") && text.contains("    fix:      "),
        "{text}"
    );
}

#[test]
fn the_report_ends_with_the_totals_and_explains_each_fail() {
    let (report, _) = run(|_| Ok(Response::new(200).with_json("{}")));
    let report = report.unwrap();
    let text = report.to_text(false);
    let last = text.lines().last().unwrap();
    let totals = format!(
        "check: {} passed, {} failed",
        report.passed(),
        report.failed()
    );
    assert!(last.starts_with(&totals), "{last}");
    let lines: Vec<&str> = text.lines().collect();
    for (at, line) in lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("FAIL "))
    {
        let labels = [
            "    sent:",
            "    got:",
            "    expected:",
            "    see:      RFC",
        ];
        let details = &lines[at + 1..];
        let found = labels
            .iter()
            .filter(|label| details.iter().take(4).any(|l| l.starts_with(*label)));
        assert!(found.count() >= 3, "{line} lacks its explanation");
    }
    let json = report.to_json();
    assert_eq!(json["totals"]["failed"], report.failed());
    assert_eq!(
        json["checks"].as_array().unwrap().len(),
        report.checks.len()
    );
}
