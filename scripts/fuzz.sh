#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer + AddressSanitizer) of the
# targets in fuzz/fuzz_targets, each for FUZZ_SECONDS (default 10: the CI
# run; scripts/prove-long.sh gives 60). Arguments name targets (default:
# all). On the stable toolchain: RUSTC_BOOTSTRAP=1 lets it take the
# sanitizer flags cargo-fuzz passes.
#
# Each run starts from the repository's corpus (fuzz/corpus/TARGET: seeds and
# the inputs bugs were found with, every one replayed first) and writes what
# it finds to fuzz/target/corpus/TARGET, kept across local runs, never in
# the repository. FUZZ_MERGE=1 adds to fuzz/corpus/TARGET the found inputs
# that reach new coverage (libFuzzer's -merge=1). A crash, leak, timeout or
# failed assertion fails the script and prints the reproducer's path and the
# command that replays it. Prints per target: executions, coverage (edges,
# features) and corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-10}
export RUSTC_BOOTSTRAP=1
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
  # Once per machine, kept in ~/.cargo/bin: about 30 s on 2 cores (27 s
  # measured, crates already downloaded).
  echo "fuzz: installing cargo-fuzz"
  cargo install --locked --quiet cargo-fuzz@0.13.2
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

# One build of all targets (release, debug assertions on: overflow checks
# are part of what is looked for).
started=$SECONDS
mkdir -p fuzz/target
cargo fuzz build --debug-assertions >fuzz/target/build.log 2>&1 || {
  cat fuzz/target/build.log >&2
  exit 1
}
echo "fuzz: built in $((SECONDS - started)) s"

failed=()
for target in "${targets[@]}"; do
  found=fuzz/target/corpus/$target
  mkdir -p "$found"
  log=fuzz/target/fuzz-$target.log
  # -timeout: one input may take 10 s (c_abi flushes up to 5 s);
  # -rss_limit_mb: a leak or an allocation beyond the limits shows here.
  if cargo fuzz run --debug-assertions "$target" "$found" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1; then
    # The last status line: "#EXECS DONE cov: N ft: N corp: N/SIZE ...".
    done_line=$(grep -E '^#[0-9]+\s+DONE' "$log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$done_line")
    printf 'fuzz: %-14s %9s executions in %s s, cov %s, ft %s, corpus %s\n' \
      "$target" "$execs" "$seconds" "$cov" "$ft" "$corp"
    if [ "${FUZZ_MERGE:-}" = 1 ]; then
      cargo fuzz run --debug-assertions "$target" "fuzz/corpus/$target" "$found" -- -merge=1 \
        >"$log.merge" 2>&1 || {
        cat "$log.merge" >&2
        failed+=("$target")
      }
      echo "fuzz: $target: corpus in the repository now $(find "fuzz/corpus/$target" -type f | wc -l) inputs"
    fi
  else
    failed+=("$target")
    tail -60 "$log" >&2
    reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "fuzz: $target FAILED (log: $log)" >&2
    if [ -n "$reproducer" ]; then
      echo "fuzz: reproducer: $reproducer" >&2
      echo "fuzz: replay: RUSTC_BOOTSTRAP=1 cargo fuzz run --debug-assertions $target $reproducer" >&2
      echo "fuzz: once fixed, keep it: cp $reproducer fuzz/corpus/$target/NAME-regression" >&2
    fi
  fi
done
[ ${#failed[@]} -eq 0 ] || {
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
}
