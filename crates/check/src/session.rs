//! The machinery of one `taskd check` run: sending through a [`Transport`] within a request
//! budget, recording checks, remembering which tasks this run created (the only ones it may
//! delete) and which methods worked, and cleaning up at the end. The script itself, what is
//! sent in which order, is in `script.rs`.

use serde_json::Value;
use url::Url;

use super::client::{Target, Transport, TransportError};
use super::message::{Request, Response};
use super::report::{Check, Outcome, Report};

/// The most requests one run sends, cleanup included. The script sends 61 to taskd, and under
/// 75 to a server that accepts everything it should refuse (each such task is deleted again).
pub const MAX_REQUESTS: usize = 100;

/// After this many requests in a row without an answer, the run stops instead of waiting out
/// a timeout for every remaining check.
const GIVE_UP_AFTER: usize = 3;

/// Why a run ended before its report: each is an exit code of its own, not a FAIL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The first request could not connect: the server is not there.
    Unreachable(String),
    /// A 401 with a `Bearer` challenge, and no token was given: every later check would be
    /// the same 401, which says nothing about the server's HTTP.
    NeedsToken {
        /// The request that got the 401.
        sent: String,
    },
    /// A 401 with a `Bearer` challenge to a request that carried the token.
    TokenRefused {
        /// The request that got the 401.
        sent: String,
        /// The challenge, e.g. `Bearer error="invalid_token"`.
        challenge: String,
    },
}

/// Methods seen to succeed on each kind of resource: what a complete `Allow` must list.
#[derive(Debug, Default)]
pub struct Seen {
    /// `/tasks`.
    pub collection: Vec<&'static str>,
    /// `/tasks/{id}`.
    pub task: Vec<&'static str>,
    /// `/tasks/{id}/attachment`.
    pub attachment: Vec<&'static str>,
}

impl Seen {
    /// Remembers that `method` worked, if `response` is a 2xx.
    pub fn add(list: &mut Vec<&'static str>, method: &'static str, response: &Response) {
        if (200..300).contains(&response.status) && !list.contains(&method) {
            list.push(method);
        }
    }
}

/// One run against one server.
pub struct Session<'a> {
    transport: &'a mut dyn Transport,
    target: &'a Target,
    /// `taskd check 3f9a1c`: ends every title this run creates, so they clash with no one's.
    pub tag: String,
    /// The multipart boundary of every upload.
    pub boundary: String,
    /// What was found so far.
    pub report: Report,
    /// Ids of tasks this run created and has not deleted: the only tasks it may delete.
    own: Vec<String>,
    /// Methods seen to work, per resource.
    pub seen: Seen,
    broken_in_a_row: usize,
    stopped: bool,
    /// Set when a 401 asked for a token: the run ends with it instead of a report.
    pub halt: Option<Stop>,
}

impl<'a> Session<'a> {
    /// A session that has sent nothing yet.
    pub fn new(transport: &'a mut dyn Transport, target: &'a Target, tag: &str) -> Session<'a> {
        let suffix = tag.rsplit(' ').next().unwrap_or_default();
        let boundary = format!("taskdCheckBoundary{suffix}");
        Session {
            transport,
            target,
            tag: tag.to_owned(),
            boundary,
            report: Report {
                url: target.url.to_string(),
                ..Report::default()
            },
            own: Vec::new(),
            seen: Seen::default(),
            broken_in_a_row: 0,
            stopped: false,
            halt: None,
        }
    }

    /// `path` below the URL's base path.
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.target.base_path)
    }

    /// The absolute URL of `path` (already including the base path), to resolve a `Location`.
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.target.url.clone();
        url.set_path(path);
        url
    }

    /// Sends the first request. Unlike later ones, a failure to connect ends the run: the
    /// server is not there, which is a usage problem (exit 2), not an HTTP mistake.
    ///
    /// # Errors
    /// Why no connection could be made.
    pub fn first(&mut self, request: &Request) -> Result<Option<Response>, Stop> {
        self.report.requests += 1;
        match self.transport.send(request) {
            Ok(response) => match self.bearer_stop(request, &response) {
                Some(stop) => Err(stop),
                None => Ok(Some(response)),
            },
            Err(TransportError::Unreachable(why)) => Err(Stop::Unreachable(why)),
            Err(TransportError::Broken(why)) => {
                self.broken_in_a_row = 1;
                self.no_answer("start", "GET /tasks gets an answer", request, &why);
                Ok(None)
            }
        }
    }

    /// Sends `request`; on no answer, records a FAIL named `name` and returns `None`.
    pub fn send(&mut self, name: &'static str, title: &str, request: &Request) -> Option<Response> {
        if self.stopped {
            return None;
        }
        if self.report.requests >= MAX_REQUESTS {
            self.stopped = true;
            let why = format!("the checker stopped at its limit of {MAX_REQUESTS} requests.");
            self.record(
                "budget",
                "the run stays within its request budget",
                None,
                Outcome::note(why),
            );
            return None;
        }
        self.report.requests += 1;
        match self.transport.send(request) {
            Ok(response) => {
                self.broken_in_a_row = 0;
                if let Some(stop) = self.bearer_stop(request, &response) {
                    self.stopped = true;
                    self.halt = Some(stop);
                    return None;
                }
                Some(response)
            }
            Err(error) => {
                self.broken_in_a_row += 1;
                self.no_answer(name, title, request, &error.to_string());
                None
            }
        }
    }

    /// A 401 that challenges for a bearer token (RFC 6750 §3) ends the run on the spot.
    fn bearer_stop(&self, request: &Request, response: &Response) -> Option<Stop> {
        let challenge = response.header("WWW-Authenticate")?;
        let scheme = challenge.split_whitespace().next().unwrap_or_default();
        if response.status != 401 || !scheme.eq_ignore_ascii_case("Bearer") {
            return None;
        }
        let sent = request.describe();
        Some(if self.transport.has_token() {
            Stop::TokenRefused {
                sent,
                challenge: challenge.to_owned(),
            }
        } else {
            Stop::NeedsToken { sent }
        })
    }

    fn no_answer(&mut self, name: &'static str, title: &str, request: &Request, why: &str) {
        let outcome = Outcome::fail(
            format!("no usable answer: {why}"),
            "a complete HTTP response to every request",
            "RFC 9110 §3.4; RFC 9112 §6.3",
        );
        self.record(name, title, Some(request.describe()), outcome);
        if self.broken_in_a_row >= GIVE_UP_AFTER {
            self.stopped = true;
            let note = format!(
                "stopped: {GIVE_UP_AFTER} requests in a row got no answer, so the remaining \
                 checks were not run."
            );
            self.record(
                "stopped",
                "the server keeps answering",
                None,
                Outcome::note(note),
            );
        }
    }

    /// Sends `request` and records `rule`'s verdict on the answer.
    pub fn check(
        &mut self,
        name: &'static str,
        title: &str,
        request: &Request,
        rule: impl FnOnce(&Response) -> Outcome,
    ) -> Option<Response> {
        let response = self.send(name, title, request)?;
        self.record(name, title, Some(request.describe()), rule(&response));
        Some(response)
    }

    /// Sends a request whose answer feeds later checks; no line of its own unless it fails.
    pub fn setup(&mut self, request: &Request) -> Option<Response> {
        let title = format!("{} gets an answer", request.describe());
        self.send("setup", &title, request)
    }

    /// Adds one line to the report.
    pub fn record(
        &mut self,
        name: &'static str,
        title: &str,
        sent: Option<String>,
        outcome: Outcome,
    ) {
        self.report.checks.push(Check {
            name,
            title: title.to_owned(),
            sent,
            outcome,
        });
    }

    /// Records a NOTE that `title` could not be checked.
    pub fn skip(&mut self, name: &'static str, title: &str, why: &str) {
        if !self.stopped {
            let outcome = Outcome::note(format!("not checked: {why}."));
            self.record(name, title, None, outcome);
        }
    }

    /// Remembers the task a 2xx to a `POST /tasks` created, so it can be deleted at the end;
    /// returns its id.
    pub fn adopt(&mut self, response: &Response) -> Option<String> {
        if !(200..300).contains(&response.status) {
            return None;
        }
        let id = task_id(response)?;
        if !self.own.contains(&id) {
            self.own.push(id.clone());
        }
        Some(id)
    }

    /// Forgets a task this run deleted itself.
    pub fn disown(&mut self, id: &str) {
        self.own.retain(|own| own != id);
    }

    /// Deletes every task this run created and still holds, and only those.
    pub fn clean_up(&mut self) {
        for id in std::mem::take(&mut self.own) {
            let request = Request::new("DELETE", self.path(&format!("/tasks/{id}")));
            let title = format!("the checker deletes task {id}, which it created");
            match self.send("cleanup", &title, &request) {
                Some(response)
                    if (200..300).contains(&response.status) || response.status == 404 => {}
                Some(response) => {
                    let why = format!(
                        "DELETE answered {}; please delete it by hand.",
                        response.status
                    );
                    self.record(
                        "cleanup",
                        &title,
                        Some(request.describe()),
                        Outcome::note(why),
                    );
                }
                None => {
                    if self.stopped {
                        let why = "the server stopped answering; please delete it by hand.";
                        self.record("cleanup", &title, None, Outcome::note(why));
                    }
                }
            }
        }
    }
}

/// The id of the task in a response body, as a path segment: a JSON number, or a string of
/// URL-safe characters (anything else could not be put in a path unchanged).
pub fn task_id(response: &Response) -> Option<String> {
    match response.json()?.get("id")? {
        Value::Number(number) => Some(number.to_string()),
        Value::String(text)
            if !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)) =>
        {
            Some(text.clone())
        }
        _ => None,
    }
}
