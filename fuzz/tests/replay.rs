//! Replays the committed seeds (`seeds/TARGET/`) and the minimised crash and oracle-mismatch
//! inputs (`regressions/TARGET/`) through the fuzz targets' checks, on stable, without libFuzzer:
//! `cargo test --manifest-path fuzz/Cargo.toml`.

use std::fs;
use std::panic;
use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    for kind in ["seeds", "regressions"] {
        let Ok(entries) = fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable directory").path();
            if path.is_file() {
                inputs.push(path);
            }
        }
    }
    inputs.sort();
    let failed: Vec<String> = inputs
        .iter()
        .filter(|path| {
            let data = fs::read(path).expect("readable input");
            panic::catch_unwind(|| check(&data)).is_err()
        })
        .map(|path| {
            path.strip_prefix(root)
                .unwrap_or(path)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs fail: {failed:?}",
        failed.len(),
        inputs.len()
    );
    assert!(!inputs.is_empty(), "{target}: no seeds");
}

#[test]
fn router_inputs() {
    replay("router", taskd_fuzz::router::check);
}

#[test]
fn json_body_inputs() {
    replay("json_body", taskd_fuzz::json_body::check);
}

#[test]
fn multipart_inputs() {
    replay("multipart", taskd_fuzz::multipart::check);
}
