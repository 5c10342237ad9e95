//! The HTTP load of the `postgres` scenario (issue 17's figures): `wrk -t2 -c32` for taskd, as
//! the issue names it, run as a child process with its output parsed (pgbench, for the database
//! alone, is in `pgbench.rs`). Where wrk is missing, the bench's own closed-loop generator (`load.rs`) takes
//! its place with the same 2 threads and 32 connections, and every row says so.
//!
//! One round may drive several taskd instances at once: the threads and connections are split
//! between them (one wrk per instance), and their rates are summed.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::load::{self, Load};
use crate::scripts::{Create, Get};

/// What the HTTP load asks for.
#[derive(Clone)]
pub enum Work {
    /// `GET /tasks/{id}` of a random one of ids 1..=N.
    RandomGet(u64),
    /// `POST /tasks`, every title unique: `PREFIX-THREAD-COUNTER`.
    Create(String),
    /// `GET TARGET`, always the same one, answered 200.
    Fixed(String),
}

/// One measured round.
#[derive(Clone, Copy, Debug, Default)]
pub struct Round {
    pub rate: f64,
    /// p50 and p99 in microseconds (pgbench: the average, twice); NaN when unknown.
    pub p50_us: f64,
    pub p99_us: f64,
    /// Answers that were not 2xx/3xx, socket errors, failed transactions.
    pub errors: u64,
    /// Of `errors`, requests that wrk gave up on after its 2 s timeout (no answer yet).
    pub timeouts: u64,
}

impl Round {
    /// Nothing measured yet: no rate, latencies unknown (NaN), no errors.
    pub fn unmeasured() -> Round {
        Round {
            p50_us: f64::NAN,
            p99_us: f64::NAN,
            ..Round::default()
        }
    }
}

/// The HTTP load generator: wrk when installed, else the bench's own.
pub struct Http {
    wrk: Option<PathBuf>,
    scripts: PathBuf,
    pub threads: usize,
    pub connections: usize,
}

impl Http {
    /// Finds wrk on `PATH` and writes its Lua scripts into `scripts` (a folder of the run).
    pub fn new(scripts: &Path, threads: usize, connections: usize) -> io::Result<Http> {
        let wrk = find_on_path("wrk");
        if wrk.is_some() {
            std::fs::write(scripts.join("get.lua"), GET_LUA)?;
            std::fs::write(scripts.join("create.lua"), CREATE_LUA)?;
        }
        Ok(Http {
            wrk,
            scripts: scripts.to_path_buf(),
            threads,
            connections,
        })
    }

    /// `wrk -t2 -c32`, or what replaces it.
    pub fn name(&self) -> String {
        match self.wrk {
            Some(_) => format!("wrk -t{} -c{}", self.threads, self.connections),
            None => format!(
                "bench's own generator, {} threads, {} connections (wrk not installed)",
                self.threads, self.connections
            ),
        }
    }

    /// Drives every server in `addrs` at once for `seconds`, the threads and connections split
    /// between them, and sums their rates (latencies: the worst server's).
    pub fn run(&self, addrs: &[SocketAddr], work: &Work, seconds: u64) -> io::Result<Round> {
        let share = addrs.len().max(1);
        let threads = (self.threads / share).max(1);
        let connections = (self.connections / share).max(threads);
        let rounds: Vec<io::Result<Round>> = std::thread::scope(|scope| {
            let runs: Vec<_> = addrs
                .iter()
                .enumerate()
                .map(|(index, &addr)| {
                    let work = match work {
                        Work::Create(prefix) => Work::Create(format!("{prefix}i{index}")),
                        other => other.clone(),
                    };
                    scope.spawn(move || match &self.wrk {
                        Some(wrk) => self.wrk(wrk, addr, &work, threads, connections, seconds),
                        None => own(addr, &work, threads, connections, seconds),
                    })
                })
                .collect();
            runs.into_iter()
                .map(|run| {
                    run.join()
                        .unwrap_or_else(|_| Err(io::Error::other("a load thread panicked")))
                })
                .collect()
        });
        let mut total = Round::default();
        for round in rounds {
            let round = round?;
            total.rate += round.rate;
            total.errors += round.errors;
            total.timeouts += round.timeouts;
            total.p50_us = total.p50_us.max(round.p50_us);
            total.p99_us = total.p99_us.max(round.p99_us);
        }
        Ok(total)
    }

    fn wrk(
        &self,
        wrk: &Path,
        addr: SocketAddr,
        work: &Work,
        threads: usize,
        connections: usize,
        seconds: u64,
    ) -> io::Result<Round> {
        let mut command = Command::new(wrk);
        command.args([
            format!("-t{threads}"),
            format!("-c{connections}"),
            format!("-d{seconds}s"),
            "--latency".to_owned(),
        ]);
        match work {
            Work::RandomGet(count) => {
                command.arg("-s").arg(self.scripts.join("get.lua"));
                command.arg(format!("http://{addr}/tasks/"));
                command.args(["--", &count.to_string()]);
            }
            Work::Create(prefix) => {
                command.arg("-s").arg(self.scripts.join("create.lua"));
                command.arg(format!("http://{addr}/tasks"));
                command.args(["--", prefix]);
            }
            Work::Fixed(target) => {
                command.arg(format!("http://{addr}{target}"));
            }
        }
        let output = command.stdin(Stdio::null()).output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "wrk failed: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        parse_wrk(&text).ok_or_else(|| io::Error::other(format!("unexpected wrk output: {text}")))
    }
}

/// `GET /tasks/{random id}`; each wrk thread seeds its own generator.
const GET_LUA: &str = r#"-- GET /tasks/{id} of a random one of ids 1..N (N: the first script argument)
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init(args) count = tonumber(args[1]); math.randomseed(os.time() * 100 + id) end
function request() return wrk.format("GET", "/tasks/" .. math.random(1, count)) end
"#;

/// `POST /tasks` with a unique title: the prefix (first script argument), the thread, a counter.
const CREATE_LUA: &str = r#"-- POST /tasks, every title unique: PREFIX-THREAD-COUNTER
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init(args) prefix = args[1]; counter = 0 end
function request()
  counter = counter + 1
  local body = string.format('{"title":"%s-%d-%d"}', prefix, id, counter)
  return wrk.format("POST", "/tasks", {["Content-Type"] = "application/json"}, body)
end
"#;

/// The rate, p50, p99 and errors of wrk's report (with `--latency`).
fn parse_wrk(text: &str) -> Option<Round> {
    let mut round = Round::unmeasured();
    let mut rate = None;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value] => rate = value.parse().ok(),
            ["50%", value] => round.p50_us = micros(value)?,
            ["99%", value] => round.p99_us = micros(value)?,
            ["Non-2xx", "or", "3xx", "responses:", n] => round.errors += n.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 0"
                for pair in rest.chunks(2) {
                    let count: u64 = pair.get(1)?.trim_end_matches(',').parse().ok()?;
                    round.errors += count;
                    if pair[0] == "timeout" {
                        round.timeouts += count;
                    }
                }
            }
            _ => {}
        }
    }
    round.rate = rate?;
    Some(round)
}

/// `512.00us`, `1.23ms`, `2.00s` in microseconds.
fn micros(value: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = value.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1e6)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// The bench's own generator in wrk's place.
fn own(
    addr: SocketAddr,
    work: &Work,
    threads: usize,
    connections: usize,
    seconds: u64,
) -> io::Result<Round> {
    let shape = Load {
        addr,
        threads,
        connections,
        warmup: Duration::ZERO,
        duration: Duration::from_secs(seconds),
        pin: None,
        server_pid: None,
    };
    let stats = match work {
        Work::RandomGet(count) => {
            // 4096 ids drawn once (a fixed-seed LCG), cycled through by every connection.
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            let targets = (0..4096).map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                format!("/tasks/{}", (state >> 33) % count + 1)
            });
            let requests = Get::requests("bench", targets);
            load::run(shape, |i| Get::new(requests.clone(), i))?
        }
        Work::Create(prefix) => {
            load::run(shape, |i| Create::new("bench", &format!("{prefix}-{i}")))?
        }
        Work::Fixed(target) => {
            let requests = Get::requests("bench", [target.clone()].into_iter());
            load::run(shape, |i| Get::new(requests.clone(), i))?
        }
    };
    Ok(Round {
        rate: stats.rate(),
        p50_us: stats.percentile_us(0.5),
        p99_us: stats.percentile_us(0.99),
        errors: stats.errors,
        timeouts: 0,
    })
}

pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrk_report_is_read() {
        let wrk = "Running 5s test @ http://127.0.0.1:1/tasks/\n  2 threads and 32 connections\n\
                   \x20 Latency Distribution\n     50%  512.00us\n     99%    2.10ms\n\
                   \x20 Non-2xx or 3xx responses: 3\n\
                   \x20 Socket errors: connect 0, read 1, write 0, timeout 2\n\
                   Requests/sec:  41234.56\n";
        let round = parse_wrk(wrk).expect("parsed");
        assert_eq!(
            (round.rate, round.p50_us, round.p99_us),
            (41234.56, 512.0, 2100.0)
        );
        assert_eq!((round.errors, round.timeouts), (6, 2));
    }
}
