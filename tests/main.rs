//! The integration tests: one test binary (not one per file), so a change to the library links
//! one executable instead of forty-odd, and the PostgreSQL cluster of `pg_support` is started
//! once per run. Each file beside this one is a module, named for what it tests: `cargo test
//! --test integration postgres::` runs one. `embedding.rs` stays a binary of its own: it replaces
//! the process's panic hook, which every other test shares.

mod binary;
mod common;
mod import_support;
mod start_support;

mod attachments;
mod auth;
mod backup;
mod check;
mod cli;
mod cli_log;
mod cli_usage;
mod concurrency;
mod conventions;
mod cors;
mod docs;
mod docs_page;
mod downloads;
mod durable;
mod durable_crash;
mod durable_upgrade;
mod faults;
mod health;
mod hints;
mod import;
mod import_answers;
mod json_body;
mod limits;
mod list;
mod metrics;
mod navigation;
mod pg_support_self;
mod postgres;
mod postgres_attachments;
mod postgres_slow_uploads;
mod postgres_start;
mod postgres_start_usage;
mod ranges;
mod routing;
mod systemd_unit;
mod tasks;
mod trace;
mod transport_bodies;
mod transport_chunked;
mod transport_connections;
mod transport_expect;
mod transport_framing;
mod transport_head_rules;
mod transport_heads;
mod transport_limits;
mod unread_stderr;
mod validators;
mod validators_order;
mod validators_preconditions;
mod validators_race;

/// With `autotests = false`, a file in tests/ that no `mod` line names is never compiled: its
/// tests would silently not run.
#[test]
fn every_test_file_is_a_module_of_this_binary() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = std::fs::read_to_string(dir.join("main.rs")).expect("tests/main.rs");
    let entries = std::fs::read_dir(&dir).expect("tests/");
    for entry in entries.map(|entry| entry.expect("an entry of tests/")) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(module) = name.strip_suffix(".rs") else {
            continue;
        };
        if module == "main" || module == "embedding" {
            continue;
        }
        assert!(
            main.lines().any(|line| line == format!("mod {module};")),
            "tests/{name} is not in tests/main.rs: add `mod {module};`"
        );
    }
}
