#!/usr/bin/env bash
# Fuzzes one taskd target with libFuzzer on the stable toolchain (no cargo-fuzz, no nightly).
#
#   fuzz/run.sh TARGET SECONDS [libFuzzer flags...]     TARGET: router | json_body | multipart | http1
#
# Builds fuzz/ in release (debug assertions and overflow checks on, see Cargo.toml) into
# fuzz/target with the SanitizerCoverage flags cargo-fuzz uses without a sanitizer, then runs
# the target for SECONDS on fuzz/corpus/TARGET (kept between runs, git-ignored) seeded from
# fuzz/seeds/TARGET, with fuzz/dicts/TARGET.dict. Crashes and oracle mismatches land in
# fuzz/artifacts/TARGET/ (git-ignored), as does the full log, last-run.log. Prints the number of
# executions. Exit status: 0 clean, 1 finding (or libFuzzer error), 2 usage/build error.
# Extra flags go to libFuzzer, e.g. -fork=2 -ignore_crashes=1 to keep going after a crash.
# FUZZ_BUILD_ONLY=1 only builds.
set -euo pipefail
cd "$(dirname "$0")"

usage() { echo "usage: fuzz/run.sh router|json_body|multipart|http1 SECONDS [libFuzzer flags...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2
case $target in router | json_body | multipart | http1) ;; *) usage ;; esac
[[ $seconds =~ ^[0-9]+$ ]] || usage

host=$(rustc -vV | sed -n 's/^host: //p')
# What cargo-fuzz passes without a sanitizer. `--target` keeps these flags off build scripts and
# proc macros, which are not linked with libFuzzer.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
echo "== building $target (release, $host, sancov)" >&2
cargo build --quiet --release --features fuzz --target "$host" --target-dir target --bin "$target" ||
  exit 2
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

bin=target/$host/release/$target
corpus=corpus/$target artifacts=artifacts/$target
mkdir -p "$corpus" "$artifacts"
log=$artifacts/last-run.log
args=("$corpus" "seeds/$target" "-dict=dicts/$target.dict" "-max_total_time=$seconds"
  "-print_final_stats=1" "-artifact_prefix=$artifacts/" "-timeout=10" "-rss_limit_mb=2048")

echo "== fuzzing $target for $seconds s (log: fuzz/$log)" >&2
status=0
started=$SECONDS
# libFuzzer stops itself after SECONDS; the outer bound only guards against a hung process.
timeout --kill-after=30 $((seconds + 300)) "$bin" "${args[@]}" "$@" >"$log" 2>&1 || status=$?

# Plain mode prints stat::number_of_executed_units; fork mode only its progress lines.
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
if [ -z "$execs" ]; then
  execs=$(sed -n 's/^#\([0-9][0-9]*\):* .*/\1/p' "$log" | tail -n 1)
fi
elapsed=$((SECONDS - started))
units=$(find "$corpus" -type f | wc -l)
grep -E '^(stat::|Done |INFO: (fuzzed|exiting))' "$log" >&2 || true
if [ "$status" -ne 0 ]; then
  echo "== $target: FINDING or error (exit $status); excerpt of fuzz/$log:" >&2
  grep -E -A12 "panicked at|==[0-9]+== ERROR|deadly signal|Test unit written|timeout after" "$log" |
    head -n 60 >&2 || tail -n 40 "$log" >&2
fi
# libFuzzer's last status line: edges covered (cov) and features (ft).
coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1 || true)
echo "$target: ${execs:-?} executions in $elapsed s, ${coverage:-cov: ?}, corpus $units units, exit $status"
[ "$status" -eq 0 ] || exit 1
