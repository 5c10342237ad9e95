//! The checks behind taskd's fuzz targets, one module per target. Each `check(data)` panics when
//! taskd panics or an oracle fails; the libFuzzer binaries in `fuzz_targets/` only call them, and
//! `tests/replay.rs` replays the committed seeds and regression inputs through them on stable
//! without libFuzzer (`cargo test --manifest-path fuzz/Cargo.toml`).

pub mod http1;
pub mod json_body;
pub mod multipart;
pub mod router;

use std::sync::OnceLock;

/// Whether the known, reported finding `name` is tolerated in this run: `TASKD_FUZZ_ALLOW` is a
/// comma-separated list of names (see README.md), so a long campaign can go on past a finding
/// that is not fixed yet. Unset, every oracle is strict, as in `cargo test`.
pub fn allowed(name: &str) -> bool {
    static ALLOWED: OnceLock<Vec<String>> = OnceLock::new();
    ALLOWED
        .get_or_init(|| {
            std::env::var("TASKD_FUZZ_ALLOW")
                .unwrap_or_default()
                .split(',')
                .map(|item| item.trim().to_owned())
                .filter(|item| !item.is_empty())
                .collect()
        })
        .iter()
        .any(|item| item == name)
}
