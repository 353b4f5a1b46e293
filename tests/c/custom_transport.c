/* A C host delivering events through its own function
 * (logstash_async_create_with_transport): one callback fails twice and then
 * succeeds (the batch must arrive once, in order), one records every event.
 * Prints "ok" and exits 0 on success; prints what failed and exits 1. */
#include "logstash_async.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      exit(1);                                                           \
    }                                                                    \
  } while (0)

#define MAX_EVENTS 1000

struct recorder {
  int failures_left;
  int calls;
  int closed;
  int on_main_thread;
  pthread_t main_thread;
  size_t count;
  char *events[MAX_EVENTS];
};

static int record(void *user_data, const char *const *events, const size_t *lens,
                  size_t count) {
  struct recorder *r = user_data;
  r->calls++;
  if (pthread_equal(pthread_self(), r->main_thread)) {
    r->on_main_thread = 1;
  }
  if (r->failures_left > 0) {
    r->failures_left--;
    return 1; /* retry later */
  }
  for (size_t i = 0; i < count && r->count < MAX_EVENTS; i++) {
    char *copy = malloc(lens[i] + 1);
    if (copy == NULL) {
      return 1;
    }
    memcpy(copy, events[i], lens[i]); /* not NUL-terminated */
    copy[lens[i]] = '\0';
    r->events[r->count++] = copy;
  }
  return 0;
}

static void close_recorder(void *user_data) {
  struct recorder *r = user_data;
  r->closed++;
}

static void free_events(struct recorder *r) {
  for (size_t i = 0; i < r->count; i++) {
    free(r->events[i]);
  }
  r->count = 0;
}

static void fails_twice_then_succeeds(void) {
  struct recorder r;
  memset(&r, 0, sizeof r);
  r.failures_left = 2;
  r.main_thread = pthread_self();
  char err[256];
  logstash_async_handle *h = logstash_async_create_with_transport(
      "{\"backoff_initial\": 0.02, \"backoff_max\": 0.1, \"queue_check_interval\": 0.02}",
      record, close_recorder, &r, err, sizeof err);
  CHECK(h != NULL);
  CHECK(err[0] == '\0');
  for (int i = 0; i < 5; i++) {
    char event[64];
    int n = snprintf(event, sizeof event, "{\"message\":\"event %d\",\"seq\":%d}", i, i);
    CHECK(logstash_async_emit_json(h, event, (size_t)n) == LOGSTASH_ASYNC_OK);
  }
  CHECK(logstash_async_flush(h, 30000) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_shutdown(h, 30000) == LOGSTASH_ASYNC_OK);
  CHECK(r.calls == 3);
  CHECK(r.closed == 1);
  CHECK(!r.on_main_thread);
  CHECK(r.count == 5);
  for (int i = 0; i < 5; i++) {
    char expected[32];
    snprintf(expected, sizeof expected, "\"message\":\"event %d\"", i);
    CHECK(strstr(r.events[i], expected) != NULL);
    CHECK(r.events[i][0] == '{');
  }
  free_events(&r);
}

static void records_every_event(void) {
  struct recorder r;
  memset(&r, 0, sizeof r);
  r.main_thread = pthread_self();
  char err[256];
  logstash_async_handle *h = logstash_async_create_with_transport(
      "{\"queued_events_batch_size\": 16, \"formatter\": \"ecs\"}", record, NULL, &r, err,
      sizeof err);
  CHECK(h != NULL);
  CHECK(logstash_async_set_extra(h, "lang", "\"c\"") == LOGSTASH_ASYNC_OK);
  for (int i = 0; i < 200; i++) {
    char message[32];
    snprintf(message, sizeof message, "line %d", i);
    CHECK(logstash_async_log(h, "WARNING", "c.host", message) == LOGSTASH_ASYNC_OK);
  }
  CHECK(logstash_async_flush(h, 30000) == LOGSTASH_ASYNC_OK);
  CHECK(r.count == 200);
  CHECK(r.calls >= 200 / 16);
  for (int i = 0; i < 200; i++) {
    char expected[32];
    snprintf(expected, sizeof expected, "\"message\":\"line %d\"", i);
    CHECK(strstr(r.events[i], expected) != NULL);
    CHECK(strstr(r.events[i], "\"level\":\"WARNING\"") != NULL);
    CHECK(strstr(r.events[i], "\"logger\":\"c.host\"") != NULL);
    CHECK(strstr(r.events[i], "\"lang\":\"c\"") != NULL);
  }
  CHECK(logstash_async_shutdown(h, 30000) == LOGSTASH_ASYNC_OK);
  CHECK(r.closed == 0); /* no close_fn given */
  free_events(&r);
}

static void refuses_bad_arguments(void) {
  char err[256];
  logstash_async_handle *h =
      logstash_async_create_with_transport("{}", NULL, NULL, NULL, err, sizeof err);
  CHECK(h == NULL);
  CHECK(strstr(err, "send_fn") != NULL);
  h = logstash_async_create_with_transport("{\"transport\":\"tcp\"}", record, NULL, NULL, err,
                                           sizeof err);
  CHECK(h == NULL);
  CHECK(strncmp(err, "transport:", 10) == 0);
}

int main(void) {
  fails_twice_then_succeeds();
  records_every_event();
  refuses_bad_arguments();
  puts("ok");
  return 0;
}
