//! `GET /metrics` (CONTRACT §2, §10): the counters every answered exchange feeds, and their
//! rendering in the Prometheus text exposition format 0.0.4.
//!
//! Recording is on every request's path (the access-log hook, `Service::log`), so it takes no
//! lock and allocates nothing: each series is one slot of a table fixed at start, indexed by
//! route template × method × status, and incremented with a relaxed atomic add. Only a scrape
//! formats text. A scrape reads the slots one by one, so it may see an exchange in one series
//! and not yet in another; each histogram's `_count` is the sum of the bucket slots it read, so
//! `le="+Inf"` always equals `_count`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;

use crate::message::{Body, Reply};
use crate::router;
use crate::storage::{ListQuery, Storage};
use http1::{Exchange, OpenConnections};

/// The `Content-Type` of the text format (Prometheus exposition formats, "Text format").
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The `route` label values: the OpenAPI path templates, `*` for `OPTIONS *`, and `other` for a
/// path no route knows or a request whose head did not parse.
const ROUTES: [&str; 9] = [
    "/tasks",
    "/tasks/{task_id}",
    "/tasks/{task_id}/attachment",
    "/healthz",
    "/openapi.json",
    "/docs",
    "/metrics",
    "*",
    "other",
];
const OTHER_ROUTE: usize = ROUTES.len() - 1;

/// The `method` label values; any other method counts as `other`.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
];
const OTHER_METHOD: usize = METHODS.len() - 1;

/// Every status taskd sends (CONTRACT §3–§13); any other counts as `other`.
const STATUSES: [u16; 27] = [
    200, 201, 204, 206, 304, 307, 400, 401, 403, 404, 405, 408, 409, 411, 412, 413, 414, 415, 416,
    417, 422, 431, 500, 501, 503, 505, 0,
];
const OTHER_STATUS: usize = STATUSES.len() - 1;

/// Upper bounds of the latency buckets, in microseconds (1 ms … 10 s); the last bucket is `+Inf`.
const BUCKET_MICROS: [u64; 7] = [
    1_000, 5_000, 25_000, 100_000, 500_000, 2_500_000, 10_000_000,
];
const BUCKETS: usize = BUCKET_MICROS.len() + 1;

/// The counters of one server.
pub struct Metrics {
    /// Exchanges answered, by `[route][method][status]`.
    requests: Vec<AtomicU64>,
    /// Latency observations by `[route][bucket]`, not cumulative (a scrape sums them).
    latency_buckets: Vec<AtomicU64>,
    /// Latency totals by route, in microseconds.
    latency_sum_micros: Vec<AtomicU64>,
    /// Set once the server runs: the HTTP layer's count of open connections.
    connections: OnceLock<OpenConnections>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn zeros(len: usize) -> Vec<AtomicU64> {
    (0..len).map(|_| AtomicU64::new(0)).collect()
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// All counters at zero; the tables are allocated here, once.
    pub fn new() -> Metrics {
        Metrics {
            requests: zeros(ROUTES.len() * METHODS.len() * STATUSES.len()),
            latency_buckets: zeros(ROUTES.len() * BUCKETS),
            latency_sum_micros: zeros(ROUTES.len()),
            connections: OnceLock::new(),
        }
    }

    /// Where the open-connections gauge comes from, once the server runs.
    pub fn attach_connections(&self, connections: OpenConnections) {
        let _ = self.connections.set(connections);
    }

    /// Counts one exchange that got an answer (the layer's own refusals included). An exchange
    /// without one (the client left first) has no status to count.
    pub fn record(&self, exchange: &Exchange<'_>) {
        let Some(response) = exchange.response else {
            return;
        };
        let (route, method) = match exchange.request {
            Some((method, target)) => (route_index(target), method_index(method)),
            None => (OTHER_ROUTE, OTHER_METHOD),
        };
        let status = status_index(response.status);
        let series = (route * METHODS.len() + method) * STATUSES.len() + status;
        // Relaxed: each slot is an independent counter; no other memory is published by it.
        self.requests[series].fetch_add(1, Ordering::Relaxed);
        self.observe(route, exchange.elapsed);
    }

    fn observe(&self, route: usize, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKET_MICROS
            .iter()
            .position(|&bound| micros <= bound)
            .unwrap_or(BUCKETS - 1);
        self.latency_buckets[route * BUCKETS + bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros[route].fetch_add(micros, Ordering::Relaxed);
    }

    /// The exposition text: the counters, plus the gauges read now (`tasks` from the store's
    /// unfiltered list total; left out if the store cannot answer).
    pub fn render(&self, storage: &dyn Storage) -> String {
        let mut out = String::with_capacity(4096);
        self.render_requests(&mut out);
        self.render_latency(&mut out);
        out.push_str("# HELP taskd_open_connections HTTP connections open now.\n");
        out.push_str("# TYPE taskd_open_connections gauge\n");
        let open = self.connections.get().map_or(0, OpenConnections::count);
        let _ = writeln!(out, "taskd_open_connections {open}");
        out.push_str("# HELP taskd_tasks_stored Tasks in the store.\n");
        out.push_str("# TYPE taskd_tasks_stored gauge\n");
        let everything = ListQuery {
            done: None,
            priority: None,
            skip: 0,
            limit: 0,
        };
        if let Ok(page) = storage.list(&everything) {
            let _ = writeln!(out, "taskd_tasks_stored {}", page.total);
        }
        out
    }

    fn render_requests(&self, out: &mut String) {
        out.push_str("# HELP taskd_http_requests_total HTTP requests answered, by route template, method and status.\n");
        out.push_str("# TYPE taskd_http_requests_total counter\n");
        for (route, route_label) in ROUTES.iter().enumerate() {
            for (method, method_label) in METHODS.iter().enumerate() {
                for (status, code) in STATUSES.iter().enumerate() {
                    let series = (route * METHODS.len() + method) * STATUSES.len() + status;
                    let count = self.requests[series].load(Ordering::Relaxed);
                    if count == 0 {
                        continue;
                    }
                    let _ = write!(
                        out,
                        "taskd_http_requests_total{{route=\"{route_label}\",method=\"{method_label}\",status=\""
                    );
                    if status == OTHER_STATUS {
                        out.push_str("other");
                    } else {
                        let _ = write!(out, "{code}");
                    }
                    let _ = writeln!(out, "\"}} {count}");
                }
            }
        }
    }

    fn render_latency(&self, out: &mut String) {
        out.push_str("# HELP taskd_http_request_duration_seconds From a request head's arrival to the answer's last byte, by route template.\n");
        out.push_str("# TYPE taskd_http_request_duration_seconds histogram\n");
        let name = "taskd_http_request_duration_seconds";
        for (route, label) in ROUTES.iter().enumerate() {
            let counts: Vec<u64> = (0..BUCKETS)
                .map(|bucket| {
                    self.latency_buckets[route * BUCKETS + bucket].load(Ordering::Relaxed)
                })
                .collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (bucket, count) in counts.iter().enumerate() {
                cumulative += count;
                let bound = match BUCKET_MICROS.get(bucket) {
                    Some(&micros) => seconds(micros),
                    None => "+Inf".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "{name}_bucket{{route=\"{label}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let sum = seconds(self.latency_sum_micros[route].load(Ordering::Relaxed));
            let _ = writeln!(out, "{name}_sum{{route=\"{label}\"}} {sum}");
            let _ = writeln!(out, "{name}_count{{route=\"{label}\"}} {total}");
        }
    }
}

/// Microseconds as decimal seconds, exactly (no float rounding): `2500` → `0.0025`.
fn seconds(micros: u64) -> String {
    let fraction = format!("{:06}", micros % 1_000_000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{}", micros / 1_000_000)
    } else {
        format!("{}.{fraction}", micros / 1_000_000)
    }
}

fn route_index(target: &str) -> usize {
    router::template(target)
        .and_then(|template| ROUTES.iter().position(|&known| known == template))
        .unwrap_or(OTHER_ROUTE)
}

fn method_index(method: &str) -> usize {
    METHODS[..OTHER_METHOD]
        .iter()
        .position(|&known| known == method)
        .unwrap_or(OTHER_METHOD)
}

fn status_index(status: u16) -> usize {
    STATUSES[..OTHER_STATUS]
        .iter()
        .position(|&known| known == status)
        .unwrap_or(OTHER_STATUS)
}

/// `GET /metrics` (and HEAD): 200 with the exposition text. `no-store`: a stored scrape would
/// describe the past (RFC 9111 §5.2.2.5).
pub fn reply(metrics: &Metrics, storage: &dyn Storage) -> Reply {
    Reply {
        status: 200,
        headers: vec![("Cache-Control", "no-store".to_owned())],
        body: Body::File {
            content_type: CONTENT_TYPE.to_owned(),
            bytes: Bytes::from(metrics.render(storage)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact_decimals() {
        assert_eq!(seconds(1_000), "0.001");
        assert_eq!(seconds(2_500_000), "2.5");
        assert_eq!(seconds(10_000_000), "10");
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(1_234_567), "1.234567");
    }

    #[test]
    fn targets_count_under_their_template() {
        for (target, expected) in [
            ("/tasks", "/tasks"),
            ("/tasks?done=true", "/tasks"),
            ("/tasks/7", "/tasks/{task_id}"),
            ("/tasks/abc", "/tasks/{task_id}"),
            ("/tasks/%37/attachment", "/tasks/{task_id}/attachment"),
            ("/tasks/7/attachment/", "/tasks/{task_id}/attachment"),
            ("http://example.com/metrics", "/metrics"),
            ("*", "*"),
            ("/", "other"),
            ("/nope", "other"),
            ("/tasks//attachment", "other"),
            ("/tasks/%zz", "other"),
        ] {
            assert_eq!(ROUTES[route_index(target)], expected, "{target}");
        }
    }

    #[test]
    fn every_status_the_error_module_sends_has_its_own_series() {
        for status in [200, 201, 204, 304, 404, 405, 412, 413, 422, 500, 503] {
            assert_ne!(status_index(status), OTHER_STATUS, "{status}");
        }
        assert_eq!(status_index(418), OTHER_STATUS);
    }
}
