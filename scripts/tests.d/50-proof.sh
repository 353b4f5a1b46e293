#!/usr/bin/env bash
# Proof of the concurrent and parsing core, the short CI form (README,
# Reliability): the loom models of the queue and the slab, each fuzz target
# for FUZZ_SECONDS (10 s), the unit tests and the queue's and C ABI's
# integration tests under AddressSanitizer + LeakSanitizer. About 5 minutes
# on 2 cores from a fresh checkout (the fuzz and ASan builds are most of
# it); `bash scripts/prove-long.sh` is the long form. The fuzz and ASan build
# directories (fuzz/target, target/asan) are removed afterwards unless
# PROOF_KEEP_BUILDS=1: they are GBs, rebuilt by the next run.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS
# shellcheck source=scripts/lib/step.sh
source scripts/lib/step.sh
cleanup() {
  [ "${PROOF_KEEP_BUILDS:-}" = 1 ] || rm -rf fuzz/target target/asan
}
trap cleanup EXIT
step "loom models" bash scripts/loom.sh
step "fuzz (${FUZZ_SECONDS:-10} s per target)" bash scripts/fuzz.sh
step "AddressSanitizer + LeakSanitizer" bash scripts/asan.sh ci
echo "proof: $((SECONDS - started)) s in all"
