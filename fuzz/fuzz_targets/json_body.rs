//! libFuzzer entry point; the checks live in `taskd_fuzz::json_body` so `cargo test` can replay
//! seeds and regressions without libFuzzer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taskd_fuzz::json_body::check(data));
