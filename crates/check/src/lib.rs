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
//! - `report`: the text and `--json` reports; `fixes`: the FastAPI `fix:` line of each FAIL.
//! - `args`: the command line and the token's sources; `base`: a URL that names a route.
//!
//! Guarantees: it talks only to the host and port of the URL (no redirects are followed), sends
//! at most [`MAX_REQUESTS`] requests, and deletes only tasks it created in this run.

use std::io::Write;
use std::process::ExitCode;

mod args;
mod base;
mod client;
mod disposition;
mod fixes;
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
pub use session::{Stop, MAX_REQUESTS};

/// `taskd check --help`.
pub const USAGE: &str = "\
Usage: taskd check [--failures] [--json] [--token-file FILE] URL

Audits a server of the lesson's Task Manager API (taskd, your FastAPI app, anything that
implements it) over plain HTTP, and explains each HTTP mistake it finds. It runs the lesson's
Stage 4 sequence, its three exercises, and the HTTP rules a lesson-level server should get
right: 201 + Location, 404 bodies, 204 with nothing in it, 405 + Allow, HEAD, OPTIONS, 409,
400 vs 415 for uploads, 422 shapes, Content-Disposition, trailing slashes, bad input; and
ETags, 304, 412 and byte ranges (NOTEs where a server has none, FAILs where it errs).

URL is the server's root, e.g. http://127.0.0.1:8000 or just localhost:8000 (http:// is
assumed); the checker adds /tasks itself.

Output: one line per check, PASS, FAIL or NOTE. Each FAIL says what was sent, what came back,
what HTTP expects, the RFC section, and a `fix:` line for FastAPI. A NOTE is allowed, not what
taskd does, or the framework's doing rather than your code's; NOTEs never fail the run. The
last line is `check: N passed, M failed, K notes (...)`.

It creates its own tasks (titles end in \"(taskd check XXXXXX)\"), deletes only those, sends at
most 100 requests, follows no redirects and talks to no other host. Start your server with an
empty store for the clearest report.

Options:
  --failures         print only the FAIL and NOTE lines (and the summary)
  --json             print the report as JSON instead of text
  --token-file FILE  send the bearer token in FILE (for a server started with a token);
                     TASKD_TOKEN=... does the same. There is no --token: a command line
                     shows in `ps` to every user of the machine
  -h, --help         print this help

Exit status: 0 no FAIL (NOTEs are fine), 1 at least one FAIL, 2 usage error (a URL with a
route in it, like http://127.0.0.1:8000/tasks, included), 3 the server could not be reached,
4 the server asks for a bearer token and none was given, or refused the one given.";

/// Exit status: a usage error (the URL included).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: no connection to the server.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Exit status: a 401 asked for a bearer token, none was given or it was refused.
pub const EXIT_TOKEN: u8 = 4;

/// Runs `taskd check` with the arguments after `check`; prints the report on stdout.
pub fn run(args: impl Iterator<Item = String>) -> ExitCode {
    let options = match args::parse(args, std::env::var("TASKD_TOKEN").ok()) {
        Ok(options) => options,
        Err(args::NoRun::Help) => {
            write_out(&mut std::io::stdout(), &format!("{USAGE}\n"));
            return ExitCode::SUCCESS;
        }
        Err(args::NoRun::Usage(message)) => return usage_error(&message),
    };
    let url = &options.url;
    let target = match Target::parse(url) {
        Ok(target) => target,
        Err(message) => return usage_error(&message),
    };
    let mut transport = TcpTransport::new(target.clone()).with_token(options.token.clone());
    if base::names_a_route(&target) {
        let explained = base::explain(&target, &mut transport);
        write_out(
            &mut std::io::stderr(),
            &format!("taskd check: {explained}\n"),
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let report = match check(&mut transport, &target, &tag()) {
        Ok(report) => report,
        Err(stop) => {
            let line = stop_line(&target, &stop);
            write_out(&mut std::io::stderr(), &format!("taskd check: {line}\n"));
            return ExitCode::from(match stop {
                Stop::Unreachable(_) => EXIT_UNREACHABLE,
                Stop::NeedsToken { .. } | Stop::TokenRefused { .. } => EXIT_TOKEN,
            });
        }
    };
    let text = if options.json {
        format!("{:#}\n", report.to_json())
    } else {
        report.to_text(options.failures_only)
    };
    write_out(&mut std::io::stdout(), &text);
    if report.failed() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Why the run stopped, in the words printed on stderr: one line for a token (the only thing
/// to do is give one), two for an unreachable server (what failed, what to try).
pub fn stop_line(target: &Target, stop: &Stop) -> String {
    match stop {
        Stop::Unreachable(why) => format!(
            "cannot reach {}: {why}\nIs the server running? Start it (e.g. `uvicorn main:app` or \
             `taskd`) and try again.",
            target.url
        ),
        Stop::NeedsToken { sent } => format!(
            "{sent} answered 401 with WWW-Authenticate: Bearer: the server wants a token; \
             give it with --token-file FILE or TASKD_TOKEN=... (exit {EXIT_TOKEN})"
        ),
        Stop::TokenRefused { sent, challenge } => format!(
            "{sent} answered 401 with WWW-Authenticate: {challenge}: the server refused the \
             token given; check --token-file or TASKD_TOKEN (exit {EXIT_TOKEN})"
        ),
    }
}

/// Runs the whole check through `transport`, then deletes the run's tasks; `tag` ends every
/// title the run creates.
///
/// # Errors
/// The first request could not connect, or a 401 asked for a token ([`Stop`]).
pub fn check(transport: &mut dyn Transport, target: &Target, tag: &str) -> Result<Report, Stop> {
    let mut session = session::Session::new(transport, target, tag);
    script::start(&mut session)?;
    script::stage_four(&mut session);
    script::exercises(&mut session);
    rounds::rules_round(&mut session);
    validator_rounds::validators_round(&mut session);
    rounds::invalid_round(&mut session);
    if let Some(stop) = session.halt.take() {
        return Err(stop);
    }
    session.clean_up();
    Ok(std::mem::take(&mut session.report))
}

/// Writes `text` whole, ignoring a closed pipe (`taskd check --help | head -1`): Rust ignores
/// SIGPIPE, so the write returns `EPIPE`, which `println!` would turn into a panic.
fn write_out(out: &mut dyn Write, text: &str) {
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn usage_error(message: &str) -> ExitCode {
    write_out(
        &mut std::io::stderr(),
        &format!("taskd check: {message}\n(see taskd check --help)\n"),
    );
    ExitCode::from(EXIT_USAGE)
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
