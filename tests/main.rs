//! The integration tests: one test binary (not one per file), so a change to the library links
//! one executable instead of forty-odd, and the PostgreSQL cluster of `pg_support` is started
//! once per run. Each file beside this one is a module, named for what it tests: `cargo test
//! --test integration postgres::` runs one. `embedding.rs` stays a binary of its own: it replaces
//! the process's panic hook, which every other test shares.

mod binary;
mod common;
mod import_support;

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
