#!/usr/bin/env bash
# Model checks of the queue's protocols and the slab's free stack with loom
# (src/queue/loom_models.rs; README, Reliability). Every interleaving of each
# model's threads up to the preemption bound: 3, and 2 for the four-thread
# model; LOOM_MAX_PREEMPTIONS=N sets it for all (scripts/prove-long.sh: 3).
#
# Only this crate is rebuilt with `--cfg loom` (cargo rustc): its
# dependencies are the test build's, and src/queue/sync.rs swaps the
# primitives for loom's. Extra arguments go to the test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
# The loom-only code, linted as the normal build is.
cargo clippy --quiet --lib --tests -- --cfg loom -D warnings
exe=$(cargo rustc --quiet --lib --profile test --message-format=json-render-diagnostics -- --cfg loom |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$exe" ] || {
  echo "loom: the test binary was not built" >&2
  exit 1
}
"$exe" loom_models --nocapture "$@"
