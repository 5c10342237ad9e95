//! How fast the digest behind strong entity tags runs: hashes 256 MiB in 64 KiB chunks (as an
//! upload streams in) a few times and prints the best GB/s.
//!
//! `cargo run --release --example digest_speed [MiB]`

use std::time::Instant;

use taskd::test_hooks::Digester;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(256);
    let data: Vec<u8> = (0..mib * 1024 * 1024)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let mut digester = Digester::new();
        for chunk in data.chunks(64 * 1024) {
            digester.update(chunk);
        }
        let digest = digester.finish();
        let seconds = start.elapsed().as_secs_f64();
        best = best.min(seconds);
        println!("{digest} in {:.1} ms", seconds * 1000.0);
    }
    let gigabytes = data.len() as f64 / 1e9;
    println!("{mib} MiB: best {:.2} GB/s", gigabytes / best);
}
