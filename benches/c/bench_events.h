/* bench_events.h: the benchmarks' 1000 distinct 200-byte events (a JSON
 * object with a sequence number, padded), built before timing starts. */
#ifndef BENCH_EVENTS_H
#define BENCH_EVENTS_H

#include <stdio.h>

static void bench_events(char events[1000][256], size_t lens[1000]) {
  for (int i = 0; i < 1000; i++) {
    int len = snprintf(events[i], 256,
                       "{\"message\":\"benchmark event number %10d\",\"level\":\"INFO\","
                       "\"logger_name\":\"bench\",\"seq\":%d,\"pad\":\"",
                       i, i);
    while (len < 198) events[i][len++] = 'x';
    events[i][len++] = '"';
    events[i][len++] = '}';
    lens[i] = (size_t)len;
  }
}

#endif
