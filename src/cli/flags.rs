//! The table of taskd's flags: each flag's name, what it takes, and the environment variable
//! that sets it when the flag is not given. The parser, the "did you mean" hints and the help's
//! completeness test all read this one table.

use taskd::binary::CORS_ORIGINS_VAR;

/// What a flag takes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// A switch: `--quiet`. Its variable takes `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`.
    Nothing,
    /// One value, given at most once: `--addr 9000` or `--addr=9000`.
    One(&'static str),
    /// One value per use, the flag repeatable: `--cors-origin A --cors-origin B`.
    Many(&'static str),
}

/// One flag of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// `--addr`.
    pub name: &'static str,
    /// The variable read when the flag is absent (for a repeatable flag: added to its values).
    pub env: Option<&'static str>,
    /// What follows the flag.
    pub takes: Takes,
}

impl Flag {
    /// The flag as the help writes it: `--addr HOST:PORT`.
    pub fn synopsis(&self) -> String {
        match self.takes {
            Takes::Nothing => self.name.to_owned(),
            Takes::One(value) | Takes::Many(value) => format!("{} {value}", self.name),
        }
    }
}

const fn flag(name: &'static str, env: Option<&'static str>, takes: Takes) -> Flag {
    Flag { name, env, takes }
}

/// Every flag but `--help` and `--version` (which end parsing at once).
pub const FLAGS: &[Flag] = &[
    flag("--addr", Some("TASKD_ADDR"), Takes::One("HOST:PORT")),
    flag(
        "--max-upload-bytes",
        Some("TASKD_MAX_UPLOAD_BYTES"),
        Takes::One("N"),
    ),
    flag("--token-file", Some("TASKD_TOKEN_FILE"), Takes::One("PATH")),
    flag("--data-dir", Some("TASKD_DATA_DIR"), Takes::One("DIR")),
    flag(
        "--database-url",
        Some("TASKD_DATABASE_URL"),
        Takes::One("URL"),
    ),
    flag(
        "--database-pool",
        Some("TASKD_DATABASE_POOL"),
        Takes::One("N"),
    ),
    flag(
        "--request-timeout",
        Some("TASKD_REQUEST_TIMEOUT"),
        Takes::One("SECONDS"),
    ),
    flag(
        "--io-timeout",
        Some("TASKD_IO_TIMEOUT"),
        Takes::One("SECONDS"),
    ),
    flag(
        "--keep-alive-timeout",
        Some("TASKD_KEEP_ALIVE_TIMEOUT"),
        Takes::One("SECONDS"),
    ),
    flag(
        "--max-connections",
        Some("TASKD_MAX_CONNECTIONS"),
        Takes::One("N"),
    ),
    flag(
        "--cors-origin",
        Some(CORS_ORIGINS_VAR),
        Takes::Many("ORIGIN"),
    ),
    flag("--trace", Some("TASKD_TRACE"), Takes::Nothing),
    flag("--quiet", Some("TASKD_QUIET"), Takes::Nothing),
    // Deprecated and ignored (issue 11): accepted so old unit files keep working, no variable.
    flag("--workers", None, Takes::One("N")),
];

/// `TASKD_TOKEN`: the token itself, beside `--token-file` / `TASKD_TOKEN_FILE` (which win).
pub const TOKEN_VAR: &str = "TASKD_TOKEN";

/// The flag named `name` (`--addr`), if there is one.
pub fn find(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|flag| flag.name == name)
}
