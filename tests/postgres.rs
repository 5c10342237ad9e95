//! Several instances on one PostgreSQL database (CONTRACT §14, issue 17), over real HTTP against
//! real `taskd` servers and a real PostgreSQL: the throwaway cluster of `tests/pg_support`,
//! started once per test run (one database per test), and private clusters for the
//! tests that stop PostgreSQL. A module per job:
//! - [`two_instances`]: what one instance changes the other answers; one precondition sent to
//!   two instances at once lets one change through; byte-exact titles and filenames;
//! - [`health`]: `/healthz` and the 5 s deadline while the database is stopped or silent;
//! - [`busy`]: `/healthz` while every pooled connection waits on a lock, and no work of a
//!   request left running past its 503;
//! - [`durability`]: `kill -9` of an instance and `pg_ctl -m immediate`, each mid-load, judged
//!   by the ledger of [`load`];
//! - [`start`]: the start line and a wrong password, through the binary.
//!
//! With `TASKD_SKIP_POSTGRES=1` these tests pass without running; where PostgreSQL is missing
//! they fail, saying to install it.
#![cfg(feature = "postgres")]

mod busy;
mod durability;
mod health;
mod load;
mod start;
mod two_instances;

use std::thread;
use std::time::{Duration, Instant};

/// Polls `check` every 100 ms until it holds or `within` passed.
fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if check() {
            return true;
        }
        thread::sleep(Duration::from_millis(100));
    }
    check()
}
