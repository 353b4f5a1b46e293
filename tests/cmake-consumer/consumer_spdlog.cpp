// The spdlog sink (logstash_async_spdlog.hpp) with a real spdlog logger, built
// with find_package(spdlog) and find_package(logstash_async): levels, logger
// names, the source location of the SPDLOG_LOGGER_* macros, fmt's formatted
// message and spdlog's time arrive at a loopback receiver; a sink owning its
// client and one sharing a client; a thread's scoped context; flush() never
// waits. Exit status 0 = all good.
#include <logstash_async_spdlog.hpp>
#include <spdlog/spdlog.h>

#include "receiver.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

/** The line of `text` that holds `needle` (empty if none). */
static std::string line_with(const std::string &text, const std::string &needle) {
  const auto at = text.find(needle);
  if (at == std::string::npos) return {};
  const auto start = text.rfind('\n', at);
  const auto from = start == std::string::npos ? 0 : start + 1;
  return text.substr(from, text.find('\n', at) - from);
}

static bool has(const std::string &line, const std::string &part) { return line.find(part) != std::string::npos; }

int main() {
  using namespace std::chrono_literals;
  receiver *sink_r = receiver_start(120000);
  CHECK(sink_r != nullptr);
  const std::string config =
      R"({"host":"127.0.0.1","port":)" + std::to_string(receiver_port(sink_r)) + R"(,"extra":{"via":"spdlog"}})";
  int line = 0;
  {
    // A sink owning its client, on a logger that logs everything.
    auto owning = std::make_shared<logstash_async::spdlog_sink_mt>(config, 60s);
    auto db = std::make_shared<spdlog::logger>("app.db", owning);
    db->set_level(spdlog::level::trace);
    line = __LINE__ + 1;
    SPDLOG_LOGGER_WARN(db, "slow query: {} ms on {}", 812, "orders");
    db->trace("trace maps to {}", "DEBUG");
    db->info("plain info");
    db->error("an error");
    db->critical("critical");
    {
      logstash_async::scoped_context ctx(*owning->client(), {{"request_id", "r-7"}});
      db->info("with the thread's context");
    }
    const auto t = std::chrono::steady_clock::now();
    db->flush();  // asks the worker to send; never waits for delivery
    CHECK(std::chrono::steady_clock::now() - t < 1s);

    // A sink sharing a client with the program, single-threaded, with a pattern.
    auto shared = std::make_shared<logstash_async::client>(config, 60s);
    auto st = std::make_shared<logstash_async::spdlog_sink_st>(shared);
    spdlog::logger cli("app.cli", st);
    cli.set_pattern("[%n] %v");
    cli.warn("patterned {}", 1);
    CHECK(!shared->info("the shared client itself"));
    CHECK(!owning->client()->flush(60s));
    CHECK(!shared->flush(60s));
    CHECK(st->client() == shared);
  }  // the clients shut down: everything is delivered

  char *raw = receiver_finish(sink_r);
  const std::string got(raw);
  std::free(raw);
  std::printf("received:\n%s", got.c_str());
  CHECK(receiver_count_lines(got.c_str()) == 8);

  const std::string slow = line_with(got, "slow query: 812 ms on orders");
  CHECK(has(slow, R"("level":"WARNING")") && has(slow, R"("logger_name":"app.db")"));
  CHECK(has(slow, R"("line":)" + std::to_string(line)) && has(slow, "consumer_spdlog.cpp"));
  CHECK(has(slow, R"("func_name":"main")") && has(slow, R"("via":"spdlog")"));
  CHECK(has(line_with(got, "trace maps to DEBUG"), R"("level":"DEBUG")"));
  const std::string info = line_with(got, R"("message":"plain info")");
  CHECK(has(info, R"("level":"INFO")") && !has(info, R"("line":)"));  // no location without the macros
  CHECK(has(line_with(got, "an error"), R"("level":"ERROR")"));
  CHECK(has(line_with(got, R"("message":"critical")"), R"("level":"CRITICAL")"));
  CHECK(has(line_with(got, "with the thread's context"), R"("request_id":"r-7")"));
  CHECK(!has(line_with(got, "plain info"), "request_id"));
  const std::string patterned = line_with(got, "patterned 1");
  CHECK(has(patterned, R"("message":"[app.cli] patterned 1")") && has(patterned, R"("logger_name":"app.cli")"));
  CHECK(has(got, R"("message":"the shared client itself")"));
  std::puts("ok");
  return 0;
}
