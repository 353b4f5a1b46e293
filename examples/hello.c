/* hello.c: the smallest useful liblogstash_async program.
 *
 *   cc -Wall -o hello examples/hello.c -Iinclude -Ltarget/release -llogstash_async
 *   LD_LIBRARY_PATH=target/release ./hello 127.0.0.1 5959 [user name]
 */
#include "logstash_async.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *host = argc > 1 ? argv[1] : "127.0.0.1";
  int port = argc > 2 ? atoi(argv[2]) : 5959;
  const char *user = argc > 3 ? argv[3] : "ada"; /* any text: the library escapes it */

  /* 1. Configure with python-logstash-async's option names. The configuration
   *    is JSON: a host name needs no escaping, so refuse anything else. A file
   *    database keeps undelivered events across restarts (":memory:" is the
   *    default); "level" drops DEBUG events before they cost anything. */
  if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") != strlen(host)) {
    fprintf(stderr, "not a host name: %s\n", host);
    return 2;
  }
  char config[512], error[256];
  snprintf(config, sizeof config,
           "{\"host\":\"%s\",\"port\":%d,\"level\":\"INFO\","
           "\"extra\":{\"application\":\"hello\",\"environment\":\"demo\"}}",
           host, port);
  logstash_async_handle *log = logstash_async_create(config, error, sizeof error);
  if (log == NULL) {
    fprintf(stderr, "logstash_async_create: %s\n", error);
    return 1;
  }

  /* 2. A message with its level and logger name; the macro adds this file,
   *    line and function (path, line, func_name). */
  LOGSTASH_ASYNC_INFO(log, "hello.main", "hello from C");
  LOGSTASH_ASYNC_DEBUG(log, "hello.main", "below the level option: discarded");

  /* 3. Typed fields, no JSON to write: keys and strings are escaped by the
   *    library. Every field goes under "extra" (the Logstash layout). */
  logstash_async_field fields[] = {
      logstash_async_field_str("user_name", user),
      logstash_async_field_int("user_id", 42),
      logstash_async_field_double("duration_ms", 12.5),
  };
  logstash_async_result r = logstash_async_log_fields(log, LOGSTASH_ASYNC_LEVEL_INFO, "hello.auth",
                                                      "user signed in", fields, 3);
  if (r != LOGSTASH_ASYNC_OK) fprintf(stderr, "log: %s\n", logstash_async_result_str(r));

  /* 4. The id of the request this thread serves: every later event of this
   *    thread carries it (other threads never see it), until removed. */
  logstash_async_field request_id = logstash_async_field_str("request_id", "req-7");
  logstash_async_context_set_field(log, &request_id);
  LOGSTASH_ASYNC_WARNINGF(log, "hello.main", "disk almost full: %d%% used", 97);
  logstash_async_context_remove(log, "request_id");

  /* 5. Deliver what is queued (at most 5 s) and release everything. */
  r = logstash_async_shutdown(log, 5000);
  printf("shutdown: %s\n", logstash_async_result_str(r));
  return r == LOGSTASH_ASYNC_OK ? 0 : 1;
}
