#!/usr/bin/env bash
# Benchmarks (not tests): the end-to-end table (benches/throughput.rs) and the
# emit latency a C caller sees (benches/c/emit_latency.c against the header
# and the .so). BENCH_EVENTS sets the events per end-to-end scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --lib
out=target/bench
mkdir -p "$out"
cc -O2 -Wall -pthread -o "$out/emit_latency" benches/c/emit_latency.c -Iinclude \
  -Ltarget/release -llogstash_async
echo "== C caller: logstash_async_emit_json latency on the calling thread"
LD_LIBRARY_PATH=target/release "$out/emit_latency" "${C_BENCH_EVENTS:-200000}"
echo "== cargo bench --bench throughput"
cargo bench --bench throughput
