//! `taskd check URL`: audits any server of the lesson's Task Manager API over plain HTTP and
//! explains each HTTP mistake — a line per check (PASS, FAIL or NOTE), and for each FAIL the
//! request sent, the answer, what HTTP expects and the RFC section that says so.
//!
//! This crate is that auditor and nothing else: it depends on no part of taskd (it must judge
//! any server of the lesson's API by what crosses the wire, taskd included), and the `taskd`
//! binary hands `taskd check ...` to [`run`].
//!
//! # Layout
//! - `client`: the blocking HTTP/1.1 client over `TcpStream`, behind the [`Transport`] trait.
//! - `message`: [`Request`] and [`Response`] values and their descriptions.
//! - [`check`]: the order of the rounds; `script`, `rounds`: what each round sends.
//! - `requests`: the requests the rounds build (a GET, a JSON POST, an upload, a setup task).
//! - `session`: the request budget, the run's own tasks, methods seen to work, cleanup.
//! - `validator_rounds`: what is sent about validators, conditional requests and ranges.
//! - `rules`, `methods`, `validation`, `uploads`, `validators`: pure checks from responses to
//!   [`Outcome`]s.
//! - `disposition`: a strict `Content-Disposition` reader (RFC 6266, RFC 8187).
//! - `report`: the text and `--json` reports.
//!
//! Guarantees: it talks only to the host and port of the URL (no redirects are followed), sends
//! at most [`MAX_REQUESTS`] requests, and deletes only tasks it created in this run.

use std::io::Write;
use std::process::ExitCode;

mod client;
mod disposition;
mod message;
mod methods;
mod report;
mod requests;
mod rounds;
mod rules;
mod script;
mod session;
mod uploads;
mod validation;
mod validator_rounds;
mod validators;

#[cfg(test)]
mod tests;

pub use client::{Target, TcpTransport, Transport, TransportError};
pub use message::{Request, Response};
pub use report::{Check, Failure, Outcome, Report};
pub use session::MAX_REQUESTS;

/// `taskd check --help`.
pub const USAGE: &str = "\
Usage: taskd check [--json] http://HOST:PORT

Audits a server of the lesson's Task Manager API (taskd, your FastAPI app, anything that
implements it) over plain HTTP, and explains each HTTP mistake it finds. It runs the lesson's
Stage 4 sequence, its three exercises, and the HTTP rules a lesson-level server should get
right: 201 + Location, 404 bodies, 204 with nothing in it, 405 + Allow, HEAD, OPTIONS, 409,
400 vs 415 for uploads, 422 shapes, Content-Disposition, trailing slashes, bad input; and
ETags, 304, 412 and byte ranges (NOTEs where a server has none, FAILs where it errs).

Output: one line per check, PASS, FAIL or NOTE (allowed, but not what taskd does). Each FAIL
says what was sent, what came back, what HTTP expects and the RFC section. The last line is
`check: N passed, M failed, K notes`.

It creates its own tasks (titles end in \"(taskd check XXXXXX)\"), deletes only those, sends at
most 100 requests, follows no redirects and talks to no other host. Start your server with an
empty store for the clearest report.

Options:
  --json      print the report as JSON instead of text
  -h, --help  print this help

Exit status: 0 no FAIL (NOTEs are fine), 1 at least one FAIL, 2 usage error or the server
could not be reached.";

/// Runs `taskd check` with the arguments after `check`; prints the report on stdout.
pub fn run(args: impl Iterator<Item = String>) -> ExitCode {
    let mut json = false;
    let mut url = None;
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--json" => json = true,
            flag if flag.starts_with('-') => return usage_error(&format!("unknown flag {flag}")),
            _ if url.is_some() => return usage_error("give exactly one URL"),
            _ => url = Some(arg),
        }
    }
    let Some(url) = url else {
        return usage_error("give the server's URL, e.g. taskd check http://127.0.0.1:8000");
    };
    let target = match Target::parse(&url) {
        Ok(target) => target,
        Err(message) => return usage_error(&message),
    };
    let mut transport = TcpTransport::new(target.clone());
    let report = match check(&mut transport, &target, &tag()) {
        Ok(report) => report,
        Err(why) => {
            eprintln!(
                "taskd check: cannot reach {url}: {why}\nIs the server running? Start it \
                 (e.g. `uvicorn main:app` or `taskd`) and try again."
            );
            return ExitCode::from(2);
        }
    };
    let text = if json {
        format!("{:#}\n", report.to_json())
    } else {
        report.to_text()
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    if report.failed() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs the whole check through `transport`, then deletes the run's tasks; `tag` ends every
/// title the run creates.
///
/// # Errors
/// The first request could not connect (the caller exits 2).
pub fn check(transport: &mut dyn Transport, target: &Target, tag: &str) -> Result<Report, String> {
    let mut session = session::Session::new(transport, target, tag);
    script::start(&mut session)?;
    script::stage_four(&mut session);
    script::exercises(&mut session);
    rounds::rules_round(&mut session);
    validator_rounds::validators_round(&mut session);
    rounds::invalid_round(&mut session);
    session.clean_up();
    Ok(std::mem::take(&mut session.report))
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("taskd check: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

/// `taskd check 3f9a1c`: different on every run (clock and process id), so the run's titles
/// clash with no one else's, not even a previous run's leftovers.
fn tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos() ^ (elapsed.as_secs() as u32))
        .unwrap_or_default();
    let mixed = nanos.wrapping_mul(2_654_435_761) ^ std::process::id().rotate_left(16);
    format!("taskd check {:06x}", mixed & 0xff_ffff)
}
