#!/usr/bin/env bash
# Benchmarks (not tests): the end-to-end table (benches/throughput.rs) and the
# emit latency a C caller sees (benches/c/emit_latency.c against the header
# and the .so). BENCH_EVENTS sets the events per end-to-end scenario. The
# acknowledged transports' scenarios (beats, http, with receivers answering
# at once and after 20 ms) run one C producer (benches/c/producer.c); with
# BENCH_OLD_LIB=DIR (a directory holding another build's .so) they run it
# against that build as well. Arguments name the scenarios to run (default:
# all), e.g. `bash scripts/bench.sh decode beats beats-20ms http http-20ms`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --lib
out=target/bench
mkdir -p "$out"
cc -O2 -Wall -pthread -o "$out/emit_latency" benches/c/emit_latency.c -Iinclude \
  -Ltarget/release -llogstash_async
cc -O2 -Wall -pthread -o "$out/producer" benches/c/producer.c -Iinclude \
  -Ltarget/release -llogstash_async
if [ $# -eq 0 ]; then
  echo "== C caller: logstash_async_emit_json latency on the calling thread"
  LD_LIBRARY_PATH=target/release "$out/emit_latency" "${C_BENCH_EVENTS:-200000}"
fi
echo "== cargo bench --bench throughput $*"
BENCH_C_PRODUCER="$PWD/$out/producer" LD_LIBRARY_PATH="$PWD/target/release" \
  cargo bench --bench throughput -- "$@"
