#!/usr/bin/env bash
# Benchmarks (not tests): the end-to-end table (benches/throughput.rs), the
# latency a C caller sees per call (benches/c/emit_latency.c: emit_json, the
# typed-fields call, with a thread context, the printf-style macro, below the
# level option) and a C++ caller through the spdlog sink
# (benches/cpp/spdlog_latency.cpp, when spdlog is installed), against the
# header and the .so. BENCH_EVENTS sets the events per end-to-end scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --lib
out=target/bench
mkdir -p "$out"
cc -O2 -Wall -pthread -o "$out/emit_latency" benches/c/emit_latency.c -Iinclude \
  -Ltarget/release -llogstash_async
echo "== C caller: latency per call on the calling thread"
LD_LIBRARY_PATH=target/release "$out/emit_latency" "${C_BENCH_EVENTS:-200000}"
if pkg-config --exists spdlog; then
  # shellcheck disable=SC2046 # word splitting of pkg-config's output is intended
  c++ -O2 -std=c++17 -Wall -Wextra -pthread -o "$out/spdlog_latency" benches/cpp/spdlog_latency.cpp -Iinclude \
    $(pkg-config --cflags --libs spdlog) -Ltarget/release -llogstash_async
  echo "== C++ caller: spdlog sink and level calls, latency per record on the calling thread"
  LD_LIBRARY_PATH=target/release "$out/spdlog_latency" "${C_BENCH_EVENTS:-200000}"
fi
echo "== cargo bench --bench throughput"
cargo bench --bench throughput
