//! The results: one row per scenario, printed as soon as it is measured and again as a table at
//! the end.

use std::io::Write;

use crate::load::Stats;

/// One measured line.
pub struct Row {
    name: String,
    workers: usize,
    /// req/s, or empty for a row that is only a note.
    rate: String,
    /// p50, p90, p99, max in microseconds, or empty.
    latency: [String; 4],
    errors: String,
    note: String,
}

impl Row {
    pub fn from_stats(name: &str, workers: usize, stats: &Stats, note: String) -> Row {
        let us = |q: f64| format!("{:.0}", stats.percentile_us(q));
        Row {
            name: name.to_owned(),
            workers,
            rate: format!("{:.0}", stats.rate()),
            latency: [us(0.5), us(0.9), us(0.99), us(1.0)],
            errors: stats.errors.to_string(),
            note,
        }
    }

    pub fn note(name: &str, workers: usize, note: String) -> Row {
        Row {
            name: name.to_owned(),
            workers,
            rate: String::new(),
            latency: Default::default(),
            errors: String::new(),
            note,
        }
    }

    fn cells(&self) -> Vec<String> {
        let workers = if self.workers == 0 {
            "-".to_owned()
        } else {
            self.workers.to_string()
        };
        let mut cells = vec![self.name.clone(), workers, self.rate.clone()];
        cells.extend(self.latency.iter().cloned());
        cells.push(self.errors.clone());
        cells.push(self.note.clone());
        cells
    }
}

const HEADER: [&str; 9] = [
    "scenario", "workers", "req/s", "p50 us", "p90 us", "p99 us", "max us", "errors", "notes",
];

/// All rows of the run.
#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    /// Adds a row and prints it at once, so a long run shows progress.
    pub fn push(&mut self, row: Row) {
        let cells = row.cells();
        println!("{}", cells.join(" | "));
        let _ = std::io::stdout().flush();
        self.rows.push(row);
    }

    /// The whole run as a Markdown table, ready for the README.
    pub fn print(&self) {
        println!();
        println!("| {} |", HEADER.join(" | "));
        println!("|{}", " --- |".repeat(HEADER.len()));
        for row in &self.rows {
            println!("| {} |", row.cells().join(" | "));
        }
    }
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
