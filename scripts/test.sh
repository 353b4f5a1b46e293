#!/usr/bin/env bash
# The test command (README, and what CI runs): installs what the tests need,
# then runs every suite and ends with one "suites: N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export PATH="$PATH:/usr/local/go/bin"
# A fresh clone builds once: incremental caches would only take disk (GBs).
[ "${CI:-}" = true ] && export CARGO_INCREMENTAL=0
disk() { df -h --output=avail . | tail -1 | tr -d ' '; }
echo "disk: $(disk) free before the tests"

passed=0
failed=0
failures=()
suite() {
  local name=$1
  shift
  echo "=== $name"
  local started=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - started))s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - started))s)"
  fi
}

suite "cargo fmt" cargo fmt --all -- --check
suite "cargo clippy" cargo clippy --all-targets --quiet -- -D warnings
# The C consumer tests link the cdylib, which `cargo test` does not build.
suite "cargo build" cargo build --quiet
suite "cargo test" cargo test --quiet
for script in scripts/tests.d/*.sh; do
  [ -e "$script" ] || continue
  suite "$script" bash "$script"
done

echo
echo "disk: $(disk) free after the tests (target/: $(du -sh target 2>/dev/null | cut -f1))"
[ ${#failures[@]} -eq 0 ] || echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
