//! One connection to PostgreSQL that a plain thread can use, every wait bounded by a deadline.
//!
//! Why not the blocking `postgres` crate: it is tokio-postgres driven by a private runtime with
//! no way to bound a statement. A peer that acknowledges but never answers (a frozen proxy, a
//! stopped VM behind a live NAT) is not caught by TCP keepalives or the TCP user timeout, since
//! every segment is acknowledged; only a timer on the client can end the wait. So this is the
//! same construction, made by hand: each connection owns a current-thread tokio runtime (no
//! threads of its own: it runs only inside `block_on`, on the caller's thread), and every
//! connect and statement is raced against the time left until the request's [`Deadline`].
//! A connection that timed out or broke is marked broken and never reused: what it was in the
//! middle of is unknown. What a timed-out one was running is cancelled on the server
//! ([`Canceller`]), so a request answered 503 does not go on changing data afterwards.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::time::Sleep;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::cancel::Canceller;
use super::error::PgError;
use super::options::ConnectOptions;
use super::tls;

/// The instant by which all the database work of one request must be done (CONTRACT §14).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline(Instant);

impl Deadline {
    /// `limit` from now.
    pub(crate) fn after(limit: Duration) -> Deadline {
        Deadline(Instant::now() + limit)
    }

    /// The time left, or `None` once it has passed.
    pub(crate) fn remaining(self) -> Option<Duration> {
        self.0
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
    }

    pub(crate) fn instant(self) -> Instant {
        self.0
    }
}

/// When the database last answered any statement on any connection: `/healthz` is healthy
/// while that is under a second ago, without a query of its own.
#[derive(Debug)]
pub(crate) struct AnswerClock {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last answer, plus one (0: never).
    last: AtomicU64,
}

impl AnswerClock {
    fn new() -> AnswerClock {
        AnswerClock {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn record(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        self.last.fetch_max(now, Ordering::Relaxed);
    }

    /// True when the last answer came within `window` of now.
    pub(crate) fn answered_within(&self, window: Duration) -> bool {
        match self.last.load(Ordering::Relaxed) {
            0 => false,
            last => {
                self.epoch
                    .elapsed()
                    .as_millis()
                    .saturating_sub(u128::from(last - 1))
                    < window.as_millis()
            }
        }
    }
}

/// Opens connections: the parsed options, the TLS connector, and the shared answer clock.
pub(crate) struct Connector {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    target: String,
    pub(crate) clock: Arc<AnswerClock>,
}

impl Connector {
    /// Builds the client configuration and TLS; a bad `sslrootcert` is an error here.
    pub(crate) fn new(options: &ConnectOptions) -> Result<Connector, PgError> {
        Ok(Connector {
            config: options.client_config(),
            tls: tls::connector(options).map_err(PgError::Refused)?,
            target: options.target(),
            clock: Arc::new(AnswerClock::new()),
        })
    }

    /// `host:port`, for messages.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// A new connection, TCP and TLS and authentication all done before `deadline`.
    pub(crate) fn connect(&self, deadline: Deadline) -> Result<PgConn, PgError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| {
                PgError::Unavailable(format!(
                    "database at {}: cannot start a client runtime: {e}",
                    self.target
                ))
            })?;
        let timed_out = || {
            PgError::Unavailable(format!(
                "database at {}: no answer within the deadline while connecting",
                self.target
            ))
        };
        let left = deadline.remaining().ok_or_else(timed_out)?;
        let connecting = self.config.connect(self.tls.clone());
        let (client, connection) =
            match runtime.block_on(async { tokio::time::timeout(left, connecting).await }) {
                Ok(Ok(pair)) => pair,
                Ok(Err(error)) => return Err(PgError::from_client(error, &self.target).0),
                Err(_) => return Err(timed_out()),
            };
        // The connection task reads the socket; it runs whenever this runtime is driven.
        runtime.spawn(connection);
        self.clock.record();
        let canceller = Canceller::new(client.cancel_token(), self.tls.clone());
        let timer = {
            let _inside = runtime.enter();
            Box::pin(tokio::time::sleep_until(deadline.instant().into()))
        };
        Ok(PgConn {
            runtime,
            timer: RefCell::new(timer),
            canceller,
            client,
            statements: HashMap::new(),
            broken: false,
            target: self.target.clone(),
            clock: self.clock.clone(),
        })
    }
}

/// One open connection.
pub(crate) struct PgConn {
    runtime: Runtime,
    /// The deadline timer, re-armed for each statement rather than made anew: a new timer
    /// earlier than any armed one makes tokio wake its own driver (an eventfd write per
    /// statement), while moving this one later only records the new instant.
    timer: RefCell<Pin<Box<Sleep>>>,
    canceller: Canceller,
    client: Client,
    /// Statements prepared on this connection, by their text: one round trip per use after
    /// the first, as `pgbench -M prepared` does.
    statements: HashMap<&'static str, Statement>,
    broken: bool,
    target: String,
    clock: Arc<AnswerClock>,
}

impl PgConn {
    /// Runs `sql` (prepared once per connection) and returns its rows.
    pub(crate) fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        deadline: Deadline,
    ) -> Result<Vec<Row>, PgError> {
        let statement = self.prepared(sql, deadline)?;
        let outcome = self.drive(deadline, self.client.query(&statement, params));
        self.mark_if_broken(outcome)
    }

    /// Runs `sql` (prepared once per connection) and returns the number of rows it changed.
    pub(crate) fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        deadline: Deadline,
    ) -> Result<u64, PgError> {
        let statement = self.prepared(sql, deadline)?;
        let outcome = self.drive(deadline, self.client.execute(&statement, params));
        self.mark_if_broken(outcome)
    }

    /// Runs `sql`, a `COPY … FROM STDIN (FORMAT binary)` of columns of `types`, with each row
    /// `next_row` makes until it makes `None`; the number of rows copied. The rows stream to
    /// the server back to back: a statement per row waits for the server's answer before the
    /// next is sent, and on a busy host those waits (the server and then taskd woken for each
    /// row), not the server's work, were most of a large upload's time. A row that cannot be
    /// made ends the copy with `CopyFail`, so the statement, and the transaction, fail.
    pub(crate) fn copy_in_binary(
        &mut self,
        sql: &'static str,
        types: &[Type],
        mut next_row: impl FnMut() -> Result<Option<Vec<Box<dyn ToSql + Sync + Send>>>, PgError>,
        deadline: Deadline,
    ) -> Result<u64, PgError> {
        let statement = self.prepared(sql, deadline)?;
        let client = &self.client;
        let copy = async {
            let sink = client.copy_in::<_, bytes::Bytes>(&statement).await?;
            let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, types));
            loop {
                let row = match next_row() {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    // Dropping the writer unfinished sends CopyFail.
                    Err(error) => return Ok(Err(error)),
                };
                let values: Vec<&(dyn ToSql + Sync)> = row
                    .iter()
                    .map(|value| value.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                writer.as_mut().write(&values).await?;
            }
            writer.as_mut().finish().await.map(Ok)
        };
        let outcome = self.drive(deadline, copy);
        self.mark_if_broken(outcome)?
    }

    /// Runs statements without parameters through the simple-query protocol (one round trip
    /// for several `;`-separated statements): transaction control, migrations.
    pub(crate) fn batch(&mut self, sql: &str, deadline: Deadline) -> Result<(), PgError> {
        let outcome = self.drive(deadline, self.client.batch_execute(sql));
        self.mark_if_broken(outcome)
    }

    /// Runs `body` inside `BEGIN <begin>` … `COMMIT`, rolling back when it fails. `begin` is
    /// e.g. `""` or `"ISOLATION LEVEL REPEATABLE READ"`. A failed COMMIT is an error: the
    /// caller must not acknowledge the change (it may or may not have happened).
    pub(crate) fn transaction<T>(
        &mut self,
        begin: &str,
        deadline: Deadline,
        body: impl FnOnce(&mut PgConn) -> Result<T, PgError>,
    ) -> Result<T, PgError> {
        self.batch(&format!("BEGIN {begin}"), deadline)?;
        match body(self) {
            Ok(value) => {
                self.batch("COMMIT", deadline)?;
                Ok(value)
            }
            Err(error) => {
                if !self.broken && self.batch("ROLLBACK", deadline).is_err() {
                    self.broken = true;
                }
                Err(error)
            }
        }
    }

    /// False once the connection broke or timed out, or the server closed it. Lets the
    /// connection task read what arrived while it sat idle (an EOF after a server restart)
    /// before answering, so a pool does not hand out a connection that is already dead.
    pub(crate) fn is_usable(&mut self) -> bool {
        if self.broken {
            return false;
        }
        self.runtime.block_on(async {
            for _ in 0..2 {
                tokio::task::yield_now().await;
            }
        });
        !self.client.is_closed()
    }

    /// Whether a statement on it broke or timed out (without asking the server: see
    /// [`PgConn::is_usable`]).
    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the connection as not to be reused.
    pub(crate) fn mark_broken(&mut self) {
        self.broken = true;
    }

    fn prepared(&mut self, sql: &'static str, deadline: Deadline) -> Result<Statement, PgError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let outcome = self.drive(deadline, self.client.prepare(sql));
        let statement = self.mark_if_broken(outcome)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    /// Marks the connection broken when the failure left it unusable.
    /// [`drive`] on this connection's runtime, naming its target.
    fn drive<T>(
        &self,
        deadline: Deadline,
        work: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, (PgError, bool)> {
        drive(
            &self.runtime,
            &mut self.timer.borrow_mut(),
            &self.canceller,
            &self.clock,
            &self.target,
            deadline,
            work,
        )
    }

    fn mark_if_broken<T>(&mut self, outcome: Result<T, (PgError, bool)>) -> Result<T, PgError> {
        outcome.map_err(|(error, usable)| {
            self.broken |= !usable;
            error
        })
    }
}

/// Drives `work` on a connection's runtime until it ends or the deadline passes. The error
/// comes with whether the connection can still be used (not after a timeout: what the server
/// is doing then is unknown).
fn drive<T>(
    runtime: &Runtime,
    timer: &mut Pin<Box<Sleep>>,
    canceller: &Canceller,
    clock: &AnswerClock,
    target: &str,
    deadline: Deadline,
    work: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, (PgError, bool)> {
    let timed_out = || {
        (
            PgError::Unavailable(format!(
                "database at {target}: no answer within the deadline"
            )),
            false,
        )
    };
    deadline.remaining().ok_or_else(timed_out)?;
    timer.as_mut().reset(deadline.instant().into());
    let outcome = runtime.block_on(async {
        let mut work = pin!(work);
        poll_fn(|cx| match work.as_mut().poll(cx) {
            Poll::Ready(outcome) => Poll::Ready(Some(outcome)),
            Poll::Pending => timer.as_mut().poll(cx).map(|()| None),
        })
        .await
    });
    match outcome {
        Some(Ok(value)) => {
            clock.record();
            Ok(value)
        }
        Some(Err(error)) => Err(PgError::from_client(error, target)),
        None => {
            canceller.cancel_in_background();
            Err(timed_out())
        }
    }
}
