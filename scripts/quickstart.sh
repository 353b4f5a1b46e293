#!/usr/bin/env bash
# Quick start: builds the library and the logstash-async command, starts
# `logstash-async listen` on a free loopback port, compiles and runs
# examples/hello.c against the generated header and the .so, and shows the
# events as the receiver got them. No Logstash needed; cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

bash scripts/setup.sh
target=${CARGO_TARGET_DIR:-target}/release

step "1/4 building the library and the command-line tool (cargo build --release)"
cargo build --release --quiet
echo "    $target/liblogstash_async.so, $target/logstash-async"
started=$(date +%s%N)

work=$(mktemp -d)
listener=""
cleanup() {
  if [ -n "$listener" ] && kill -0 "$listener" 2>/dev/null; then kill "$listener" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step "2/4 starting a receiver: logstash-async listen --bind 127.0.0.1:0 --count 3"
"$target/logstash-async" listen --bind 127.0.0.1:0 --count 3 >"$work/received" 2>"$work/listen.err" &
listener=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/listen.err" && break
  kill -0 "$listener" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q '^listening on ' "$work/listen.err"; then
  echo "quickstart: the receiver did not start:" >&2
  cat "$work/listen.err" >&2
  exit 1
fi
port=$(sed -n 's/^listening on tcp:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/listen.err")
echo "    $(head -1 "$work/listen.err")"

step "3/4 compiling and running examples/hello.c (it logs 3 events with extra fields)"
echo "    cc -Wall -Werror -o hello examples/hello.c -Iinclude -L$target -llogstash_async"
cc -Wall -Werror -o "$work/hello" examples/hello.c -Iinclude -L"$target" -llogstash_async
echo "    LD_LIBRARY_PATH=$target ./hello 127.0.0.1 $port"
LD_LIBRARY_PATH="$target" "$work/hello" 127.0.0.1 "$port" | sed 's/^/    hello: /'

# The receiver exits by itself after 3 events; wait for it (bounded).
for _ in $(seq 200); do
  kill -0 "$listener" 2>/dev/null || break
  sleep 0.1
done
received=$(wc -l <"$work/received")

step "4/4 the events as the receiver printed them (timestamp level logger: message {extra fields})"
cat "$work/received"
echo
if [ "$received" -ne 3 ]; then
  echo "quickstart: FAILED: the receiver got $received of 3 events" >&2
  exit 1
fi
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
echo "quickstart: ok: hello.c logged 3 events and the receiver got all 3 (${elapsed_ms} ms after the build)."
echo "Next: '$target/logstash-async --help' (listen, send, replay), and the README's 'Command-line tool' section."
