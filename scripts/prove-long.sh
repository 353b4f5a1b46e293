#!/usr/bin/env bash
# The long form of scripts/tests.d/50-proof.sh, run by hand (not in CI);
# README, Reliability, records its last results:
#   - the loom models with LOOM_MAX_PREEMPTIONS (default 3 for every model,
#     the four-thread one included: 2 in CI);
#   - each fuzz target for FUZZ_SECONDS (default 60), adding to
#     fuzz/corpus the inputs that reach new coverage when FUZZ_MERGE=1;
#   - every Rust test that needs no external program under AddressSanitizer
#     + LeakSanitizer;
#   - the unit tests and the queue's and C ABI's integration tests under
#     ThreadSanitizer (std rebuilt: scripts/tsan.sh).
# The build directories are kept (fuzz/target, target/asan, target/tsan: remove them
# when done, they take GBs).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
# shellcheck source=scripts/lib/step.sh
source scripts/lib/step.sh
step "loom models (bound ${LOOM_MAX_PREEMPTIONS:=3})" env LOOM_MAX_PREEMPTIONS="$LOOM_MAX_PREEMPTIONS" bash scripts/loom.sh
step "fuzz (${FUZZ_SECONDS:=60} s per target)" env FUZZ_SECONDS="$FUZZ_SECONDS" bash scripts/fuzz.sh
step "AddressSanitizer + LeakSanitizer (full)" bash scripts/asan.sh full
step "ThreadSanitizer" bash scripts/tsan.sh
echo "prove-long: $((SECONDS - started)) s in all"
