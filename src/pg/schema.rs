//! taskd's schema in PostgreSQL: the versioned SQL files under `migrations/`, applied in order
//! in one transaction under an advisory lock, so instances starting together create it once;
//! and the start-up checks of CONTRACT §14 (UTF8, the CREATE privilege, a schema not newer
//! than this binary).

use std::time::Duration;

use super::conn::{Deadline, PgConn};
use super::error::PgError;

/// The schema versions this binary knows, in order: version N is `migrations/000N_*.sql`.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/0002_shown_attachment.sql"),
    ),
];

/// The version this binary writes and expects.
pub(crate) const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The advisory lock that serialises schema changes and `taskd import` across instances:
/// `taskd` in ASCII, so another application's locks are unlikely to collide with it.
pub(crate) const ADVISORY_LOCK_KEY: i64 = 0x74_6173_6b64;

/// How long start-up statements may take: waiting for another instance's migration included.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Makes the schema usable: checks the database, then creates or upgrades the schema if it is
/// older than [`SCHEMA_VERSION`]. Returns the version found before (0: none).
pub(crate) fn prepare(conn: &mut PgConn) -> Result<i32, PgError> {
    let deadline = Deadline::after(START_DEADLINE);
    let row = conn.query(
        "SELECT pg_encoding_to_char(encoding), current_database()::text, current_user::text, \
                has_database_privilege(current_database(), 'CREATE'), \
                current_setting('server_version_num')::int \
         FROM pg_database WHERE datname = current_database()",
        &[],
        deadline,
    )?;
    let row = row.first().ok_or_else(|| {
        PgError::Schema("the current database is missing from pg_database".to_owned())
    })?;
    let (encoding, database, user): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    let (may_create, server_version): (bool, i32) = (row.get(3), row.get(4));
    if server_version < 120_000 {
        return Err(PgError::Schema(format!(
            "database {database} runs PostgreSQL {server_version}, taskd needs 12 or newer"
        )));
    }
    if encoding != "UTF8" {
        return Err(PgError::Schema(format!(
            "database {database} has encoding {encoding}, taskd needs UTF8"
        )));
    }
    let found = current_version(conn, deadline)?;
    check_not_newer(found)?;
    if found == SCHEMA_VERSION {
        return Ok(found);
    }
    if !may_create {
        return Err(PgError::Schema(format!(
            "role {user} lacks the CREATE privilege on database {database}, needed to create or upgrade schema taskd (GRANT CREATE ON DATABASE {database} TO {user})"
        )));
    }
    conn.transaction("", deadline, |conn| {
        // The server's own statement_timeout (5 s, for requests) must not cut a migration, nor
        // the wait for another instance's.
        conn.batch(
            &format!(
                "SET LOCAL statement_timeout = {}",
                START_DEADLINE.as_millis()
            ),
            deadline,
        )?;
        conn.query(
            "SELECT pg_advisory_xact_lock($1)",
            &[&ADVISORY_LOCK_KEY],
            deadline,
        )?;
        conn.batch(
            "CREATE SCHEMA IF NOT EXISTS taskd; \
             CREATE TABLE IF NOT EXISTS taskd.schema_migrations ( \
                 version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            deadline,
        )?;
        // Read again under the lock: another instance may have migrated meanwhile.
        let under_lock = current_version(conn, deadline)?;
        check_not_newer(under_lock)?;
        for (version, sql) in MIGRATIONS
            .iter()
            .filter(|(version, _)| *version > under_lock)
        {
            conn.batch(sql, deadline)
                .map_err(|e| PgError::Schema(format!("applying schema version {version}: {e}")))?;
            conn.execute(
                "INSERT INTO taskd.schema_migrations (version) VALUES ($1)",
                &[version],
                deadline,
            )?;
        }
        Ok(())
    })?;
    Ok(found)
}

/// The schema's version: 0 when taskd's tables are not there yet.
fn current_version(conn: &mut PgConn, deadline: Deadline) -> Result<i32, PgError> {
    let exists = conn.query(
        "SELECT to_regclass('taskd.schema_migrations') IS NOT NULL",
        &[],
        deadline,
    )?;
    if !exists.first().is_some_and(|row| row.get::<_, bool>(0)) {
        return Ok(0);
    }
    let rows = conn.query(
        "SELECT coalesce(max(version), 0) FROM taskd.schema_migrations",
        &[],
        deadline,
    )?;
    Ok(rows.first().map_or(0, |row| row.get(0)))
}

fn check_not_newer(found: i32) -> Result<(), PgError> {
    if found > SCHEMA_VERSION {
        return Err(PgError::Schema(format!(
            "schema taskd is at version {found}, newer than the version {SCHEMA_VERSION} this taskd knows: run a newer taskd"
        )));
    }
    Ok(())
}
