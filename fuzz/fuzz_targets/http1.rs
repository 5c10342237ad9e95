//! libFuzzer entry point; the checks live in `taskd_fuzz::http1` so `cargo test` can replay
//! seeds and regressions without libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taskd_fuzz::http1::check(data));
