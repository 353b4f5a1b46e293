/* emit_latency.c: what a C caller pays per call.
 *
 * Emits N 200-byte events on the calling thread, timing each call with
 * CLOCK_MONOTONIC, to a counting sink on 127.0.0.1 (receiver up) and then to a
 * closed port (receiver down), and prints the latency percentiles; then the
 * same size of event built from typed fields (logstash_async_log_fields),
 * with a thread context set, through the printf-style macro, and below the
 * `level` option (receiver up). Not a test: run it through scripts/bench.sh.
 *
 *   cc -O2 -Wall -pthread -o emit_latency benches/c/emit_latency.c -Iinclude \
 *      -Ltarget/release -llogstash_async
 *   LD_LIBRARY_PATH=target/release ./emit_latency [events [scenario]]
 *
 * Instructions per call (repeatable, whatever the machine's load):
 *   valgrind --tool=callgrind --toggle-collect=call_once ./emit_latency 20000 'log_fields, receiver up'
 */
#include "logstash_async.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile int sink_stop = 0;

/* Accepts one connection at a time and discards what it reads. */
static void *sink_main(void *arg) {
  int listener = *(int *)arg;
  char buf[1 << 16];
  while (!sink_stop) {
    int c = accept(listener, NULL, NULL);
    if (c < 0) break;
    while (read(c, buf, sizeof buf) > 0) {
    }
    close(c);
  }
  return NULL;
}

static int listen_any(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    perror("sink");
    exit(1);
  }
  *port = ntohs(a.sin_port);
  return fd;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* What each scenario calls. */
enum call { EMIT_JSON, LOG_FIELDS, LOG_FIELDS_CONTEXT, LOGF_MACRO, BELOW_LEVEL };

/* Not inlined: callgrind counts the instructions of one call with
 * --toggle-collect=call_once (and the scenario named on the command line). */
__attribute__((noinline)) static logstash_async_result call_once(logstash_async_handle *h, enum call call, size_t i, const char *event,
                                       size_t len) {
  static const char pad[] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
  switch (call) {
    case EMIT_JSON:
      return logstash_async_emit_json(h, event, len);
    case LOG_FIELDS:
    case LOG_FIELDS_CONTEXT:
    case BELOW_LEVEL: {
      /* The emit_json event's content, as typed fields. */
      logstash_async_field fields[2] = {logstash_async_field_int("seq", (int64_t)i),
                                        logstash_async_field_str("pad", pad)};
      int level = call == BELOW_LEVEL ? LOGSTASH_ASYNC_LEVEL_DEBUG : LOGSTASH_ASYNC_LEVEL_INFO;
      return logstash_async_log_fields(h, level, "bench", "benchmark event number          1", fields, 2);
    }
    case LOGF_MACRO:
      return LOGSTASH_ASYNC_INFOF(h, "bench", "benchmark event number %10zu %s", i, pad);
  }
  return LOGSTASH_ASYNC_INTERNAL_ERROR;
}

/* The scenario to run (argv[2]; NULL: all). */
static const char *only = NULL;

static void run(const char *label, int port, size_t n, enum call call) {
  if (only != NULL && strcmp(only, label) != 0) return;
  char config[256], error[256];
  snprintf(config, sizeof config,
           "{\"host\":\"127.0.0.1\",\"port\":%d,\"max_queue_events\":2000000,"
           "\"stderr_errors\":false,\"level\":\"%s\"}",
           port, call == BELOW_LEVEL ? "INFO" : "DEBUG");
  logstash_async_handle *h = logstash_async_create(config, error, sizeof error);
  if (h == NULL) {
    fprintf(stderr, "create: %s\n", error);
    exit(1);
  }
  /* 1000 distinct 200-byte events, built before timing starts. */
  static char events[1000][256];
  static size_t lens[1000];
  for (int i = 0; i < 1000; i++) {
    int len = snprintf(events[i], sizeof events[i],
                       "{\"message\":\"benchmark event number %10d\",\"level\":\"INFO\","
                       "\"logger_name\":\"bench\",\"seq\":%d,\"pad\":\"",
                       i, i);
    while (len < 198) events[i][len++] = 'x';
    events[i][len++] = '"';
    events[i][len++] = '}';
    lens[i] = (size_t)len;
  }
  if (call == LOG_FIELDS_CONTEXT) {
    logstash_async_field request_id = logstash_async_field_str("request_id", "r-0123456789");
    logstash_async_context_set_field(h, &request_id);
  }
  uint64_t *samples = malloc(n * sizeof *samples);
  size_t failed = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t t = now_ns();
    if (call_once(h, call, i, events[i % 1000], lens[i % 1000]) != LOGSTASH_ASYNC_OK) failed++;
    samples[i] = now_ns() - t;
  }
  qsort(samples, n, sizeof *samples, cmp_u64);
  printf("%-34s p50 %6.2f us  p99 %6.2f us  p99.9 %7.2f us  max %9.2f us  (%zu events, %zu refused)\n",
         label, samples[n / 2] / 1e3, samples[n * 99 / 100] / 1e3, samples[n * 999 / 1000] / 1e3,
         samples[n - 1] / 1e3, n, failed);
  free(samples);
  logstash_async_shutdown(h, 2000);
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
  only = argc > 2 ? argv[2] : NULL;
  if (n == 0) n = 1;
  int port;
  int listener = listen_any(&port);
  pthread_t sink;
  pthread_create(&sink, NULL, sink_main, &listener);
  run("emit_json, receiver up", port, n, EMIT_JSON);
  run("log_fields, receiver up", port, n, LOG_FIELDS);
  run("log_fields + thread context", port, n, LOG_FIELDS_CONTEXT);
  run("LOGSTASH_ASYNC_INFOF (+ location)", port, n, LOGF_MACRO);
  run("log_fields below the level option", port, n, BELOW_LEVEL);
  sink_stop = 1;
  shutdown(listener, SHUT_RDWR);
  close(listener);
  pthread_join(sink, NULL);

  int down_port;
  close(listen_any(&down_port)); /* a port nobody listens on */
  run("emit_json, receiver down", down_port, n, EMIT_JSON);
  return 0;
}
