/* A C consumer of liblogstash_async: compiled with -Wall -Wextra -Werror
 * against the generated header by tests/c_consumer.rs, which starts a
 * loopback receiver and passes its port as argv[1]. Exit status 0 = all good. */
#include "logstash_async.h"
#include "logstash_async.h" /* twice: every part of the header is guarded */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                                            \
    }                                                                      \
  } while (0)

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  char config[256];
  snprintf(config, sizeof config,
           "{\"host\":\"127.0.0.1\",\"port\":%s,\"extra\":{\"lang\":\"c\"}}", argv[1]);

  /* The header and the library agree on the version. */
  CHECK(strcmp(logstash_async_version(), LOGSTASH_ASYNC_VERSION_STRING) == 0);

  /* A bad configuration: NULL handle and a message naming the option. */
  char err[256];
  logstash_async_handle *bad =
      logstash_async_create("{\"host\":\"x\",\"port\":\"nope\"}", err, sizeof err);
  CHECK(bad == NULL);
  CHECK(strstr(err, "port") != NULL);
  /* A tiny error buffer is truncated, still NUL-terminated. */
  char tiny[5];
  CHECK(logstash_async_create("{}", tiny, sizeof tiny) == NULL);
  CHECK(strlen(tiny) == 4);
  CHECK(logstash_async_create(NULL, NULL, 0) == NULL);

  logstash_async_handle *h = logstash_async_create(config, err, sizeof err);
  CHECK(h != NULL);
  CHECK(err[0] == '\0');

  /* NULL everywhere is an error code, never a crash. */
  CHECK(logstash_async_emit_json(NULL, "{}", 2) == LOGSTASH_ASYNC_NULL_ARGUMENT);
  CHECK(logstash_async_emit_json(h, NULL, 2) == LOGSTASH_ASYNC_NULL_ARGUMENT);
  CHECK(logstash_async_log(h, NULL, NULL, NULL) == LOGSTASH_ASYNC_NULL_ARGUMENT);
  CHECK(logstash_async_set_extra(h, NULL, "1") == LOGSTASH_ASYNC_NULL_ARGUMENT);
  CHECK(logstash_async_flush(NULL, 10) == LOGSTASH_ASYNC_NULL_ARGUMENT);
  CHECK(logstash_async_shutdown(NULL, 10) == LOGSTASH_ASYNC_OK);

  /* Bad events get their own codes; the handle keeps working. */
  CHECK(logstash_async_emit_json(h, "{\"a\":", 5) == LOGSTASH_ASYNC_INVALID_JSON);
  CHECK(logstash_async_emit_json(h, "[1]", 3) == LOGSTASH_ASYNC_NOT_AN_OBJECT);
  CHECK(logstash_async_emit_json(h, "{\"a\":\"\xff\"}", 10) == LOGSTASH_ASYNC_INVALID_UTF8);
  CHECK(strcmp(logstash_async_result_str(LOGSTASH_ASYNC_INVALID_JSON),
               "not valid JSON (or nested deeper than 100 levels)") == 0);
  CHECK(strcmp(logstash_async_result_str(9999), "unknown result code") == 0);

  /* Events: pointer + length, not NUL-terminated. */
  const char *events = "{\"message\":\"from C\",\"seq\":1}{\"message\":\"tail\"}";
  CHECK(logstash_async_emit_json(h, events, 28) == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_set_extra(h, "request_id", "\"r-42\"") == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_log(h, "ERROR", "c.consumer", "second from C") == LOGSTASH_ASYNC_OK);
  CHECK(logstash_async_flush(h, 10000) == LOGSTASH_ASYNC_OK);

  char stats[1024];
  size_t need = 0;
  CHECK(logstash_async_stats_json(h, stats, 4, &need) == LOGSTASH_ASYNC_BUFFER_TOO_SMALL);
  CHECK(need > 4 && need < sizeof stats);
  CHECK(logstash_async_stats_json(h, stats, sizeof stats, &need) == LOGSTASH_ASYNC_OK);
  CHECK(strstr(stats, "\"sent\":2") != NULL);

  CHECK(logstash_async_shutdown(h, 5000) == LOGSTASH_ASYNC_OK);
  puts("ok");
  return 0;
}
