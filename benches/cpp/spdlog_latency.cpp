/* spdlog_latency.cpp: what a C++ caller pays per record through the spdlog
 * sink (logstash_async_spdlog.hpp) and through the C++ level calls, against
 * spdlog with a null sink (spdlog's own formatting, no I/O) as the baseline.
 * Each call is timed with steady_clock on the calling thread; events go to a
 * discarding receiver on 127.0.0.1. Not a test: run it through scripts/bench.sh.
 *
 *   c++ -O2 -std=c++17 -o spdlog_latency benches/cpp/spdlog_latency.cpp -Iinclude \
 *       $(pkg-config --cflags --libs spdlog) -Ltarget/release -llogstash_async -pthread
 *   LD_LIBRARY_PATH=target/release ./spdlog_latency [records]
 */
#include <logstash_async_spdlog.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> stop{false};

// Accepts connections and discards what they send.
void discard(int listener) {
  char buf[1 << 16];
  while (!stop) {
    const int c = accept(listener, nullptr, nullptr);
    if (c < 0) break;
    while (read(c, buf, sizeof buf) > 0) {
    }
    close(c);
  }
}

int listen_any(int *port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0) {
    std::perror("receiver");
    std::exit(1);
  }
  *port = ntohs(a.sin_port);
  return fd;
}

template <typename Call>
void measure(const char *label, std::size_t n, Call call) {
  std::vector<std::uint64_t> ns(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto t = std::chrono::steady_clock::now();
    call(i);
    ns[i] = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t).count());
  }
  std::sort(ns.begin(), ns.end());
  std::printf("%-40s p50 %6llu ns  p99 %6llu ns  p99.9 %7llu ns  (%zu records)\n", label,
              static_cast<unsigned long long>(ns[n / 2]), static_cast<unsigned long long>(ns[n * 99 / 100]),
              static_cast<unsigned long long>(ns[n * 999 / 1000]), n);
}

}  // namespace

int main(int argc, char **argv) {
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 200000;
  int port = 0;
  const int listener = listen_any(&port);
  std::thread receiver(discard, listener);
  const std::string config = R"({"host":"127.0.0.1","port":)" + std::to_string(port) +
                             R"(,"max_queue_events":2000000,"stderr_errors":false})";
  const std::string pad(100, 'x');
  {
    spdlog::logger baseline("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    measure("spdlog, null sink (spdlog's own cost)", n,
            [&](std::size_t i) { baseline.info("benchmark event number {:>10} {}", i, pad); });

    auto sink = std::make_shared<logstash_async::spdlog_sink_mt>(config);
    spdlog::logger log("bench", sink);
    measure("spdlog, logstash_async::spdlog_sink_mt", n,
            [&](std::size_t i) { log.info("benchmark event number {:>10} {}", i, pad); });
    measure("spdlog macro (+ location), sink_mt", n,
            [&](std::size_t i) { SPDLOG_LOGGER_INFO(&log, "benchmark event number {:>10} {}", i, pad); });

    auto client = sink->client();
    measure("client.info(message, 2 fields)", n, [&](std::size_t i) {
      (void)client->info("benchmark event number", {{"seq", i}, {"pad", pad}});
    });
    (void)client->flush(std::chrono::seconds(30));
  }
  stop = true;
  shutdown(listener, SHUT_RDWR);
  close(listener);
  receiver.join();
  return 0;
}
