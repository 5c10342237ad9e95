//! `GET /metrics` (CONTRACT §2, §10) over real HTTP: scraped after known requests and parsed
//! by a strict reader of the Prometheus text format 0.0.4, so a malformed line, a histogram
//! whose buckets go down or whose `+Inf` differs from `_count`, or a wrong count fails.

use crate::common;
use common::*;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed exposition: each family's type and its samples.
#[derive(Debug, Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Exposition {
    /// The value of the one sample with this name and exactly these labels.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        let mut found = self
            .samples
            .iter()
            .filter(|sample| sample.name == name && sample.labels == wanted);
        let value = found.next().map(|sample| sample.value);
        assert!(found.next().is_none(), "{name} {labels:?} appears twice");
        value
    }

    fn requests(&self, route: &str, method: &str, status: &str) -> f64 {
        let labels = [("route", route), ("method", method), ("status", status)];
        self.value("taskd_http_requests_total", &labels)
            .unwrap_or(0.0)
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `{a="x",b="y"}` → labels (values with `\\`, `\"`, `\n` escapes).
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label is key=\"value\"");
        assert!(is_metric_name(key), "bad label name {key:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (at, c) = chars.next().expect("label value is closed");
            match c {
                '"' => break at,
                '\\' => match chars.next().expect("escape is complete").1 {
                    'n' => value.push('\n'),
                    escaped @ ('\\' | '"') => value.push(escaped),
                    other => panic!("bad escape \\{other}"),
                },
                c => value.push(c),
            }
        };
        assert!(
            labels.insert(key.to_string(), value).is_none(),
            "label {key} twice"
        );
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

fn parse_value(text: &str) -> f64 {
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => text
            .parse()
            .unwrap_or_else(|_| panic!("bad value {text:?}")),
    }
}

/// Strict: every line is `# HELP name text`, `# TYPE name kind` (before the family's samples,
/// once), or `name{labels} value`; every sample belongs to a family with a TYPE.
fn parse(text: &str) -> Exposition {
    let mut exposition = Exposition::default();
    assert!(text.ends_with('\n'), "the text ends with a newline");
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let (keyword, name) = (words.next().unwrap(), words.next().expect("a name"));
            assert!(is_metric_name(name), "bad name in {line:?}");
            let rest = words.next().expect("HELP/TYPE text");
            if keyword == "TYPE" {
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest),
                    "bad type in {line:?}"
                );
                let earlier = exposition.samples.iter().any(|s| family(&s.name) == name);
                assert!(!earlier, "TYPE after samples: {line:?}");
                let previous = exposition.types.insert(name.to_string(), rest.to_string());
                assert!(previous.is_none(), "TYPE twice: {line:?}");
            } else {
                assert_eq!(keyword, "HELP", "unknown comment {line:?}");
            }
            continue;
        }
        assert!(!line.is_empty(), "empty line");
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (
                name,
                parse_labels(labels.strip_suffix('}').expect("labels close")),
            ),
            None => (series, BTreeMap::new()),
        };
        assert!(is_metric_name(name), "bad name in {line:?}");
        assert!(
            exposition.types.contains_key(family(name)),
            "sample before its TYPE: {line:?}"
        );
        exposition.samples.push(Sample {
            name: name.to_string(),
            labels,
            value: parse_value(value),
        });
    }
    exposition
}

/// The family a sample belongs to: a histogram's `_bucket`, `_sum`, `_count` are its own.
fn family(name: &str) -> &str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            return base;
        }
    }
    name
}

/// A series' labels but `le`, in order.
type Labels = Vec<(String, String)>;

/// Each histogram series: buckets in increasing `le`, counts never decreasing, `+Inf` last and
/// equal to `_count`, `_sum` present.
fn check_histograms(exposition: &Exposition) {
    for (family_name, kind) in &exposition.types {
        if kind != "histogram" {
            continue;
        }
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for sample in &exposition.samples {
            if sample.name == format!("{family_name}_bucket") {
                let mut labels = sample.labels.clone();
                let le = parse_value(&labels.remove("le").expect("a bucket has le"));
                let key = labels.into_iter().collect();
                series.entry(key).or_default().push((le, sample.value));
            }
        }
        assert!(!series.is_empty(), "{family_name} has no buckets");
        for (labels, buckets) in series {
            let pairs: Vec<(&str, &str)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            for pair in buckets.windows(2) {
                assert!(pair[0].0 < pair[1].0, "{labels:?}: le not increasing");
                assert!(pair[0].1 <= pair[1].1, "{labels:?}: bucket counts go down");
            }
            let (last_le, last_count) = *buckets.last().unwrap();
            assert_eq!(last_le, f64::INFINITY, "{labels:?}: no +Inf bucket");
            let count = exposition.value(&format!("{family_name}_count"), &pairs);
            assert_eq!(count, Some(last_count), "{labels:?}: +Inf != _count");
            let sum = exposition.value(&format!("{family_name}_sum"), &pairs);
            assert!(sum.is_some_and(|sum| sum >= 0.0), "{labels:?}: no _sum");
        }
    }
}

fn scrape(addr: SocketAddr, headers: &[(&str, &str)]) -> Exposition {
    let response = request(addr, "GET", "/metrics", headers, b"");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; version=0.0.4")
    );
    let exposition = parse(&response.text());
    check_histograms(&exposition);
    exposition
}

#[test]
fn metrics_count_known_requests_by_route_method_and_status() {
    let server = spawn_server();
    let addr = server.addr();
    assert_eq!(post_json(addr, "/tasks", r#"{"title":"one"}"#).status, 201);
    assert_eq!(post_json(addr, "/tasks", r#"{"title":"two"}"#).status, 201);
    assert_eq!(post_json(addr, "/tasks", r#"{"title":"one"}"#).status, 409);
    assert_eq!(get(addr, "/tasks/1").status, 200);
    assert_eq!(get(addr, "/tasks/%32").status, 200);
    assert_eq!(get(addr, "/tasks/99").status, 404);
    assert_eq!(request(addr, "HEAD", "/healthz", &[], b"").status, 200);
    assert_eq!(request(addr, "PUT", "/tasks", &[], b"").status, 405);
    assert_eq!(get(addr, "/nowhere").status, 404);
    // The layer's own refusal (a head that does not parse) is counted too.
    assert_eq!(send_raw(addr, b"NOT HTTP\r\n\r\n").status, 400);
    // A connection kept open (idle after its answer) while the scrape runs.
    let mut idle = TcpStream::connect(addr).expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).expect("an answer");

    let metrics = scrape(addr, &[]);
    assert_eq!(metrics.types["taskd_http_requests_total"], "counter");
    assert_eq!(
        metrics.types["taskd_http_request_duration_seconds"],
        "histogram"
    );
    assert_eq!(metrics.types["taskd_open_connections"], "gauge");
    assert_eq!(metrics.types["taskd_tasks_stored"], "gauge");
    assert_eq!(metrics.requests("/tasks", "POST", "201"), 2.0);
    assert_eq!(metrics.requests("/tasks", "POST", "409"), 1.0);
    assert_eq!(metrics.requests("/tasks/{task_id}", "GET", "200"), 2.0);
    assert_eq!(metrics.requests("/tasks/{task_id}", "GET", "404"), 1.0);
    assert_eq!(metrics.requests("/healthz", "HEAD", "200"), 1.0);
    assert_eq!(metrics.requests("/tasks", "PUT", "405"), 1.0);
    assert_eq!(metrics.requests("other", "GET", "404"), 1.0);
    assert_eq!(metrics.requests("other", "other", "400"), 1.0);
    let duration = "taskd_http_request_duration_seconds_count";
    assert_eq!(metrics.value(duration, &[("route", "/tasks")]), Some(4.0));
    assert_eq!(metrics.value("taskd_tasks_stored", &[]), Some(2.0));
    // The idle one and the scrape's own at least (a closed one may not have left yet).
    let open = metrics.value("taskd_open_connections", &[]);
    assert!(open.is_some_and(|open| open >= 2.0), "{open:?}");
    drop(idle);

    // The first scrape is counted by the second (it is logged once answered).
    let again = scrape(addr, &[]);
    assert_eq!(again.requests("/metrics", "GET", "200"), 1.0);
    assert_eq!(again.requests("/healthz", "GET", "200"), 1.0);
    // Once the others have gone, only the scrape's own connection is open.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let open = scrape(addr, &[]).value("taskd_open_connections", &[]);
        if open == Some(1.0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still open: {open:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn metrics_need_the_token_when_one_is_set() {
    let server = spawn_with_token("s3cret");
    let addr = server.addr();
    let refused = get(addr, "/metrics");
    assert_eq!(refused.status, 401);
    assert_eq!(get(addr, "/healthz").status, 200, "healthz stays public");
    let metrics = scrape(addr, &[("Authorization", "Bearer s3cret")]);
    assert_eq!(metrics.requests("/metrics", "GET", "401"), 1.0);
    assert_eq!(metrics.value("taskd_tasks_stored", &[]), Some(0.0));
}

#[test]
fn metrics_answer_head_and_options_and_refuse_other_methods() {
    let server = spawn_server();
    let addr = server.addr();
    let head = request(addr, "HEAD", "/metrics", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("Content-Type"),
        Some("text/plain; version=0.0.4")
    );
    let options = request(addr, "OPTIONS", "/metrics", &[], b"");
    assert_eq!(options.status, 204);
    assert_eq!(options.header("Allow"), Some("GET, HEAD, OPTIONS"));
    let post = request(addr, "POST", "/metrics", &[], b"");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn the_strict_parser_refuses_a_broken_histogram() {
    let broken =
        "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n";
    let outcome = std::panic::catch_unwind(|| check_histograms(&parse(broken)));
    assert!(outcome.is_err(), "a decreasing bucket must be refused");
    let untyped = "x 1\n";
    assert!(std::panic::catch_unwind(|| parse(untyped)).is_err());
}
