/* The C consumer of the installed package: creates a handle, emits events
 * through the C API to a loopback receiver, shuts down, and checks that the
 * events arrived and that a wrong configuration gets its error message.
 * Built by CMake (shared and static), by pkg-config and by a plain -l line;
 * also run under valgrind and AddressSanitizer. Exit status 0 = all good. */
#include <logstash_async.h>

#include "receiver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* Generous: valgrind makes everything 20-50 times slower. */
enum { TIMEOUT_MS = 60000 };

int main(void) {
  CHECK(strcmp(logstash_async_version(), LOGSTASH_ASYNC_VERSION_STRING) == 0);

  /* A wrong configuration: no handle, and a message naming the option. */
  char err[256];
  logstash_async_handle *bad =
      logstash_async_create("{\"host\":\"127.0.0.1\",\"port\":70000}", err, sizeof err);
  CHECK(bad == NULL);
  printf("wrong config rejected: %s\n", err);
  CHECK(strstr(err, "port: 70000 is out of range") != NULL);

  receiver *sink = receiver_start(2 * TIMEOUT_MS);
  CHECK(sink != NULL);
  char config[256];
  snprintf(config, sizeof config,
           "{\"host\":\"127.0.0.1\",\"port\":%d,\"extra\":{\"lang\":\"c\"}}", receiver_port(sink));
  logstash_async_handle *h = logstash_async_create(config, err, sizeof err);
  if (h == NULL) fprintf(stderr, "create: %s\n", err);
  CHECK(h != NULL);

  const char *event = "{\"message\":\"c event one\",\"seq\":1}";
  CHECK(logstash_async_emit_json(h, event, strlen(event)) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_set_extra(h, "request_id", "\"r-42\"") == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_log(h, "WARNING", "consumer.c", "c event two") == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_emit_json(h, "[1]", 3) == LOGSTASH_ASYNC_NOT_AN_OBJECT);
  CHECK(logstash_async_flush(h, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_shutdown(h, TIMEOUT_MS) == LOGSTASH_ASYNC_OK);

  char *got = receiver_finish(sink);
  printf("received:\n%s", got);
  CHECK(receiver_count_lines(got) == 2);
  const char *second = strchr(got, '\n') + 1;
  CHECK(strstr(got, "\"message\":\"c event one\"") < second);
  CHECK(strstr(got, "\"lang\":\"c\"") != NULL);
  CHECK(strstr(second, "\"message\":\"c event two\"") != NULL);
  CHECK(strstr(second, "\"level\":\"WARNING\"") != NULL);
  CHECK(strstr(second, "\"request_id\":\"r-42\"") != NULL);
  free(got);
  puts("ok");
  return 0;
}
