//! The rounds of the `postgres` scenario: lanes (pgbench on a database, or HTTP load on one or
//! more taskd instances) measured in turn, round after round, each round starting at the next
//! lane so that none always follows the same one. Nothing is pinned: the database, taskd and
//! the load share the machine's cores, so each round also records the CPU that taskd used and
//! how busy the whole machine was (`/proc/stat`), which says what limited it.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use crate::cpu;
use crate::drivers::{Http, Round, Work};
use crate::pgbench::Pgbench;
use crate::report::{median, spread, Row, Table};

/// What one lane drives.
pub enum Drive {
    /// pgbench with `script` on `database`.
    Pgbench { script: PathBuf, database: String },
    /// HTTP load on every address at once; `pids` are the instances' processes.
    Http {
        addrs: Vec<SocketAddr>,
        pids: Vec<u32>,
        work: Work,
    },
}

/// One lane of a figure.
pub struct Lane {
    pub label: String,
    pub drive: Drive,
}

/// The load generators and the cluster they run against.
pub struct Racer<'a> {
    pub http: &'a Http,
    pub pgbench: &'a Pgbench,
    pub port: u16,
    pub password: &'a str,
    pub seconds: u64,
    pub warmup: u64,
    pub rounds: usize,
}

/// One round of one lane, with the CPU it used.
#[derive(Clone, Copy)]
pub struct Measured {
    pub round: Round,
    /// taskd's CPU (all its instances), % of one core; `None` for pgbench.
    pub taskd_cpu: Option<f64>,
    /// The whole machine's busy time, % of one core (200%: both cores of two busy).
    pub machine_cpu: f64,
}

/// A lane's rounds.
pub struct Outcome {
    pub label: String,
    pub rounds: Vec<Measured>,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        median(&self.rates())
    }

    fn rates(&self) -> Vec<f64> {
        self.rounds.iter().map(|m| m.round.rate).collect()
    }

    fn median_round(&self) -> Measured {
        let target = self.rate();
        let at = self.rounds.iter().position(|m| m.round.rate == target);
        self.rounds[at.unwrap_or(0)]
    }
}

impl Racer<'_> {
    /// Warms every lane up once, then measures each once per round, in turn.
    pub fn race(&self, lanes: &[Lane]) -> io::Result<Vec<Outcome>> {
        if self.warmup > 0 {
            for lane in lanes {
                self.once(lane, "w", self.warmup)?;
            }
        }
        let mut outcomes: Vec<Outcome> = lanes
            .iter()
            .map(|lane| Outcome {
                label: lane.label.clone(),
                rounds: Vec::new(),
            })
            .collect();
        for round in 0..self.rounds {
            for turn in 0..lanes.len() {
                let index = (round + turn) % lanes.len();
                let measured = self.once(&lanes[index], &format!("r{round}"), self.seconds)?;
                println!(
                    "  round {}/{} {}: {:.0}/s, {}",
                    round + 1,
                    self.rounds,
                    lanes[index].label,
                    measured.round.rate,
                    cpu_note(&measured)
                );
                outcomes[index].rounds.push(measured);
            }
        }
        Ok(outcomes)
    }

    /// One run of `lane` for `seconds`; `tag` keeps create titles unique across runs.
    fn once(&self, lane: &Lane, tag: &str, seconds: u64) -> io::Result<Measured> {
        let machine_before = machine_ticks()?;
        let started = Instant::now();
        let (round, taskd_cpu) = match &lane.drive {
            Drive::Pgbench { script, database } => {
                let round =
                    self.pgbench
                        .run(self.port, self.password, database, script, seconds)?;
                (round, None)
            }
            Drive::Http { addrs, pids, work } => {
                let work = match work {
                    Work::Create(prefix) => Work::Create(format!("{prefix}{tag}")),
                    other => other.clone(),
                };
                let before = taskd_ticks(pids)?;
                let round = self.http.run(addrs, &work, seconds)?;
                let used = taskd_ticks(pids)?.saturating_sub(before);
                (round, Some(cpu::share(used, started.elapsed())))
            }
        };
        let machine = machine_ticks()?.saturating_sub(machine_before);
        Ok(Measured {
            round,
            taskd_cpu,
            machine_cpu: cpu::share(machine, started.elapsed()),
        })
    }
}

/// One row per lane (its median round), then the first lane's ratio to the second, with the
/// goal when there is one (`goal`: the least ratio that meets it).
pub fn push(name: &str, outcomes: &[Outcome], goal: Option<f64>, table: &mut Table) -> f64 {
    for outcome in outcomes {
        let measured = outcome.median_round();
        let round = measured.round;
        let timeouts = match round.timeouts {
            0 => String::new(),
            n => format!("; {n} of the errors are wrk timeouts (no answer within 2 s)"),
        };
        let note = format!(
            "median of {}, {}; {}{timeouts}",
            outcome.rounds.len(),
            spread(&outcome.rates()),
            cpu_note(&measured)
        );
        let latency = [round.p50_us, round.p99_us];
        table.push(Row::rate(
            name,
            &outcome.label,
            round.rate,
            latency,
            round.errors,
            note,
        ));
    }
    let [first, second, ..] = outcomes else {
        return f64::NAN;
    };
    let ratio = first.rate() / second.rate();
    let verdict = match goal {
        Some(goal) if ratio >= goal => format!(" (goal ≥ {goal}×: met)"),
        Some(goal) => format!(" (goal ≥ {goal}×: NOT MET)"),
        None => String::new(),
    };
    let note = format!("{} / {} = {ratio:.2}×{verdict}", first.label, second.label);
    table.push(Row::note(&format!("{name}: ratio"), "", note));
    ratio
}

fn cpu_note(measured: &Measured) -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let machine = format!(
        "machine busy {:.0}% of {}%",
        measured.machine_cpu,
        cores * 100
    );
    match measured.taskd_cpu {
        Some(taskd) => format!("taskd CPU {taskd:.0}%, {machine}"),
        None => machine,
    }
}

fn taskd_ticks(pids: &[u32]) -> io::Result<u64> {
    pids.iter().map(|&pid| cpu::process_ticks(pid)).sum()
}

/// Busy ticks of all cores so far: the first line of `/proc/stat` without idle and iowait.
fn machine_ticks() -> io::Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("cpu "))
        .ok_or_else(|| io::Error::other("no cpu line in /proc/stat"))?
        .split_whitespace()
        .take(8) // user nice system idle iowait irq softirq steal
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Ok(total - idle)
}
