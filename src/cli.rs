//! The command line of the `taskd` binary: the flags and the `TASKD_*` variables become a
//! [`Command`], or a [`UsageError`] of one line. Parsing does no I/O: what can fail at run
//! time (reading the token file) is [`Token::resolve`]'s, so that a usage error (exit 2) and a
//! runtime failure (exit 1) never mix. The conventions are clap's, written by hand: clap would
//! cost more than this module (see docs/cli.md for the measurement).
//!
//! - `--flag VALUE` and `--flag=VALUE`; a single-valued flag given twice is an error;
//! - every flag in [`flags::FLAGS`] with a variable is also read from it when the flag is absent;
//!   a repeatable flag adds its variable's values to its own (CORS origins, CONTRACT §12);
//! - an unknown flag gets a "did you mean" ([`suggest`]).

mod flags;
mod help;
mod settings;
mod suggest;
#[cfg(test)]
mod tests;
mod values;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use taskd::Config;

use self::flags::{Takes, TOKEN_VAR};
pub use self::help::USAGE;
use self::settings::resolve;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run the server (boxed: a `Config` is large, and the other variants are empty).
    Serve(Box<Options>),
    /// `--help` / `-h`: print [`USAGE`] on stdout.
    Help,
    /// `--version` / `-V`: print `taskd X.Y.Z` on stdout.
    Version,
}

/// How to serve, as parsed: the config without its token, and where the token comes from.
#[derive(Debug)]
pub struct Options {
    /// Everything but the token.
    pub config: Config,
    /// Where the token comes from (read at run time).
    pub token: Token,
    /// `--data-dir`, kept to name it in the start line.
    pub data_dir: Option<PathBuf>,
    /// `--database-url` with its password redacted, to name it in the start line.
    pub database: Option<String>,
    /// Lines to print at start (a deprecated flag).
    pub warnings: Vec<String>,
}

/// Where the bearer token comes from: a file (`--token-file`, else `TASKD_TOKEN_FILE`), else
/// `TASKD_TOKEN` itself, else none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// No token: every route is open.
    None,
    /// The token, from `TASKD_TOKEN`.
    Value(String),
    /// A file whose first line is the token.
    File {
        /// The file.
        path: PathBuf,
        /// The flag or variable that named it, for the error.
        from: &'static str,
    },
}

impl Token {
    /// The token itself, reading the file if one was named.
    ///
    /// # Errors
    /// One line: the file cannot be read, or its first line is empty.
    pub fn resolve(self) -> Result<Option<String>, String> {
        match self {
            Token::None => Ok(None),
            Token::Value(token) => Ok(Some(token)),
            Token::File { path, from } => {
                let shown = path.display();
                let text = std::fs::read_to_string(&path)
                    .map_err(|error| format!("cannot read {from} {shown}: {error}"))?;
                let token = text.lines().next().unwrap_or_default();
                if token.trim().is_empty() {
                    return Err(format!(
                        "{from} {shown}: the first line (the token) is empty"
                    ));
                }
                Ok(Some(token.to_owned()))
            }
        }
    }
}

/// A command line or variable that does not say something taskd can do: one line naming the
/// flag (or variable) and the value. The binary adds `see taskd --help` and exits 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `TASKD_*` variables of the process (only those: nothing else is read).
#[derive(Debug, Clone, Default)]
pub struct Environment(BTreeMap<String, OsString>);

impl Environment {
    /// The current process's `TASKD_*` variables.
    pub fn from_process() -> Environment {
        Environment::from_vars(std::env::vars_os())
    }

    /// The `TASKD_*` variables among `vars`.
    pub fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Environment {
        let taskd = vars.into_iter().filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            name.starts_with("TASKD_").then_some((name, value))
        });
        Environment(taskd.collect())
    }

    /// The variable's value; an empty one counts as unset (`Environment=TASKD_ADDR=` in a unit).
    fn get(&self, name: &str) -> Result<Option<String>, UsageError> {
        match self.raw(name)? {
            Some(value) if value.is_empty() => Ok(None),
            value => Ok(value),
        }
    }

    fn raw(&self, name: &str) -> Result<Option<String>, UsageError> {
        let Some(value) = self.0.get(name) else {
            return Ok(None);
        };
        let text = value.to_str().ok_or_else(|| {
            // The token and a database password are never printed, not even mangled.
            let shown = match name {
                TOKEN_VAR => REDACTED.to_owned(),
                _ => conceal(&value.to_string_lossy()),
            };
            UsageError(format!("{name} {shown:?}: expected text (valid UTF-8)"))
        })?;
        Ok(Some(text.to_owned()))
    }
}

/// Parses the arguments after the program name.
///
/// # Errors
/// The first usage error, as one line.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: &Environment,
) -> Result<Command, UsageError> {
    match read_args(args)? {
        Read::Given(given) => resolve(&given, env).map(|options| Command::Serve(Box::new(options))),
        Read::Help => Ok(Command::Help),
        Read::Version => Ok(Command::Version),
    }
}

/// What the arguments alone say.
enum Read {
    Given(Given),
    Help,
    Version,
}

/// The flags given on the command line, with their values in order.
#[derive(Debug, Default)]
struct Given {
    values: BTreeMap<&'static str, Vec<String>>,
    switches: Vec<&'static str>,
}

fn read_args(args: impl IntoIterator<Item = OsString>) -> Result<Read, UsageError> {
    let mut given = Given::default();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let arg = utf8(arg)?;
        match arg.as_str() {
            "-h" | "--help" => return Ok(Read::Help),
            "-V" | "--version" => return Ok(Read::Version),
            _ => {}
        }
        if !arg.starts_with('-') || arg == "-" {
            return Err(unexpected_argument(&arg));
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if arg.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let Some(flag) = flags::find(name) else {
            let next = inline.or_else(|| {
                args.peek()
                    .and_then(|next| next.to_str().map(str::to_owned))
            });
            return Err(unknown_flag(name, next.as_deref()));
        };
        if flag.takes == Takes::Nothing {
            if let Some(value) = inline {
                return Err(UsageError(format!(
                    "{name} {:?}: {name} takes no value",
                    conceal(&value)
                )));
            }
            given.switches.push(flag.name);
            continue;
        }
        let value = match inline {
            Some(value) => value,
            // `--addr --quiet` is a forgotten value, not an address called `--quiet`.
            None => {
                match args.next_if(|next| !next.to_str().is_some_and(|s| s.starts_with("--"))) {
                    Some(value) => utf8(value)?,
                    None => return Err(UsageError(format!("{} needs a value", flag.synopsis()))),
                }
            }
        };
        let values = given.values.entry(flag.name).or_default();
        if let (Takes::One(_), Some(first)) = (flag.takes, values.first()) {
            return Err(UsageError(format!(
                "{name} given twice ({:?}, then {:?}): give it once",
                conceal(first),
                conceal(&value)
            )));
        }
        values.push(value);
    }
    Ok(Read::Given(given))
}

fn utf8(arg: OsString) -> Result<String, UsageError> {
    arg.into_string().map_err(|arg| {
        let shown = conceal(&arg.to_string_lossy());
        UsageError(format!("{shown:?}: expected text (valid UTF-8)"))
    })
}

/// An argument or value as an error may repeat it: any database password in it replaced by
/// `[redacted]` (CONTRACT §14: the password never appears in an error), as a URL, in
/// `key=value` form or after `--flag=`, whether or not the text parses. Other text comes back
/// unchanged.
#[cfg(feature = "postgres")]
fn conceal(value: &str) -> String {
    taskd::binary::redact_database_url(value)
}

/// Without PostgreSQL support there is no parser of the forms: anything that may hold a
/// password is hidden whole.
#[cfg(not(feature = "postgres"))]
fn conceal(value: &str) -> String {
    let lower = value.to_ascii_lowercase();
    if lower.contains("password") || (lower.contains("://") && value.contains('@')) {
        REDACTED.to_owned()
    } else {
        value.to_owned()
    }
}

/// What replaces a secret that an error would otherwise repeat.
const REDACTED: &str = "[redacted]";

fn unexpected_argument(arg: &str) -> UsageError {
    let hint = if arg == "check" {
        ": `check` must come first (taskd check URL)"
    } else {
        ": taskd takes only flags (or `taskd check URL`)"
    };
    UsageError(format!("unexpected argument {:?}{hint}", conceal(arg)))
}

fn unknown_flag(name: &str, next: Option<&str>) -> UsageError {
    match suggest::suggestion(name, next) {
        Some(hint) => UsageError(format!("unknown flag {name}; did you mean {hint}?")),
        None => UsageError(format!("unknown flag {name}")),
    }
}
