#!/usr/bin/env bash
# Quick start: build the library, start a loopback receiver, run examples/hello.c
# against it and show the events it received.
# (Provisional receiver: a few lines of Python; the logstash-async CLI replaces it.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
out=$(mktemp -d)
trap 'kill $receiver 2>/dev/null || true; rm -rf "$out"' EXIT
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True)
c, _ = s.accept(); s.settimeout(10)
for line in c.makefile():
    print("received:", line.rstrip(), flush=True)
' > "$out/received" &
receiver=$!
for _ in $(seq 50); do [ -s "$out/received" ] && break; sleep 0.1; done
port=$(head -1 "$out/received")
cc -Wall -Werror -o "$out/hello" examples/hello.c -Iinclude -Ltarget/release -llogstash_async
LD_LIBRARY_PATH=target/release "$out/hello" 127.0.0.1 "$port"
sleep 0.3
tail -n +2 "$out/received"
