//! From what the arguments and the environment give to [`Options`]: each flag's value taken
//! from the command line or else its `TASKD_*` variable, parsed, and checked against the others
//! (`--database-url` with `--data-dir`, the token's two sources). Every error names where the
//! value came from and never shows a password.

use std::path::PathBuf;

use taskd::binary::split_origins;
use taskd::Config;

use super::flags::{self, Flag, TOKEN_VAR};
use super::{conceal, values, Environment, Given, Options, Token, UsageError};

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
pub(super) fn resolve(given: &Given, env: &Environment) -> Result<Options, UsageError> {
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
