//! Test support for PostgreSQL (issue 17): a real, throwaway PostgreSQL cluster per test run
//! ([`cluster`], with TLS on demand: [`tls`]) and a TCP proxy that can forward, refuse or freeze ([`proxy`]). No mocks.
//!
//! Usable from any integration test (`#[path = "pg_support/mod.rs"] mod pg_support;`) and from
//! the library's own unit tests (`src/pg/mod.rs` includes this file), so both share one
//! implementation. It needs nothing but `std`.
#![allow(dead_code)] // each user takes a different subset

pub mod cluster;
pub mod proxy;
pub mod tls;

pub use cluster::{shared_cluster, Cluster};
pub use proxy::{FaultProxy, ProxyMode};
