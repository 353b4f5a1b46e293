/* The C API's native features, as a consumer of the installed package uses
 * them, each checked on the JSON a loopback receiver gets: typed fields and
 * their escaping, the caller's location (macros, printf-style with a marked
 * truncation), two threads with their own contexts never mixing, the level
 * threshold, notices by callback and by poll on a refused connection and on
 * its recovery, bad input, shut-down handles, and a custom transport's
 * user_data freed right after shutdown (valgrind and AddressSanitizer watch).
 * FEATURES_ITERATIONS sets the events per thread (default 1000).
 * Exit status 0 = all good. */
#define _POSIX_C_SOURCE 200809L
#define LOGSTASH_ASYNC_FORMAT_BUFFER 64 /* small, to see a truncation */
#include <logstash_async.h>

#include "receiver.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* Generous: valgrind makes everything 20-50 times slower. */
enum { TIMEOUT_MS = 60000 };

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static logstash_async_handle *create(int port, const char *more) {
  char config[512], err[256];
  snprintf(config, sizeof config,
           "{\"host\":\"127.0.0.1\",\"port\":%d,\"stderr_errors\":false,\"backoff_initial\":0.05,"
           "\"backoff_max\":0.2,\"queued_events_flush_interval\":0.05,\"queue_check_interval\":0.05%s}",
           port, more);
  logstash_async_handle *h = logstash_async_create(config, err, sizeof err);
  if (h == NULL) fprintf(stderr, "create: %s\n", err);
  CHECK(h != NULL);
  return h;
}

/* The line of `text` holding `needle` (a copy the caller frees), or NULL. */
static char *line_with(const char *text, const char *needle) {
  const char *at = strstr(text, needle);
  if (at == NULL) return NULL;
  const char *start = at, *end = strchr(at, '\n');
  while (start > text && start[-1] != '\n') start--;
  size_t n = end ? (size_t)(end - start) : strlen(start);
  char *line = malloc(n + 1);
  memcpy(line, start, n);
  line[n] = '\0';
  return line;
}

/* The string value of "key" in a JSON line (no escapes expected), into out. */
static int string_value(const char *line, const char *key, char *out, size_t cap) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char *at = strstr(line, pattern);
  if (at == NULL) return 0;
  at += strlen(pattern);
  const char *end = strchr(at, '"');
  if (end == NULL || (size_t)(end - at) >= cap) return 0;
  memcpy(out, at, (size_t)(end - at));
  out[end - at] = '\0';
  return 1;
}

static void fields_escaping_location_and_format(void) {
  receiver *sink = receiver_start(2 * TIMEOUT_MS);
  logstash_async_handle *h = create(receiver_port(sink), "");
  logstash_async_field fields[] = {
      logstash_async_field_str("k\"ey\\", "a \"q\" b\n\t\x01 caf\xc3\xa9"),
      logstash_async_field_int("user_id", -42),
      logstash_async_field_uint("big", 18446744073709551615ull),
      logstash_async_field_double("ratio", 0.25),
      logstash_async_field_bool("ok", 1),
      logstash_async_field_null("none"),
      logstash_async_field_json("cart", "{\"items\":[1,2]}"),
      logstash_async_field_str_len("cut", "abcdef", 3),
  };
  CHECK(logstash_async_log_fields(h, LOGSTASH_ASYNC_LEVEL_INFO, "features", "fields", fields, 8) ==
        LOGSTASH_ASYNC_OK);
  const int line = __LINE__ + 1;
  CHECK(LOGSTASH_ASYNC_WARNING(h, "features", "with location") == LOGSTASH_ASYNC_OK);
  CHECK(LOGSTASH_ASYNC_INFOF(h, "features", "user %s has %d items", "ada", 3) == LOGSTASH_ASYNC_OK);
  /* 62 'a', then a 2-byte character cut by the 64-byte buffer. */
  CHECK(LOGSTASH_ASYNC_ERRORF(h, "features", "%s\xc3\xa9 and more", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") ==
        LOGSTASH_ASYNC_OK);
  CHECK(LOGSTASH_ASYNC_LOG_FIELDS(h, LOGSTASH_ASYNC_LEVEL_CRITICAL, "features", "fields here", fields + 1, 1) ==
        LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_flush(h, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_shutdown(h, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  char *got = receiver_finish(sink);
  CHECK(receiver_count_lines(got) == 5);

  char *l = line_with(got, "\"message\":\"fields\"");
  CHECK(l != NULL);
  CHECK(strstr(l, "\"k\\\"ey\\\\\":\"a \\\"q\\\" b\\n\\t\\u0001 caf\\u00e9\"") != NULL);
  CHECK(strstr(l, "\"user_id\":-42") && strstr(l, "\"big\":18446744073709551615"));
  CHECK(strstr(l, "\"ratio\":0.25") && strstr(l, "\"ok\":true") && strstr(l, "\"none\":null"));
  CHECK(strstr(l, "\"cart\":{\"items\":[1,2]}") && strstr(l, "\"cut\":\"abc\""));
  CHECK(strstr(l, "\"logger_name\":\"features\"") && strstr(l, "\"level\":\"INFO\""));
  free(l);

  l = line_with(got, "\"message\":\"with location\"");
  char expected[512];
  snprintf(expected, sizeof expected, "\"path\":\"%s\"", __FILE__);
  CHECK(l != NULL && strstr(l, expected) != NULL);
  snprintf(expected, sizeof expected, "\"line\":%d", line);
  CHECK(strstr(l, expected) != NULL);
  CHECK(strstr(l, "\"func_name\":\"fields_escaping_location_and_format\"") != NULL);
  CHECK(strstr(l, "\"level\":\"WARNING\"") != NULL);
  free(l);

  CHECK(strstr(got, "\"message\":\"user ada has 3 items\"") != NULL);
  l = line_with(got, "\"message_truncated\":true");
  CHECK(l != NULL);
  /* Cut to the 62 'a' (the partial character dropped), then the mark. */
  CHECK(strstr(l, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\u2026\"") != NULL);
  CHECK(strstr(l, "\"level\":\"ERROR\"") != NULL);
  free(l);
  l = line_with(got, "\"message\":\"fields here\"");
  CHECK(l != NULL && strstr(l, "\"user_id\":-42") && strstr(l, "\"func_name\":"));
  free(l);
  free(got);
  puts("fields, escaping, location, printf: ok");
}

/* Two threads, each setting its own request id before each event. */
struct worker_args {
  logstash_async_handle *h;
  int thread;
  int iterations;
};

static void *context_worker(void *arg) {
  struct worker_args *a = arg;
  char id[32];
  for (int i = 0; i < a->iterations; i++) {
    snprintf(id, sizeof id, "t%d-%d", a->thread, i);
    logstash_async_field request = logstash_async_field_str("request_id", id);
    CHECK(logstash_async_context_set_field(a->h, &request) == LOGSTASH_ASYNC_OK);
    logstash_async_field n = logstash_async_field_int("i", i);
    CHECK(logstash_async_log_fields(a->h, LOGSTASH_ASYNC_LEVEL_INFO, "ctx", id, &n, 1) == LOGSTASH_ASYNC_OK);
  }
  CHECK(logstash_async_context_remove(a->h, "request_id") == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_log(a->h, "INFO", "ctx", "no context") == LOGSTASH_ASYNC_OK);
  return NULL;
}

static void contexts_never_mix(int iterations) {
  receiver *sink = receiver_start(2 * TIMEOUT_MS);
  logstash_async_handle *h = create(receiver_port(sink), ",\"max_queue_events\":1000000");
  CHECK(logstash_async_set_extra(h, "request_id", "\"from set_extra\"") == LOGSTASH_ASYNC_OK);
  pthread_t threads[2];
  struct worker_args args[2];
  for (int t = 0; t < 2; t++) {
    args[t].h = h;
    args[t].thread = t;
    args[t].iterations = iterations;
    CHECK(pthread_create(&threads[t], NULL, context_worker, &args[t]) == 0);
  }
  for (int t = 0; t < 2; t++) pthread_join(threads[t], NULL);
  CHECK(logstash_async_context_set(h, "request_id", "\"main\"") == LOGSTASH_ASYNC_OK);
  const char *own = "{\"message\":\"own wins\",\"request_id\":\"the event's\"}";
  CHECK(logstash_async_emit_json(h, own, strlen(own)) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_flush(h, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_shutdown(h, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  char *got = receiver_finish(sink);
  CHECK(receiver_count_lines(got) == (size_t)(2 * iterations + 3));
  size_t checked = 0;
  for (char *line = strtok(got, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    char message[64], request[64];
    CHECK(string_value(line, "message", message, sizeof message));
    CHECK(string_value(line, "request_id", request, sizeof request));
    if (strcmp(message, "no context") == 0) {
      CHECK(strcmp(request, "from set_extra") == 0);
    } else if (strcmp(message, "own wins") == 0) {
      CHECK(strcmp(request, "the event's") == 0);
    } else {
      if (strcmp(message, request) != 0) fprintf(stderr, "mixed: %s\n", line);
      CHECK(strcmp(message, request) == 0);
      checked++;
    }
  }
  CHECK(checked == (size_t)(2 * iterations));
  free(got);
  printf("contexts: %zu events, none mixed: ok\n", checked);
}

static void level_threshold(void) {
  receiver *sink = receiver_start(2 * TIMEOUT_MS);
  logstash_async_handle *h = create(receiver_port(sink), ",\"level\":\"WARN\"");
  CHECK(logstash_async_level_enabled(h, LOGSTASH_ASYNC_LEVEL_INFO) == 0);
  CHECK(logstash_async_level_enabled(h, LOGSTASH_ASYNC_LEVEL_WARNING) == 1);
  CHECK(LOGSTASH_ASYNC_INFO(h, "lvl", "dropped") == LOGSTASH_ASYNC_OK);
  CHECK(LOGSTASH_ASYNC_DEBUGF(h, "lvl", "dropped %d", 1) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_log(h, "info", "lvl", "dropped") == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_log(h, "NOTICE", "lvl", "refused") == LOGSTASH_ASYNC_UNKNOWN_LEVEL);
  CHECK(logstash_async_log(h, "fatal", "lvl", "kept") == LOGSTASH_ASYNC_OK);
  CHECK(LOGSTASH_ASYNC_ERROR(h, "lvl", "kept") == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_flush(h, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  char stats[1024];
  CHECK(logstash_async_stats_json(h, stats, sizeof stats, NULL) == LOGSTASH_ASYNC_OK);
  CHECK(strstr(stats, "\"below_level\":3") != NULL);
  CHECK(logstash_async_shutdown(h, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  char *got = receiver_finish(sink);
  CHECK(receiver_count_lines(got) == 2 && strstr(got, "dropped") == NULL);
  CHECK(strstr(got, "\"level\":\"CRITICAL\"") && strstr(got, "\"level\":\"ERROR\""));
  free(got);
  puts("level threshold: ok");
}

/* Notices seen by the callback (on the worker thread). */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static int seen[8];

static void on_notice(void *user_data, const logstash_async_notice *n) {
  CHECK(user_data == (void *)seen);
  CHECK(n->message[n->message_len] == '\0');
  pthread_mutex_lock(&seen_lock);
  if (n->kind < 8) seen[n->kind]++;
  pthread_mutex_unlock(&seen_lock);
}

static int seen_count(int kind) {
  pthread_mutex_lock(&seen_lock);
  int n = seen[kind];
  pthread_mutex_unlock(&seen_lock);
  return n;
}

/* Polls until a notice of `kind` came (bounded). */
static void poll_until(logstash_async_handle *h, unsigned kind) {
  for (int tries = 0; tries < TIMEOUT_MS / 10; tries++) {
    logstash_async_notice n;
    char buf[512];
    while (logstash_async_poll_notice(h, &n, buf, sizeof buf) == LOGSTASH_ASYNC_OK &&
           n.kind != LOGSTASH_ASYNC_NOTICE_NONE) {
      if (n.kind == kind) return;
    }
    sleep_ms(10);
  }
  fprintf(stderr, "no %s notice\n", logstash_async_notice_kind_str((int)kind));
  exit(1);
}

static void notices_on_refusal_and_recovery(void) {
  int port = receiver_free_port();
  CHECK(port > 0);
  char config[512], err[256];
  snprintf(config, sizeof config,
           "{\"host\":\"127.0.0.1\",\"port\":%d,\"stderr_errors\":false,\"backoff_initial\":0.05,"
           "\"backoff_max\":0.1,\"queued_events_flush_interval\":0.05}",
           port);
  logstash_async_options options = LOGSTASH_ASYNC_OPTIONS_INIT;
  options.notice_fn = on_notice;
  options.notice_user_data = seen;
  logstash_async_handle *cb = logstash_async_create_with_options(config, &options, err, sizeof err);
  CHECK(cb != NULL);
  logstash_async_handle *polled = create(port, "");
  CHECK(logstash_async_log(cb, NULL, "notices", "while down") == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_log(polled, NULL, "notices", "while down") == LOGSTASH_ASYNC_OK);
  for (int i = 0; i < TIMEOUT_MS / 10 && seen_count(LOGSTASH_ASYNC_NOTICE_DELIVERY_FAILING) == 0; i++)
    sleep_ms(10);
  CHECK(seen_count(LOGSTASH_ASYNC_NOTICE_DELIVERY_FAILING) == 1);
  poll_until(polled, LOGSTASH_ASYNC_NOTICE_DELIVERY_FAILING);
  receiver *sink = receiver_start_on(port, 2 * TIMEOUT_MS);
  CHECK(sink != NULL);
  for (int i = 0; i < TIMEOUT_MS / 10 && seen_count(LOGSTASH_ASYNC_NOTICE_DELIVERY_RECOVERED) == 0; i++)
    sleep_ms(10);
  CHECK(seen_count(LOGSTASH_ASYNC_NOTICE_DELIVERY_RECOVERED) == 1);
  poll_until(polled, LOGSTASH_ASYNC_NOTICE_DELIVERY_RECOVERED);
  CHECK(logstash_async_flush(cb, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_flush(polled, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_shutdown(cb, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_shutdown(polled, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  char *got = receiver_finish(sink);
  CHECK(receiver_count_lines(got) == 2);
  free(got);
  puts("notices (callback and poll) on refusal and recovery: ok");
}

static void bad_input_loses_nothing_else(void) {
  receiver *sink = receiver_start(2 * TIMEOUT_MS);
  logstash_async_handle *h = create(receiver_port(sink), "");
  logstash_async_field f = logstash_async_field_str("k", "bad \xff utf-8");
  CHECK(logstash_async_log_fields(h, LOGSTASH_ASYNC_LEVEL_INFO, NULL, "m", &f, 1) == LOGSTASH_ASYNC_INVALID_UTF8);
  CHECK(logstash_async_log_fields(h, LOGSTASH_ASYNC_LEVEL_INFO, NULL, "m", NULL, 2) == LOGSTASH_ASYNC_NULL_ARGUMENT);
  CHECK(logstash_async_log_fields(h, LOGSTASH_ASYNC_LEVEL_INFO, NULL, "m", &f, LOGSTASH_ASYNC_MAX_FIELDS + 1) ==
        LOGSTASH_ASYNC_TOO_MANY_FIELDS);
  f.type = 1000;
  CHECK(logstash_async_log_fields(h, LOGSTASH_ASYNC_LEVEL_INFO, NULL, "m", &f, 1) ==
        LOGSTASH_ASYNC_UNKNOWN_FIELD_TYPE);
  CHECK(logstash_async_log_fields(h, 25, NULL, "m", NULL, 0) == LOGSTASH_ASYNC_UNKNOWN_LEVEL);
  f = logstash_async_field_json("j", "{\"unterminated\":");
  CHECK(logstash_async_log_fields(h, LOGSTASH_ASYNC_LEVEL_INFO, NULL, "m", &f, 1) == LOGSTASH_ASYNC_INVALID_JSON);
  CHECK(LOGSTASH_ASYNC_INFO(h, "bad", "the one that arrives") == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_flush(h, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_shutdown(h, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  /* A shut-down handle is closed, not freed memory. */
  CHECK(logstash_async_shutdown(h, 10) == LOGSTASH_ASYNC_CLOSED);
  CHECK(LOGSTASH_ASYNC_INFO(h, "bad", "after shutdown") == LOGSTASH_ASYNC_CLOSED);
  CHECK(logstash_async_context_set(h, "k", "1") == LOGSTASH_ASYNC_CLOSED);
  char *got = receiver_finish(sink);
  CHECK(receiver_count_lines(got) == 1 && strstr(got, "the one that arrives") != NULL);
  free(got);
  puts("bad input and closed handles: ok");
}

/* A custom transport whose user_data is freed as soon as shutdown returns
 * (without close_fn) or in close_fn: valgrind and ASan see any later use. */
struct transport_state {
  int sends;
};
static volatile int in_send = 0, closed = 0;

static int slow_failing_send(void *user_data, const char *const *events, const size_t *lens, size_t count) {
  (void)events;
  (void)lens;
  (void)count;
  struct transport_state *s = user_data;
  in_send = 1;
  s->sends++;
  sleep_ms(300);
  s->sends++;
  in_send = 0;
  return 1;
}

static void free_state(void *user_data) {
  free(user_data);
  closed = 1;
}

static void transport_user_data_after_shutdown(void) {
  const char *config = "{\"backoff_initial\":0.01,\"backoff_max\":0.01,\"stderr_errors\":false,"
                       "\"queued_events_flush_interval\":0}";
  for (int with_close = 0; with_close < 2; with_close++) {
    struct transport_state *state = calloc(1, sizeof *state);
    char err[256];
    logstash_async_handle *h = logstash_async_create_with_transport(
        config, slow_failing_send, with_close ? free_state : NULL, state, err, sizeof err);
    CHECK(h != NULL);
    CHECK(logstash_async_log(h, NULL, NULL, "m") == LOGSTASH_ASYNC_OK);
    for (int i = 0; i < TIMEOUT_MS && !in_send; i++) sleep_ms(1);
    CHECK(in_send);
    CHECK(logstash_async_shutdown(h, 20) == LOGSTASH_ASYNC_TIMEOUT);
    if (!with_close) {
      CHECK(!in_send); /* shutdown waited for the call in progress */
      free(state);
    } else {
      for (int i = 0; i < TIMEOUT_MS && !closed; i++) sleep_ms(1);
      CHECK(closed);
    }
    sleep_ms(100); /* a worker left running would touch freed memory now */
  }
  puts("custom transport user_data freed after shutdown: ok");
}

int main(void) {
  const char *env = getenv("FEATURES_ITERATIONS");
  int iterations = env ? atoi(env) : 1000;
  fields_escaping_location_and_format();
  contexts_never_mix(iterations > 0 ? iterations : 1);
  level_threshold();
  notices_on_refusal_and_recovery();
  bad_input_loses_nothing_else();
  transport_user_data_after_shutdown();
  puts("ok");
  return 0;
}
