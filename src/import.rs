//! `taskd import --data-dir DIR --database-url URL` (CONTRACT §14, "moving up from one host"):
//! copies a `--data-dir` into a PostgreSQL database whose taskd schema has never given out an
//! id, in one transaction under the schema's advisory lock, verifies it, and prints one line.
//!
//! - this file: the subcommand's two flags (its own, so the server's parser stays the
//!   server's) and the run from flags to summary line;
//! - [`copy`]: the transaction: the emptiness check, the rows, and their verification.
//!
//! `DIR` is read through [`crate::storage::durable::read_data_dir`], which writes nothing.
//! Exit codes as the server's: 2 for a malformed command line, 1 for everything else.

mod copy;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::pg::conn::Connector;
use crate::pg::options::ConnectOptions;
use crate::pg::{schema, start};
use crate::storage::durable::read_data_dir;

/// The variable read when `--database-url` is absent (as the server reads it).
const DATABASE_URL_VAR: &str = "TASKD_DATABASE_URL";

/// How long to keep trying a database that cannot be reached yet.
const CONNECT_RETRY: Duration = Duration::from_secs(10);

/// The subcommand's usage, for `taskd import --help`.
pub const IMPORT_USAGE: &str = "usage: taskd import --data-dir DIR --database-url URL
Copies a --data-dir into a PostgreSQL database whose taskd schema has never given out an id.
DIR is only read: stop the taskd that uses it first. URL may come from TASKD_DATABASE_URL.";

/// Why `taskd import` stopped: the exit code and one line for stderr.
#[derive(Debug, PartialEq, Eq)]
pub struct ImportFailure {
    /// 2 for a malformed command line, 1 otherwise.
    pub code: u8,
    /// One line, password redacted.
    pub line: String,
}

/// What the command line of `taskd import` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Help,
    Import { data_dir: PathBuf, url: String },
}

/// Runs `taskd import` with the arguments after `import`: the summary line to print on stdout
/// (exit 0), or the failure.
///
/// # Errors
/// [`ImportFailure`]: code 2 for a malformed command line, 1 for anything else.
pub fn run(args: impl Iterator<Item = OsString>) -> Result<String, ImportFailure> {
    let env_url = std::env::var_os(DATABASE_URL_VAR);
    let usage = |line: String| ImportFailure { code: 2, line };
    let (data_dir, url) = match parse(args, env_url).map_err(usage)? {
        Request::Help => return Ok(IMPORT_USAGE.to_owned()),
        Request::Import { data_dir, url } => (data_dir, url),
    };
    let failed = |line: String| ImportFailure { code: 1, line };
    // A malformed URL is a usage error, exit 2, as it is for the server.
    let options =
        ConnectOptions::from_text(&url).map_err(|why| usage(format!("taskd import: {why}")))?;
    // The directory first: it is local, and a wrong one is the likelier mistake.
    let image = read_data_dir(&data_dir).map_err(|error| failed(error.to_string()))?;
    let connector = Connector::new(&options).map_err(|error| failed(error.to_string()))?;
    let mut conn = start::connect_with_retry(&connector, CONNECT_RETRY)
        .map_err(|error| failed(error.to_string()))?;
    schema::prepare(&mut conn).map_err(|error| failed(error.to_string()))?;
    let copied = copy::copy_into(&mut conn, &image).map_err(failed)?;
    let tail = if image.torn_tail.is_some() {
        "; an unacknowledged torn tail of its last journal was left as it is"
    } else {
        ""
    };
    Ok(format!(
        "imported {} tasks, {} attachments ({}), next id {} from {} into {}{tail}",
        copied.tasks,
        copied.attachments,
        human_bytes(copied.bytes),
        image.next_id,
        data_dir.display(),
        options.redacted()
    ))
}

/// `--data-dir DIR` and `--database-url URL`, each also as `--flag=VALUE`, each at most once;
/// the URL falls back to `env_url`. The error is one line.
fn parse(
    args: impl Iterator<Item = OsString>,
    env_url: Option<OsString>,
) -> Result<Request, String> {
    let mut args = args.peekable();
    let (mut data_dir, mut url): (Option<OsString>, Option<OsString>) = (None, None);
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        if text == "--help" || text == "-h" {
            return Ok(Request::Help);
        }
        let (name, inline) = match text.split_once('=') {
            Some((name, _)) if name.starts_with("--") => {
                // The value's own bytes, not the lossy text: a path need not be UTF-8.
                let bytes = arg.as_encoded_bytes();
                let value = bytes.get(name.len() + 1..).unwrap_or_default().to_vec();
                let value = OsString::from_vec_lossless(value);
                (name.to_owned(), Some(value))
            }
            _ => (text.clone(), None),
        };
        let slot = match name.as_str() {
            "--data-dir" => &mut data_dir,
            "--database-url" => &mut url,
            // A URL given without its flag must not be echoed with its password (CONTRACT §14).
            _ => {
                let shown = crate::pg::redact_database_url(&text);
                return Err(format!("taskd import: unknown argument {shown:?}"));
            }
        };
        if slot.is_some() {
            return Err(format!("taskd import: {name} given twice"));
        }
        let value = match inline {
            Some(value) => value,
            None => args
                .next()
                .ok_or_else(|| format!("taskd import: {name} needs a value"))?,
        };
        if value.is_empty() {
            return Err(format!("taskd import: {name} needs a value"));
        }
        *slot = Some(value);
    }
    let data_dir = data_dir.ok_or("taskd import: --data-dir DIR is required")?;
    let url = url
        .or(env_url.filter(|url| !url.is_empty()))
        .ok_or(format!(
            "taskd import: --database-url URL (or {DATABASE_URL_VAR}) is required"
        ))?;
    let url = url
        .into_string()
        .map_err(|_| "taskd import: --database-url is not UTF-8".to_owned())?;
    Ok(Request::Import {
        data_dir: PathBuf::from(data_dir),
        url,
    })
}

/// Rebuilds an `OsString` from bytes taken out of another `OsString` at an ASCII boundary.
trait FromVecLossless {
    fn from_vec_lossless(bytes: Vec<u8>) -> OsString;
}

impl FromVecLossless for OsString {
    #[cfg(unix)]
    fn from_vec_lossless(bytes: Vec<u8>) -> OsString {
        std::os::unix::ffi::OsStringExt::from_vec(bytes)
    }

    #[cfg(not(unix))]
    fn from_vec_lossless(bytes: Vec<u8>) -> OsString {
        OsString::from(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// `1.2 MiB`, `340 B`: the summary's size.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = OsString> {
        list.iter()
            .map(OsString::from)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn flags_in_both_forms_and_the_variable() {
        let expected = Request::Import {
            data_dir: PathBuf::from("/d"),
            url: "postgres://h/db".to_owned(),
        };
        let spaced = ["--data-dir", "/d", "--database-url", "postgres://h/db"];
        assert_eq!(parse(args(&spaced), None), Ok(expected));
        let joined = ["--database-url=postgres://h/db=x", "--data-dir=/d"];
        let Ok(Request::Import { url, .. }) = parse(args(&joined), None) else {
            panic!("parsed")
        };
        assert_eq!(url, "postgres://h/db=x");
        let from_env = parse(args(&["--data-dir", "/d"]), Some("postgres://e/db".into()));
        assert!(matches!(from_env, Ok(Request::Import { url, .. }) if url == "postgres://e/db"));
        assert_eq!(parse(args(&["--help"]), None), Ok(Request::Help));
    }

    #[test]
    fn malformed_command_lines_are_one_line_errors() {
        for bad in [
            &["--data-dir"][..],
            &["--data-dir", "/d"],
            &[
                "--data-dir",
                "/d",
                "--database-url",
                "u",
                "--data-dir",
                "/e",
            ],
            &["--data-dir=", "--database-url", "u"],
            &["--bogus", "--data-dir", "/d", "--database-url", "u"],
            &["/d"],
        ] {
            let error = parse(args(bad), None).expect_err("malformed");
            assert!(
                error.starts_with("taskd import: ") && !error.contains('\n'),
                "{error}"
            );
        }
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1_258_291), "1.2 MiB");
    }
}
