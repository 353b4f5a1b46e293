#define _POSIX_C_SOURCE 200809L
#include "receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 8

struct receiver {
  int listen_fd;
  int port;
  int lifetime_ms;
  pthread_t thread;
  pthread_mutex_t lock;
  int stop; /* under lock */
  char *data; /* what arrived, under lock */
  size_t len, cap;
};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void keep(receiver *r, const char *buf, size_t n) {
  pthread_mutex_lock(&r->lock);
  if (r->len + n + 1 > r->cap) {
    size_t cap = (r->len + n + 1) * 2;
    char *grown = realloc(r->data, cap);
    if (grown == NULL) {
      pthread_mutex_unlock(&r->lock);
      return;
    }
    r->data = grown;
    r->cap = cap;
  }
  memcpy(r->data + r->len, buf, n);
  r->len += n;
  r->data[r->len] = '\0';
  pthread_mutex_unlock(&r->lock);
}

static int stopping(receiver *r) {
  pthread_mutex_lock(&r->lock);
  int stop = r->stop;
  pthread_mutex_unlock(&r->lock);
  return stop;
}

/* One poll loop over the listening socket and the open connections, bounded
 * by the lifetime; wakes every 50 ms to notice receiver_finish. */
static void *serve(void *arg) {
  receiver *r = arg;
  struct pollfd fds[1 + MAX_CONNECTIONS];
  nfds_t n = 1;
  fds[0].fd = r->listen_fd;
  fds[0].events = POLLIN;
  const long long deadline = now_ms() + r->lifetime_ms;
  while (!stopping(r) && now_ms() < deadline) {
    if (poll(fds, n, 50) <= 0) continue;
    for (nfds_t i = n; i-- > 1;) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        keep(r, buf, (size_t)got);
      } else {
        close(fds[i].fd);
        fds[i] = fds[--n];
      }
    }
    if ((fds[0].revents & POLLIN) && n < 1 + MAX_CONNECTIONS) {
      int fd = accept(r->listen_fd, NULL, NULL);
      if (fd >= 0) {
        fds[n].fd = fd;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        n++;
      }
    }
  }
  for (nfds_t i = 1; i < n; i++) close(fds[i].fd);
  return NULL;
}

receiver *receiver_start(int lifetime_ms) { return receiver_start_on(0, lifetime_ms); }

int receiver_free_port(void) {
  receiver *r = receiver_start_on(0, 0);
  if (r == NULL) return -1;
  int port = r->port;
  free(receiver_finish(r));
  return port;
}

receiver *receiver_start_on(int port, int lifetime_ms) {
  receiver *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->lifetime_ms = lifetime_ms;
  pthread_mutex_init(&r->lock, NULL);
  r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((unsigned short)port);
  socklen_t addr_len = sizeof addr;
  int reuse = 1;
  if (r->listen_fd >= 0) setsockopt(r->listen_fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(r->listen_fd, 16) != 0 ||
      getsockname(r->listen_fd, (struct sockaddr *)&addr, &addr_len) != 0 ||
      pthread_create(&r->thread, NULL, serve, r) != 0) {
    if (r->listen_fd >= 0) close(r->listen_fd);
    pthread_mutex_destroy(&r->lock);
    free(r);
    return NULL;
  }
  r->port = ntohs(addr.sin_port);
  return r;
}

int receiver_port(const receiver *r) { return r->port; }

char *receiver_finish(receiver *r) {
  pthread_mutex_lock(&r->lock);
  r->stop = 1;
  pthread_mutex_unlock(&r->lock);
  pthread_join(r->thread, NULL);
  close(r->listen_fd);
  pthread_mutex_destroy(&r->lock);
  char *data = r->data != NULL ? r->data : calloc(1, 1);
  free(r);
  return data;
}

size_t receiver_count_lines(const char *text) {
  size_t lines = 0;
  for (const char *p = text; (p = strchr(p, '\n')) != NULL; p++) lines++;
  return lines;
}
