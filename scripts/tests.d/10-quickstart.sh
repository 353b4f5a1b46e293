#!/usr/bin/env bash
# Runs the README's first command, `bash scripts/quickstart.sh`, and checks
# that it shows the three events of examples/hello.c as received.
set -uo pipefail
cd "$(dirname "$0")/../.."

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! timeout 900 bash scripts/quickstart.sh >"$out" 2>&1; then
  cat "$out"
  echo "10-quickstart: the quick start failed" >&2
  exit 1
fi
cat "$out"
fail=0
expect() {
  grep -qE "$1" "$out" || { echo "10-quickstart: output lacks: $1" >&2; fail=1; }
}
expect '^ *listening on tcp://127\.0\.0\.1:[0-9]+'
expect 'hello: shutdown: ok'
expect ' INFO +hello\.main: hello from C \{"application":"hello","environment":"demo","func_name":"main","line":[0-9]+,"path":"examples/hello\.c"\}'
expect ' INFO +hello\.auth: user signed in \{.*"user_id":42,"user_name":"ada"\}'
expect ' WARNING hello\.main: disk almost full: 97% used \{.*"request_id":"req-7"\}'
expect '^quickstart: ok: '
exit $fail
