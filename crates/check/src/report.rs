//! What `taskd check` found: one [`Check`] per rule, each a PASS, a FAIL with the request, the
//! answer, what HTTP expects and the RFC section, or a NOTE; printed as text or as JSON.

use serde_json::{json, Value};

use super::fixes;

/// The widest the summary line gets, so it fits a terminal and a CI log line.
pub const SUMMARY_WIDTH: usize = 100;

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The server did what HTTP (and the lesson's API) expects.
    Pass,
    /// The server got something wrong; the failure says what and where the rule is written.
    Fail(Failure),
    /// Allowed, but not what taskd does, or not checked; the text says why.
    Note(String),
}

/// Why a check failed, in the words of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What came back, e.g. `201 Created with no Location header`.
    pub got: String,
    /// What HTTP expects, in a plain sentence.
    pub expected: String,
    /// Where the rule is written, e.g. `RFC 9110 §15.3.2`.
    pub rfc: String,
}

impl Outcome {
    /// A failure.
    pub fn fail(got: impl Into<String>, expected: impl Into<String>, rfc: &str) -> Outcome {
        Outcome::Fail(Failure {
            got: got.into(),
            expected: expected.into(),
            rfc: rfc.to_owned(),
        })
    }

    /// A note.
    pub fn note(text: impl Into<String>) -> Outcome {
        Outcome::Note(text.into())
    }

    /// Whether this is a failure.
    pub fn is_fail(&self) -> bool {
        matches!(self, Outcome::Fail(_))
    }

    fn word(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail(_) => "fail",
            Outcome::Note(_) => "note",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// A stable identifier, e.g. `create.location`, for scripts reading `--json`.
    pub name: &'static str,
    /// What is checked, in words.
    pub title: String,
    /// The request the verdict is about, if one was sent.
    pub sent: Option<String>,
    /// The verdict.
    pub outcome: Outcome,
}

/// Every check of one run, in the order they ran.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The URL that was checked.
    pub url: String,
    /// The checks.
    pub checks: Vec<Check>,
    /// How many requests were sent.
    pub requests: usize,
}

impl Report {
    /// Checks that passed.
    pub fn passed(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Pass))
    }

    /// Checks that failed.
    pub fn failed(&self) -> usize {
        self.count(Outcome::is_fail)
    }

    /// Notes.
    pub fn notes(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Note(_)))
    }

    fn count(&self, pick: impl Fn(&Outcome) -> bool) -> usize {
        self.checks
            .iter()
            .filter(|check| pick(&check.outcome))
            .count()
    }

    /// The final line: `check: N passed, M failed, K notes (R requests to URL)`, at most
    /// [`SUMMARY_WIDTH`] characters: a URL too long to fit is left out of it.
    pub fn summary(&self) -> String {
        let notes = match self.notes() {
            1 => "1 note".to_owned(),
            n => format!("{n} notes"),
        };
        let counts = format!(
            "check: {} passed, {} failed, {notes}",
            self.passed(),
            self.failed()
        );
        let long = format!("{counts} ({} requests to {})", self.requests, self.url);
        if long.chars().count() <= SUMMARY_WIDTH {
            long
        } else {
            format!("{counts} ({} requests)", self.requests)
        }
    }

    /// The text report: a line per check, indented details under FAIL and NOTE (a FAIL's
    /// last detail is its FastAPI fix, where there is one), the summary last. With
    /// `failures_only`, PASS lines are left out.
    pub fn to_text(&self, failures_only: bool) -> String {
        let mut out = String::new();
        for check in &self.checks {
            match &check.outcome {
                Outcome::Pass if failures_only => {}
                Outcome::Pass => out.push_str(&format!("PASS {}\n", check.title)),
                Outcome::Fail(failure) => {
                    out.push_str(&format!("FAIL {}\n", check.title));
                    if let Some(sent) = &check.sent {
                        out.push_str(&format!("    sent:     {sent}\n"));
                    }
                    out.push_str(&format!("    got:      {}\n", failure.got));
                    out.push_str(&format!("    expected: {}\n", failure.expected));
                    out.push_str(&format!("    see:      {}\n", failure.rfc));
                    if let Some(fix) = fixes::fastapi(check.name) {
                        out.push_str(&format!("    fix:      {fix}\n"));
                    }
                }
                Outcome::Note(text) => {
                    out.push_str(&format!("NOTE {}\n", check.title));
                    out.push_str(&format!("    {text}\n"));
                }
            }
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The `--json` report.
    pub fn to_json(&self) -> Value {
        let checks: Vec<Value> = self.checks.iter().map(check_json).collect();
        json!({
            "url": self.url,
            "checks": checks,
            "totals": {
                "passed": self.passed(),
                "failed": self.failed(),
                "notes": self.notes(),
                "requests": self.requests,
            },
        })
    }
}

fn check_json(check: &Check) -> Value {
    let mut value = json!({
        "name": check.name,
        "title": check.title,
        "outcome": check.outcome.word(),
        "sent": check.sent,
    });
    match &check.outcome {
        Outcome::Pass => {}
        Outcome::Fail(failure) => {
            value["got"] = json!(failure.got);
            value["expected"] = json!(failure.expected);
            value["rfc"] = json!(failure.rfc);
            value["fix"] = json!(fixes::fastapi(check.name));
        }
        Outcome::Note(text) => value["note"] = json!(text),
    }
    value
}
