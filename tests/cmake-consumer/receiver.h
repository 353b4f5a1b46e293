/* A loopback TCP receiver for the consumer tests: a thread that accepts
 * connections on 127.0.0.1 and keeps everything they send, like a Logstash
 * tcp input with the json_lines codec. It closes a connection when the peer
 * does (that EOF is what lets logstash_async_shutdown confirm delivery). */
#ifndef CONSUMER_RECEIVER_H
#define CONSUMER_RECEIVER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct receiver receiver;

/* Listens on 127.0.0.1 (a free port) and starts the thread; NULL on failure.
 * The thread stops by itself after `lifetime_ms`, whatever happens. */
receiver *receiver_start(int lifetime_ms);

/* The same on a given port (0: a free one). */
receiver *receiver_start_on(int port, int lifetime_ms);

/* A port nothing listens on now (one a receiver had a moment ago). */
int receiver_free_port(void);

int receiver_port(const receiver *r);

/* Stops the thread, frees the receiver and returns what arrived as a
 * NUL-terminated string the caller frees (never NULL). */
char *receiver_finish(receiver *r);

/* The number of newline-terminated lines in `text`. */
size_t receiver_count_lines(const char *text);

#ifdef __cplusplus
}
#endif

#endif
