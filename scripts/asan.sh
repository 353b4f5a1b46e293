#!/usr/bin/env bash
# The library's Rust tests under AddressSanitizer + LeakSanitizer (rustc's
# own sanitizer runtime, on the stable toolchain with RUSTC_BOOTSTRAP=1):
# heap and stack overflows, use after free and leaks in the library and its
# C dependencies' calls into it (SQLite and OpenSSL themselves are not
# instrumented, nor is std: their own bugs are not looked for).
#
#   bash scripts/asan.sh        # CI subset: unit tests, and the integration
#                               # tests of the queue's users and the C ABI
#   bash scripts/asan.sh full   # every test that needs no external program
#   bash scripts/asan.sh TEST.. # these integration tests (names in tests/)
#
# Without kafka (librdkafka would be rebuilt instrumented: minutes). Its own
# target directory (target/asan: nothing shared with the normal build).
# LeakSanitizer's suppressions: scripts/sanitizers/lsan.supp (each says why).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-ci}" in
# The C boundary's lifetimes, delivery and flush through the queue, the
# typed and native calls: what exercises the queue, the slab and the FFI.
ci) tests=(c_lifetime delivery flush_mark native) ;;
# All but those needing kafka, redis, python, syslog-ng, go or ruby (and
# header.rs, which only compares text).
full) tests=(beats buffer_hygiene c_lifetime cli delivery ecs_identity flush_mark fork_child fuzz inspect
  native receivers reliability shaping) ;;
*) tests=("$@") ;;
esac

export RUSTC_BOOTSTRAP=1
# --target: the flags reach the crates of the target only, not build
# scripts and proc macros (which the runtime would not link into).
export RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes"
export CARGO_TARGET_DIR=target/asan
export CARGO_INCREMENTAL=0
export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:abort_on_error=0"
export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitizers/lsan.supp:print_suppressions=0"
# Tests that time themselves run slower instrumented (about 2x).
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-2}

started=$SECONDS
args=(--target x86_64-unknown-linux-gnu --no-default-features --lib)
for t in "${tests[@]}"; do args+=(--test "$t"); done
cargo test --quiet "${args[@]}" --no-run
echo "asan: built in $((SECONDS - started)) s"
cargo test --quiet --no-fail-fast "${args[@]}"
echo "asan: ${tests[*]} and the unit tests: no AddressSanitizer or LeakSanitizer report ($((SECONDS - started)) s)"
