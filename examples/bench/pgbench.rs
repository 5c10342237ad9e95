//! `pgbench` for the database alone in the `postgres` scenario: found next to PostgreSQL's other
//! programs, run as a child process against the bench's cluster, its report parsed.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::drivers::{find_on_path, Round};

/// `pgbench -n -M prepared -c CLIENTS -j THREADS -T SECONDS -f SCRIPT` on `url`'s database.
pub struct Pgbench {
    pub program: PathBuf,
    pub clients: usize,
    pub threads: usize,
}

impl Pgbench {
    /// pgbench next to `initdb` (`pg_config --bindir`, `/usr/lib/postgresql/*/bin`) or on `PATH`.
    pub fn find() -> Option<Pgbench> {
        let program = server_bindirs()
            .into_iter()
            .map(|bin| bin.join("pgbench"))
            .find(|path| path.is_file())
            .or_else(|| find_on_path("pgbench"))?;
        Some(Pgbench {
            program,
            clients: 16,
            threads: 2,
        })
    }

    /// The command line as it is run, for the table (without the connection).
    pub fn command_line(&self, script: &Path, seconds: u64) -> String {
        format!(
            "pgbench -n -M prepared -c {} -j {} -T {seconds} -f {}",
            self.clients,
            self.threads,
            script
                .file_name()
                .map_or("?".into(), |n| n.to_string_lossy())
        )
    }

    /// Runs `script` against database `database` of the cluster at `port`.
    pub fn run(
        &self,
        port: u16,
        password: &str,
        database: &str,
        script: &Path,
        seconds: u64,
    ) -> io::Result<Round> {
        let output = Command::new(&self.program)
            .args(["-n", "-M", "prepared", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &port.to_string()])
            .args([
                "-c",
                &self.clients.to_string(),
                "-j",
                &self.threads.to_string(),
            ])
            .args(["-T", &seconds.to_string(), "-f"])
            .arg(script)
            .arg(database)
            .env("PGPASSWORD", password)
            .stdin(Stdio::null())
            .output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "pgbench failed: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        parse_pgbench(&text)
            .ok_or_else(|| io::Error::other(format!("unexpected pgbench output: {text}")))
    }
}

/// `tps = 1234.5 (without initial connection time)`, `latency average = 0.8 ms`, and
/// `number of failed transactions: 0 (0.000%)` (PostgreSQL 15 and later).
fn parse_pgbench(text: &str) -> Option<Round> {
    let mut round = Round::unmeasured();
    let mut rate = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("tps = ") {
            rate = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(rest) = line.strip_prefix("latency average = ") {
            let ms: Option<f64> = rest.split_whitespace().next().and_then(|n| n.parse().ok());
            round.p50_us = ms.map_or(f64::NAN, |ms| ms * 1e3);
            round.p99_us = round.p50_us;
        } else if let Some(rest) = line.strip_prefix("number of failed transactions: ") {
            round.errors = rest.split_whitespace().next()?.parse().ok()?;
        }
    }
    round.rate = rate?;
    Some(round)
}

/// Where PostgreSQL's programs may be, as the test cluster looks for them: `pg_config
/// --bindir`, then `/usr/lib/postgresql/*/bin`, newest first.
fn server_bindirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        if output.status.success() {
            dirs.push(PathBuf::from(
                String::from_utf8_lossy(&output.stdout).trim(),
            ));
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    dirs.extend(versions.into_iter().rev().map(|(_, bin)| bin));
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pgbench_report_is_read() {
        let pgbench = "latency average = 0.250 ms\nnumber of failed transactions: 0 (0.000%)\n\
                       tps = 64000.5 (without initial connection time)\n";
        let round = parse_pgbench(pgbench).expect("parsed");
        assert_eq!(
            (round.rate, round.p50_us, round.errors),
            (64000.5, 250.0, 0)
        );
    }
}
