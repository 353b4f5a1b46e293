/* producer.c: one C producer, end to end, as an application sees it.
 *
 * Creates a handle from the configuration given, emits N 200-byte events on
 * the calling thread (each call timed with CLOCK_MONOTONIC), then flushes:
 * the rate is N over the time from the first emit to the flush's return,
 * that is until the receiver had every event (acknowledged, for beats and
 * http). Prints one line of key=value figures for benches/throughput.rs,
 * which starts the receivers and runs this program against them (and, for a
 * before/after comparison, against another build of the library).
 * Not a test: run it through scripts/bench.sh.
 *
 *   cc -O2 -Wall -pthread -o producer benches/c/producer.c -Iinclude \
 *      -Ltarget/release -llogstash_async
 *   LD_LIBRARY_PATH=target/release ./producer '{"host":...}' 1000000
 */
#include "logstash_async.h"
#include "bench_events.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: producer CONFIG_JSON EVENTS\n");
    return 2;
  }
  const char *config = argv[1];
  size_t n = strtoul(argv[2], NULL, 10);
  if (n == 0) n = 1;
  char error[512];
  logstash_async_handle *h = logstash_async_create(config, error, sizeof error);
  if (h == NULL) {
    fprintf(stderr, "create: %s\n", error);
    return 1;
  }
  static char events[1000][256];
  static size_t lens[1000];
  bench_events(events, lens);
  uint64_t *samples = malloc(n * sizeof *samples);
  if (samples == NULL) return 1;
  size_t refused = 0;
  uint64_t started = now_ns();
  for (size_t i = 0; i < n; i++) {
    uint64_t t = now_ns();
    if (logstash_async_emit_json(h, events[i % 1000], lens[i % 1000]) != LOGSTASH_ASYNC_OK)
      refused++;
    samples[i] = now_ns() - t;
  }
  uint64_t emitted = now_ns();
  int flushed = logstash_async_flush(h, 600000);
  uint64_t done = now_ns();
  qsort(samples, n, sizeof *samples, cmp_u64);
  printf("events=%zu refused=%zu flush=%d seconds=%.3f emit_seconds=%.3f "
         "p50_us=%.2f p99_us=%.2f p999_us=%.2f max_us=%.2f\n",
         n, refused, flushed, (done - started) / 1e9, (emitted - started) / 1e9,
         samples[n / 2] / 1e3, samples[n * 99 / 100] / 1e3, samples[n * 999 / 1000] / 1e3,
         samples[n - 1] / 1e3);
  free(samples);
  logstash_async_shutdown(h, 5000);
  return flushed == LOGSTASH_ASYNC_OK ? 0 : 3;
}
