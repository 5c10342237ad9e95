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
mod suggest;
#[cfg(test)]
mod tests;
mod values;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use taskd::binary::split_origins;
use taskd::Config;

use self::flags::{Flag, Takes, TOKEN_VAR};
pub use self::help::USAGE;

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

/// Where a setting came from, to name it in an error.
#[derive(Debug, Clone, Copy)]
struct Source(&'static str);

/// The single value of `flag`: from the command line, else from its variable. `None` when
/// neither gives one.
fn single(
    given: &Given,
    env: &Environment,
    name: &'static str,
) -> Result<Option<(Source, String)>, UsageError> {
    let flag: &Flag = flags::find(name).expect("the parser asks only for flags of the table");
    if let Some(value) = given.values.get(name).and_then(|values| values.first()) {
        return Ok(Some((Source(flag.name), value.clone())));
    }
    let Some(var) = flag.env else {
        return Ok(None);
    };
    Ok(env.get(var)?.map(|value| (Source(var), value)))
}

/// `single`, parsed; a value that does not parse is an error naming its source and itself.
fn setting<T>(
    given: &Given,
    env: &Environment,
    name: &'static str,
    parse: impl Fn(&str) -> Result<T, &'static str>,
) -> Result<Option<T>, UsageError> {
    let Some((Source(source), value)) = single(given, env, name)? else {
        return Ok(None);
    };
    parse(&value)
        .map(Some)
        .map_err(|why| UsageError(format!("{source} {:?}: {why}", conceal(&value))))
}

/// A switch is on when given, else when its variable says so.
fn switch(given: &Given, env: &Environment, name: &'static str) -> Result<bool, UsageError> {
    if given.switches.contains(&name) {
        return Ok(true);
    }
    let var = flags::find(name).and_then(|flag| flag.env);
    let Some(var) = var else { return Ok(false) };
    match env.get(var)? {
        None => Ok(false),
        Some(value) => {
            values::switch(&value).map_err(|why| UsageError(format!("{var} {value:?}: {why}")))
        }
    }
}

/// The command line, with the variables filling in what it leaves out, as [`Options`].
fn resolve(given: &Given, env: &Environment) -> Result<Options, UsageError> {
    let mut config = Config::default();
    let mut warnings = Vec::new();
    if let Some(addr) = setting(given, env, "--addr", values::listen_addr)? {
        config = config.with_addr(addr);
    }
    if let Some(bytes) = setting(given, env, "--max-upload-bytes", values::bytes)? {
        config = config.with_max_upload_bytes(bytes);
    }
    if let Some(timeout) = setting(given, env, "--request-timeout", values::seconds)? {
        config = config.with_request_timeout(timeout);
    }
    if let Some(timeout) = setting(given, env, "--io-timeout", values::seconds)? {
        config = config.with_io_timeout(timeout);
    }
    if let Some(timeout) = setting(given, env, "--keep-alive-timeout", values::seconds)? {
        config = config.with_keep_alive_timeout(timeout);
    }
    if let Some(cap) = setting(given, env, "--max-connections", values::count)? {
        config = config.with_max_connections(cap);
    }
    if setting(given, env, "--workers", values::count)?.is_some() {
        warnings.push(
            "taskd: warning: --workers is deprecated and ignored: every connection has its own \
             thread"
                .to_owned(),
        );
    }
    let data_dir = setting(given, env, "--data-dir", non_empty)?.map(PathBuf::from);
    if let Some(dir) = &data_dir {
        config = config.with_data_dir(dir);
    }
    let (config_with_database, database) = database(config, given, env)?;
    config = config_with_database;
    config = config
        .with_access_log(!switch(given, env, "--quiet")?)
        .with_trace(switch(given, env, "--trace")?);
    let config = with_cors(config, given, env)?;
    let token = token(given, env)?;
    Ok(Options {
        config,
        token,
        data_dir,
        database,
        warnings,
    })
}

/// `--database-url` and `--database-pool` (CONTRACT §14): the config, and the URL redacted
/// for the start line. Not together with `--data-dir`: the error names both where they came from.
fn database(
    config: Config,
    given: &Given,
    env: &Environment,
) -> Result<(Config, Option<String>), UsageError> {
    let pool = setting(given, env, "--database-pool", values::count)?;
    // The raw text is never put in a message: the parser's error is redacted.
    let Some((Source(url_source), url)) = single(given, env, "--database-url")? else {
        return Ok((config, None));
    };
    if let Some((Source(dir_source), _)) = single(given, env, "--data-dir")? {
        return Err(UsageError(format!(
            "{url_source} and {dir_source} cannot be used together: choose one place to keep tasks"
        )));
    }
    with_database(config, url_source, &url, pool)
}

#[cfg(feature = "postgres")]
fn with_database(
    config: Config,
    source: &str,
    url: &str,
    pool: Option<usize>,
) -> Result<(Config, Option<String>), UsageError> {
    // The parser says `malformed --database-url …`; the text may have come from the variable.
    let redacted = taskd::binary::redacted_database_url(url).map_err(|why| {
        UsageError(match why.strip_prefix("malformed --database-url ") {
            Some(rest) => format!("malformed {source} {rest}"),
            None => why,
        })
    })?;
    let mut config = config.with_database_url(url);
    if let Some(pool) = pool {
        config = config.with_database_pool(pool);
    }
    Ok((config, Some(redacted)))
}

#[cfg(not(feature = "postgres"))]
fn with_database(
    _config: Config,
    _source: &str,
    _url: &str,
    _pool: Option<usize>,
) -> Result<(Config, Option<String>), UsageError> {
    Err(UsageError(
        "--database-url: this taskd was built without PostgreSQL (the `postgres` feature)"
            .to_owned(),
    ))
}

fn non_empty(text: &str) -> Result<String, &'static str> {
    if text.is_empty() {
        return Err("expected a directory");
    }
    Ok(text.to_owned())
}

/// CORS origins: every `--cors-origin`, and the variable's comma-separated list as well.
fn with_cors(config: Config, given: &Given, env: &Environment) -> Result<Config, UsageError> {
    let flag = flags::find("--cors-origin").expect("--cors-origin is in the table");
    let from_flags = given.values.get(flag.name).map_or(&[][..], Vec::as_slice);
    let config = config
        .with_cors_origins(from_flags)
        .map_err(|why| UsageError(format!("{} {why}", flag.name)))?;
    let Some(var) = flag.env else {
        return Ok(config);
    };
    let listed = env.get(var)?.unwrap_or_default();
    config
        .with_cors_origins(split_origins(&listed))
        .map_err(|why| UsageError(format!("{var} {why}")))
}

/// The token's source: a file (the flag, else its variable) wins over `TASKD_TOKEN`. An empty
/// `TASKD_TOKEN` is refused rather than taken as "no token": whoever set it meant to protect
/// the server.
fn token(given: &Given, env: &Environment) -> Result<Token, UsageError> {
    if let Some((Source(from), path)) = single(given, env, "--token-file")? {
        return Ok(Token::File {
            path: PathBuf::from(path),
            from,
        });
    }
    match env.raw(TOKEN_VAR)? {
        None => Ok(Token::None),
        Some(token) if token.trim().is_empty() => Err(UsageError(format!(
            "{TOKEN_VAR} is set but empty: set the token, or unset the variable"
        ))),
        Some(token) => Ok(Token::Value(token)),
    }
}
