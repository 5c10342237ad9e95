//! Start-up on PostgreSQL (CONTRACT §14): connect, retrying for 30 s while the database cannot
//! be reached yet, stop at once when it refuses us, then make the schema usable. What a
//! backend needs afterwards is a [`Database`]: the pool and the health probe.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::conn::{Connector, Deadline, PgConn};
use super::error::PgError;
use super::options::{ConnectOptions, REQUEST_DEADLINE};
use super::pool::{Health, Pool};
use super::schema;

/// How long start-up waits for a database that cannot be reached yet.
pub(crate) const START_RETRY: Duration = Duration::from_secs(30);

/// A database ready for requests.
pub(crate) struct Database {
    pub(crate) pool: Pool,
    pub(crate) health: Health,
}

/// Connects (retrying for up to `retry_for`), prepares the schema, and builds the pool of
/// `pool_size` connections. The error is one line for `main` to print before exiting 1.
pub(crate) fn open(
    options: &ConnectOptions,
    pool_size: usize,
    retry_for: Duration,
) -> Result<Database, PgError> {
    let connector = Arc::new(Connector::new(options)?);
    let mut conn = connect_with_retry(&connector, retry_for)?;
    schema::prepare(&mut conn)?;
    let pool = Pool::new(connector.clone(), pool_size);
    pool.adopt(conn);
    Ok(Database {
        pool,
        health: Health::new(connector),
    })
}

/// One connection; `Unavailable` errors are retried until `retry_for` has passed, then the
/// last one is returned with how long it was tried.
pub(crate) fn connect_with_retry(
    connector: &Connector,
    retry_for: Duration,
) -> Result<PgConn, PgError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        match connector.connect(Deadline::after(REQUEST_DEADLINE)) {
            Err(PgError::Unavailable(_)) if started.elapsed() < retry_for => {
                thread::sleep(pause.min(retry_for.saturating_sub(started.elapsed())));
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(PgError::Unavailable(reason)) => {
                return Err(PgError::Unavailable(format!(
                    "{reason} (gave up after {} s)",
                    started.elapsed().as_secs()
                )));
            }
            other => return other,
        }
    }
}
