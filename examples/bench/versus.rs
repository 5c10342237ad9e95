//! The rate figures, side by side: every server of a figure runs at once (idle while not
//! measured), and the rounds alternate between them (taskd, peer, taskd, peer, ...), so a change
//! in the machine's load hits all of them alike. A figure is the median round, printed with the
//! spread of the rounds, the CPU shares of that round, and taskd's ratio to each other server.

use std::io;
use std::sync::Arc;

use crate::load::{self, Load, Script, Stats};
use crate::process::ServerProcess;
use crate::report::{median, spread, Row, Table};
use crate::scripts::{populate, Create, Get, Mixed, Upload};

/// One server of a figure.
pub struct Entrant {
    pub label: String,
    pub server: ServerProcess,
    /// Whether it keeps tasks (taskd, axum), as opposed to answering a fixed body
    /// (blocking-hello): only then are tasks created before a GET.
    pub has_store: bool,
}

/// How every figure is measured: the load's shape and the number of rounds.
#[derive(Clone, Copy)]
pub struct Rounds {
    pub load: Load,
    pub count: usize,
}

/// What one server measured over the rounds.
pub struct Outcome {
    pub label: String,
    pub rounds: Vec<Stats>,
}

impl Outcome {
    /// `label`'s outcome before its first round.
    pub fn unmeasured(label: &str) -> Outcome {
        Outcome {
            label: label.to_owned(),
            rounds: Vec::new(),
        }
    }
}

impl Outcome {
    fn rates(&self) -> Vec<f64> {
        self.rounds.iter().map(Stats::rate).collect()
    }

    /// The round with the median rate.
    fn median_round(&self) -> &Stats {
        let target = median(&self.rates());
        let at = self.rounds.iter().position(|stats| stats.rate() == target);
        &self.rounds[at.unwrap_or(0)]
    }

    pub fn rate(&self) -> f64 {
        median(&self.rates())
    }
}

/// `GET /tasks/{id}` over `tasks` tasks created first (one fixed target on a server without a
/// store), then taskd's ratio to each other entrant.
pub fn get(rounds: Rounds, entrants: &[Entrant], tasks: u64, table: &mut Table) -> io::Result<()> {
    let mut requests = Vec::new();
    for entrant in entrants {
        requests.push(if entrant.has_store {
            let prefix = format!("g{}-", std::process::id());
            get_requests(&populate(entrant.server.addr, "bench", &prefix, tasks)?)
        } else {
            Get::requests("bench", ["/tasks/1".to_owned()].into_iter())
        });
    }
    let outcomes = alternate(rounds, entrants, |entrant, _, connection| {
        Get::new(requests[entrant].clone(), connection)
    })?;
    push("GET /tasks/{id}", &outcomes, table);
    Ok(())
}

/// `POST /tasks`, every title unique; returns the outcomes for a ratio of the caller's.
pub fn create(
    rounds: Rounds,
    entrants: &[Entrant],
    name: &str,
    table: &mut Table,
) -> io::Result<Vec<Outcome>> {
    let run = std::process::id();
    let outcomes = alternate(rounds, entrants, |_, round, connection| {
        Create::new("bench", &format!("c{run}-{round}-{connection}"))
    })?;
    push(name, &outcomes, table);
    Ok(outcomes)
}

/// create → GET → DELETE on each connection.
pub fn mixed(rounds: Rounds, entrants: &[Entrant], table: &mut Table) -> io::Result<()> {
    let run = std::process::id();
    let outcomes = alternate(rounds, entrants, |_, round, connection| {
        Mixed::new("bench", &format!("m{run}-{round}-{connection}"))
    })?;
    push("mixed create/get/delete", &outcomes, table);
    Ok(())
}

/// 64 KiB multipart uploads, each connection to its own task.
pub fn upload(rounds: Rounds, entrants: &[Entrant], table: &mut Table) -> io::Result<()> {
    let run = std::process::id();
    let outcomes = alternate(rounds, entrants, |_, round, connection| {
        Upload::new("bench", &format!("u{run}-{round}-{connection}"), 64 << 10)
    })?;
    push_with("64 KiB upload", &outcomes, table, |stats| {
        let mbps = stats.bytes_sent as f64 / stats.elapsed.as_secs_f64() / 1e6;
        format!("{mbps:.0} MB/s; ")
    });
    Ok(())
}

/// Runs `rounds.count` rounds over every entrant in turn; `make(entrant, round, connection)`
/// builds a connection's script. Prints each round as it ends, as progress.
fn alternate<S: Script + 'static>(
    rounds: Rounds,
    entrants: &[Entrant],
    make: impl Fn(usize, usize, usize) -> S,
) -> io::Result<Vec<Outcome>> {
    let mut outcomes: Vec<Outcome> = entrants
        .iter()
        .map(|entrant| Outcome::unmeasured(&entrant.label))
        .collect();
    for round in 0..rounds.count {
        for (index, entrant) in entrants.iter().enumerate() {
            let load = Load {
                addr: entrant.server.addr,
                server_pid: entrant.server.pid(),
                ..rounds.load
            };
            let stats = load::run(load, |connection| make(index, round, connection))?;
            println!(
                "  round {}/{} {}: {:.0} req/s, {}",
                round + 1,
                rounds.count,
                entrant.label,
                stats.rate(),
                stats.cpu_note()
            );
            outcomes[index].rounds.push(stats);
        }
    }
    Ok(outcomes)
}

/// One row per server (its median round), then a row of the first server's ratios to the
/// others.
fn push(name: &str, outcomes: &[Outcome], table: &mut Table) {
    push_with(name, outcomes, table, |_| String::new());
}

/// `push`, with `extra(median round)` at the start of each row's note.
pub fn push_with(
    name: &str,
    outcomes: &[Outcome],
    table: &mut Table,
    extra: impl Fn(&Stats) -> String,
) {
    for outcome in outcomes {
        let stats = outcome.median_round();
        let note = match outcome.rounds.len() {
            1 => format!("{}1 round; {}", extra(stats), stats.cpu_note()),
            n => format!(
                "{}median of {n}, {}; {}",
                extra(stats),
                spread(&outcome.rates()),
                stats.cpu_note()
            ),
        };
        table.push(Row::from_stats(name, &outcome.label, stats, note));
    }
    if let [first, others @ ..] = outcomes {
        if !others.is_empty() {
            let ratios: Vec<String> = others
                .iter()
                .map(|other| {
                    let ratio = first.rate() / other.rate();
                    format!("{} / {} = {ratio:.2}×", first.label, other.label)
                })
                .collect();
            table.push(Row::note(&format!("{name}: ratio"), "", ratios.join(", ")));
        }
    }
}

/// `GET /tasks/{id}` over up to 4096 of `ids`, spread over the whole range.
pub fn get_requests(ids: &[u64]) -> Arc<Vec<Vec<u8>>> {
    let step = (ids.len() / 4096).max(1);
    let targets = ids.iter().step_by(step).map(|id| format!("/tasks/{id}"));
    Get::requests("bench", targets)
}
