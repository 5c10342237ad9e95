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

#[test]
fn http1_inputs() {
    replay("http1", taskd_fuzz::http1::check);
}

/// Each `seeds/http1/NNN-*` seed is one refusal shape of CONTRACT §13: read whole, its
/// connection ends with that status, from the head or from the chunked framing.
#[test]
fn http1_refusal_seeds_earn_their_status() {
    use taskd_fuzz::http1::{serve, Answer, Event, Input};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/http1");
    let mut checked = 0;
    for entry in fs::read_dir(dir).expect("seeds/http1") {
        let path = entry.expect("readable directory").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(expected) = name[..3.min(name.len())].parse::<u16>() else {
            continue;
        };
        let input = Input::decode(&fs::read(&path).expect("readable seed")).expect("a seed");
        let events = serve(&input.stream, &[usize::MAX], input.app).events;
        let status = match events.last() {
            Some(Event::Refused { refusal, .. }) => refusal.status(),
            Some(Event::Served(served)) => match served.answer {
                Answer::Layer(refusal) => refusal.status(),
                _ => 0,
            },
            _ => 0,
        };
        assert_eq!(status, expected, "{name}: {events:?}");
        checked += 1;
    }
    assert!(checked > 0, "no refusal seeds");
}
