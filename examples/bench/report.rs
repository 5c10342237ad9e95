//! The results: one row per scenario and server, printed as soon as it is measured and again as
//! a table at the end; and the medians that a figure of several rounds is reduced to.

use std::io::Write;

use crate::load::Stats;

/// One measured line.
pub struct Row {
    name: String,
    /// Which server the row measured (`taskd`, `axum`, ...), or empty.
    server: String,
    /// req/s, or empty for a row that is only a note.
    rate: String,
    /// p50, p90, p99, max in microseconds, or empty.
    latency: [String; 4],
    errors: String,
    note: String,
}

impl Row {
    pub fn from_stats(name: &str, server: &str, stats: &Stats, note: String) -> Row {
        let us = |q: f64| format!("{:.0}", stats.percentile_us(q));
        Row {
            name: name.to_owned(),
            server: server.to_owned(),
            rate: format!("{:.0}", stats.rate()),
            latency: [us(0.5), us(0.9), us(0.99), us(1.0)],
            errors: stats.errors.to_string(),
            note,
        }
    }

    pub fn note(name: &str, server: &str, note: String) -> Row {
        Row {
            name: name.to_owned(),
            server: server.to_owned(),
            rate: String::new(),
            latency: Default::default(),
            errors: String::new(),
            note,
        }
    }

    /// A rate measured by another program (wrk, pgbench): p50 and p99 in microseconds, NaN
    /// when that program does not give them.
    pub fn rate(
        name: &str,
        server: &str,
        rate: f64,
        p50_p99: [f64; 2],
        errors: u64,
        note: String,
    ) -> Row {
        let us = |value: f64| {
            if value.is_nan() {
                String::new()
            } else {
                format!("{value:.0}")
            }
        };
        Row {
            name: name.to_owned(),
            server: server.to_owned(),
            rate: format!("{rate:.0}"),
            latency: [us(p50_p99[0]), String::new(), us(p50_p99[1]), String::new()],
            errors: errors.to_string(),
            note,
        }
    }

    /// A row whose latency columns are waits of single exchanges rather than of a rate
    /// (`[p50, p90, p99, max]` in microseconds).
    pub fn waits(name: &str, server: &str, latency: [f64; 4], errors: u64, note: String) -> Row {
        Row {
            name: name.to_owned(),
            server: server.to_owned(),
            rate: String::new(),
            latency: latency.map(|us| format!("{us:.0}")),
            errors: errors.to_string(),
            note,
        }
    }

    fn cells(&self) -> Vec<String> {
        let mut cells = vec![self.name.clone(), self.server.clone(), self.rate.clone()];
        cells.extend(self.latency.iter().cloned());
        cells.push(self.errors.clone());
        cells.push(self.note.clone());
        cells
    }
}

const HEADER: [&str; 9] = [
    "scenario", "server", "req/s", "p50 us", "p90 us", "p99 us", "max us", "errors", "notes",
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

/// The median of `values` (the lower one of an even count), or NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(f64::NAN)
}

/// `min–max` of `values` with their spread around the median, e.g. `41,200–46,900 (±6%)`.
pub fn spread(values: &[f64]) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let half = (max - min) / 2.0 / median(values) * 100.0;
    format!("{}–{} (±{half:.0}%)", thousands(min), thousands(max))
}

/// A whole number with thousands separators: `46300` → `46,300`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if value < 0.0 {
        out.insert(0, '-');
    }
    out
}
