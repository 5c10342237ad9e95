//! PostgreSQL groundwork for CONTRACT §14 (issue 17), behind the `postgres` feature: the
//! connection options and their redaction, TLS as libpq checks it, connections whose every wait
//! ends at the request's deadline, the pool and the `/healthz` probe, the schema and its
//! migrations, and start-up. The storage backend on top of it comes with the storage trait.
//!
//! # Layout
//! - [`dsn`]: the two text forms of `--database-url` → keyword/value pairs; redaction.
//! - [`options`]: what the keywords mean → the client's `Config`; the timeouts.
//! - [`tls`]: rustls verifiers for `prefer`/`require`/`verify-ca`/`verify-full`.
//! - [`error`]: [`error::PgError`], sorted by what the caller does (503, exit 1, 409).
//! - [`conn`]: one connection driven on the caller's thread, with a deadline per request.
//! - [`pool`]: `--database-pool N` and the health probe's own connection.
//! - [`retire`]: the ten-minute grace period of replaced attachment versions.
//! - [`schema`]: `migrations/*.sql`, applied under an advisory lock; start-up checks.
//! - [`tasks`]: the create with a gapless id, the delete, the O(1) count, as single statements.
//! - [`start`]: connect with retries, prepare the schema, build the pool.

/// `--database-url` as the start line names it (the password redacted), or why it is malformed
/// (one line, the password redacted too).
///
/// # Errors
/// A URL or `key=value` text that cannot be parsed.
pub fn redacted_database_url(text: &str) -> Result<String, String> {
    options::ConnectOptions::from_text(text).map(|options| options.redacted().to_owned())
}

/// `text` with any password in it replaced by `[redacted]`, in either form, whether or not it
/// parses: for a usage error that repeats an argument or a variable which may be a database URL.
/// In an argument `--flag=VALUE`, the value is redacted.
pub fn redact_database_url(text: &str) -> String {
    match text.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => format!("{flag}={}", dsn::redact(value)),
        _ => dsn::redact(text),
    }
}

mod cancel;
pub(crate) mod conn;
pub(crate) mod dsn;
pub(crate) mod error;
pub(crate) mod options;
pub(crate) mod pool;
pub(crate) mod retire;
pub(crate) mod schema;
pub(crate) mod start;
pub(crate) mod tasks;
pub(crate) mod tls;

/// The throwaway PostgreSQL cluster and the fault proxy, shared with the integration tests.
#[cfg(test)]
#[path = "../../tests/pg_support/mod.rs"]
pub(crate) mod test_support;

#[cfg(test)]
mod tests_copy;
#[cfg(test)]
mod tests_pool;
#[cfg(test)]
mod tests_schema;
#[cfg(test)]
mod tests_tls;
