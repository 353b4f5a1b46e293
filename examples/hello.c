/* hello.c: the smallest useful liblogstash_async program.
 *
 *   cc -Wall -o hello examples/hello.c -Iinclude -Ltarget/release -llogstash_async
 *   LD_LIBRARY_PATH=target/release ./hello 127.0.0.1 5959
 */
#include "logstash_async.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *host = argc > 1 ? argv[1] : "127.0.0.1";
  const char *port = argc > 2 ? argv[2] : "5959";

  /* 1. Configure with python-logstash-async's option names. A file database
   *    keeps undelivered events across restarts; ":memory:" is the default. */
  char config[512], error[256];
  snprintf(config, sizeof config,
           "{\"host\":\"%s\",\"port\":%s,"
           "\"extra\":{\"application\":\"hello\",\"environment\":\"demo\"}}",
           host, port);
  logstash_async_handle *log = logstash_async_create(config, error, sizeof error);
  if (log == NULL) {
    fprintf(stderr, "logstash_async_create: %s\n", error);
    return 1;
  }

  /* 2. A plain message with a level and a logger name. */
  logstash_async_log(log, "INFO", "hello.main", "hello from C");

  /* 3. A structured event: any JSON object. `message` and `level` go to the
   *    top level; every other key (logger_name too) lands under "extra". */
  const char *event =
      "{\"message\":\"user signed in\",\"level\":\"INFO\",\"logger_name\":\"hello.auth\","
      "\"user\":{\"id\":42,\"name\":\"ada\"},\"duration_ms\":12.5}";
  logstash_async_result r = logstash_async_emit_json(log, event, strlen(event));
  if (r != LOGSTASH_ASYNC_OK)
    fprintf(stderr, "emit: %s\n", logstash_async_result_str(r));

  /* 4. Extra fields for every later event (e.g. a request id). */
  logstash_async_set_extra(log, "request_id", "\"req-7\"");
  logstash_async_log(log, "WARNING", "hello.main", "disk almost full");

  /* 5. Deliver what is queued (at most 5 s) and release everything. */
  r = logstash_async_shutdown(log, 5000);
  printf("shutdown: %s\n", logstash_async_result_str(r));
  return r == LOGSTASH_ASYNC_OK ? 0 : 1;
}
