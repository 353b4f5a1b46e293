#!/usr/bin/env bash
# The library's Rust tests under ThreadSanitizer: data races between the
# library's threads (emitters, the worker, shutdown) in the Rust code.
# ThreadSanitizer must see every synchronisation, so std is rebuilt
# instrumented (-Zbuild-std: the rust-src component, added here if missing;
# stable toolchain with RUSTC_BOOTSTRAP=1). SQLite and OpenSSL are C built
# without it: their internal locking is invisible, which is why the tests
# are those of the queue, the worker and the C ABI, not of SQLite's
# threads. About 2.5 minutes of build on 2 cores (std included); not in CI
# (scripts/prove-long.sh runs it). Target directory: target/tsan.
#
#   bash scripts/tsan.sh            # unit tests + c_lifetime delivery flush_mark native
#   bash scripts/tsan.sh TEST..     # these integration tests
set -euo pipefail
cd "$(dirname "$0")/.."
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(c_lifetime delivery flush_mark native)
rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src

export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=thread -Cforce-frame-pointers=yes"
export CARGO_TARGET_DIR=target/tsan
export CARGO_INCREMENTAL=0
# A report fails the test binary (exit code 66) after printing every race.
export TSAN_OPTIONS="halt_on_error=0:exitcode=66:second_deadlock_stack=1"
# One test at a time: instrumented code runs 5-15x slower, and tests that
# give the library 30 s for 120,000 events or a receiver restart would
# measure the machine's load, not the library.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-1}

started=$SECONDS
args=(-Zbuild-std --target x86_64-unknown-linux-gnu --no-default-features --lib)
for t in "${tests[@]}"; do args+=(--test "$t"); done
cargo test --quiet "${args[@]}" --no-run
echo "tsan: built in $((SECONDS - started)) s"
# Skipped: 60 MB through a :memory: buffer and back within 30 s (too slow
# instrumented; ASan runs it).
cargo test --quiet --no-fail-fast "${args[@]}" -- --skip memory_buffer_outgrowing_its_tail
echo "tsan: ${tests[*]} and the unit tests: no ThreadSanitizer report ($((SECONDS - started)) s)"
