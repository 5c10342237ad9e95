//! What can go wrong with the database, sorted by what the caller does about it: answer 503 (or
//! retry at start), stop at start, or map a statement's error (a unique title → 409).
//! No variant ever holds the password: messages come from the server or name `host:port`.

use std::borrow::Cow;
use std::fmt;
use std::io;

use tokio_postgres::error::SqlState;

/// A database failure.
#[derive(Debug)]
pub(crate) enum PgError {
    /// The database cannot be reached or did not answer in time (refused, not resolved,
    /// starting up, a silent network, a broken connection, a busy pool past the deadline):
    /// 503 to a request, retried for 30 s at start. The text names `host:port` and the reason.
    Unavailable(String),
    /// The server answered but will not serve us (wrong password, missing database, not a
    /// PostgreSQL server, a certificate that does not check): exit 1 at start, at once.
    Refused(String),
    /// The schema cannot be used: newer than this binary, a database not in UTF8, a missing
    /// privilege to create it.
    Schema(String),
    /// A statement failed on a working connection (a constraint, a privilege, a bug).
    Statement {
        code: Option<SqlState>,
        message: String,
    },
}

impl PgError {
    /// True for a unique-index violation: the title (or id) is taken.
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, PgError::Statement { code: Some(code), .. } if *code == SqlState::UNIQUE_VIOLATION)
    }

    /// True when the answer is 503 (CONTRACT §14), and at start, when to try again.
    pub(crate) fn is_unavailable(&self) -> bool {
        matches!(self, PgError::Unavailable(_))
    }

    /// Sorts an error of the client library. `target` is `host:port`, for the message.
    /// Returns the error and whether the connection it came from can still be used.
    pub(crate) fn from_client(error: tokio_postgres::Error, target: &str) -> (PgError, bool) {
        if let Some(db) = error.as_db_error() {
            let code = db.code();
            let class = &code.code()[..2];
            // Class 08 (connection exception), 57P01-03 (shutdown, crash, starting up) and
            // 53300 (too many connections) pass; a later try may work.
            let passing = class == "08"
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::TOO_MANY_CONNECTIONS,
                ]
                .contains(code);
            if passing {
                return (
                    PgError::Unavailable(format!("database at {target}: {}", db.message())),
                    false,
                );
            }
            // 57014: the server's statement_timeout fired; the database is too slow to answer
            // within the deadline, and the connection is still good.
            if *code == SqlState::QUERY_CANCELED {
                return (
                    PgError::Unavailable(format!("database at {target}: {}", db.message())),
                    !error.is_closed(),
                );
            }
            // 28xxx (authentication) and 3D000 (no such database) come only while connecting.
            if class == "28" || *code == SqlState::INVALID_CATALOG_NAME {
                return (
                    PgError::Refused(format!("database at {target}: {}", db.message())),
                    false,
                );
            }
            let message = db.message().to_owned();
            return (
                PgError::Statement {
                    code: Some(code.clone()),
                    message,
                },
                !error.is_closed(),
            );
        }
        if error.is_closed() {
            return (
                PgError::Unavailable(format!("database at {target}: connection closed")),
                false,
            );
        }
        // tokio-util's framing reports "bytes remaining on stream" when the peer closed
        // after sending something that is no PostgreSQL message (an HTTP server's 400).
        let garbled = chain(&error).contains("bytes remaining on stream");
        match io_kind(&error) {
            Some(kind) if kind != io::ErrorKind::InvalidData && !garbled => (
                PgError::Unavailable(format!("database at {target}: {}", chain(&error))),
                false,
            ),
            _ => {
                let text = chain(&error);
                let reason = if garbled
                    || text.contains("unexpected message")
                    || text.contains("error parsing")
                {
                    format!("the server at {target} is not PostgreSQL ({text})")
                } else {
                    format!("database at {target}: {text}")
                };
                (PgError::Refused(reason), false)
            }
        }
    }
}

/// The kind of the I/O error behind a client error, if one is behind it.
fn io_kind(error: &tokio_postgres::Error) -> Option<io::ErrorKind> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        source = cause.source();
    }
    None
}

/// The error and its causes on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::Unavailable(text) | PgError::Refused(text) | PgError::Schema(text) => {
                f.write_str(&one_line(text))
            }
            PgError::Statement {
                code: Some(code),
                message,
            } => write!(f, "database error {}: {}", code.code(), one_line(message)),
            PgError::Statement {
                code: None,
                message,
            } => write!(f, "database error: {}", one_line(message)),
        }
    }
}

/// `text` on one line, as every error and log line of taskd is: control characters (a newline
/// in a `key=value` text, or in a database name that the server's message repeats; an escape
/// sequence) written as Rust escapes (`\n`, `\u{1b}`), everything else as it is.
pub(crate) fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut line = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c.is_control() {
            true => line.extend(c.escape_default()),
            false => line.push(c),
        }
    }
    Cow::Owned(line)
}

impl std::error::Error for PgError {}
