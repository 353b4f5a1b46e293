// The C++ consumer of the installed package: the RAII wrapper
// (logstash_async.hpp) and the C API on the same handle, delivered to a
// loopback receiver when the client is destroyed; a wrong configuration
// throws create_error with the library's message. Then the native calls:
// typed fields with the caller's location, a logger, scoped contexts on two
// threads, the level threshold and a notice handler. Exit status 0 = all good.
#include <logstash_async.hpp>

#include "receiver.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <atomic>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                              \
    }                                                                            \
  } while (0)

static_assert(!std::is_copy_constructible_v<logstash_async::client>);
static_assert(std::is_nothrow_move_constructible_v<logstash_async::client>);
static_assert(std::is_nothrow_move_assignable_v<logstash_async::client>);

/** The line of `text` that holds `needle` (empty if none). */
static std::string line_with(const std::string &text, const std::string &needle) {
  const auto at = text.find(needle);
  if (at == std::string::npos) return {};
  const auto start = text.rfind('\n', at);
  const auto end = text.find('\n', at);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1));
}

static void native_calls() {
  using namespace std::chrono_literals;
  using logstash_async::json;
  std::unique_ptr<receiver, void (*)(receiver *)> sink(receiver_start(120000),
                                                       [](receiver *r) { std::free(receiver_finish(r)); });
  const std::string port = std::to_string(receiver_port(sink.get()));
  std::atomic<int> failing{0};
  int line = 0;
  {
    logstash_async::client log(R"({"host":"127.0.0.1","port":)" + port + R"(,"level":"INFO"})",
                               [&](const logstash_async::notice &n) {
                                 if (n.kind == logstash_async::notice_kind::delivery_failing) ++failing;
                               });
    const std::string user = "ada \"the\" first";
    line = __LINE__ + 1;
    CHECK(!log.info("signed in", {{"user", user}, {"user_id", 42}, {"admin", false}, {"score", 0.5},
                                  {"cart", json{R"({"items":[1]})"}}, {"none", nullptr}, {"n", 7u}}));
    CHECK(!log.debug("below the level: discarded"));
    CHECK(!log.enabled(logstash_async::level::debug) && log.enabled(logstash_async::level::error));
    auto db = log.logger("app.db");
    CHECK(!db.warning("slow query", {{"ms", 812.5}}, LOGSTASH_ASYNC_HERE));
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 200; ++i) {
          const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
          logstash_async::scoped_context ctx(log, {{"request_id", id}});
          CHECK(!ctx.error());
          CHECK(!db.info(id));
        }
      });
    }
    for (auto &t : threads) t.join();
    std::vector<logstash_async::field> dynamic{{"a", 1}, {"b", "two"}};
    CHECK(!log.log_record(logstash_async::level::critical, "dyn", "dynamic fields", dynamic.data(), dynamic.size(),
                          logstash_async::location::current()));
    CHECK(!log.log_record(logstash_async::level::info, "", "", nullptr, 0, {}));
    CHECK(!log.flush(60s));
    CHECK(!log.poll_notice());  // the handler takes the notices
  }
  char *raw = receiver_finish(sink.release());
  const std::string got(raw);
  std::free(raw);
  CHECK(receiver_count_lines(got.c_str()) == 404);
  const std::string signed_in = line_with(got, R"("message":"signed in")");
  CHECK(signed_in.find(R"("user":"ada \"the\" first")") != std::string::npos);
  CHECK(signed_in.find(R"("user_id":42,)") != std::string::npos || signed_in.find(R"("user_id":42})") != std::string::npos);
  CHECK(signed_in.find(R"("admin":false)") != std::string::npos);
  CHECK(signed_in.find(R"("cart":{"items":[1]})") != std::string::npos);
  CHECK(signed_in.find(R"("line":)" + std::to_string(line)) != std::string::npos);
  CHECK(signed_in.find("consumer.cpp") != std::string::npos);
  CHECK(signed_in.find("native_calls") != std::string::npos);
  CHECK(got.find("below the level") == std::string::npos);
  const std::string slow = line_with(got, R"("message":"slow query")");
  CHECK(slow.find(R"("logger_name":"app.db")") != std::string::npos && slow.find(R"("ms":812.5)") != std::string::npos);
  CHECK(slow.find(R"("func_name":"native_calls")") != std::string::npos);
  for (int t = 0; t < 2; ++t) {
    for (int i = 0; i < 200; i += 37) {
      const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
      const std::string l = line_with(got, R"("message":")" + id + '"');
      CHECK(l.find(R"("request_id":")" + id + '"') != std::string::npos);
    }
  }
  CHECK(line_with(got, "dynamic fields").find(R"("b":"two")") != std::string::npos);
  CHECK(failing == 0);
  std::puts("native calls: ok");
}

int main() {
  using namespace std::chrono_literals;
  CHECK(logstash_async::version() == LOGSTASH_ASYNC_VERSION_STRING);

  // A wrong configuration: the constructor throws with the library's message.
  bool thrown = false;
  try {
    logstash_async::client bad(R"({"host":"127.0.0.1","port":70000})");
  } catch (const logstash_async::create_error &e) {
    thrown = true;
    std::printf("wrong config rejected: %s\n", e.what());
    CHECK(std::strstr(e.what(), "port: 70000 is out of range") != nullptr);
  }
  CHECK(thrown);
  std::string message;
  CHECK(!logstash_async::client::try_create(R"({"port":1})", &message));
  CHECK(message.find("host") != std::string::npos);

  // Result codes are std::error_codes in their own category.
  std::error_code queue_full = LOGSTASH_ASYNC_QUEUE_FULL;
  CHECK(queue_full.category() == logstash_async::category());
  CHECK(std::strcmp(queue_full.category().name(), "logstash_async") == 0);
  CHECK(queue_full.message() == logstash_async_result_str(LOGSTASH_ASYNC_QUEUE_FULL));

  std::unique_ptr<receiver, void (*)(receiver *)> sink(receiver_start(120000),
                                                       [](receiver *r) { std::free(receiver_finish(r)); });
  CHECK(sink != nullptr);
  const std::string config = R"({"host":"127.0.0.1","port":)" + std::to_string(receiver_port(sink.get())) +
                             R"(,"extra":{"lang":"c++"}})";
  {
    logstash_async::client log(config, 60s);
    CHECK(log);
    const std::string_view event = R"({"message":"cpp event one","seq":1}trailing bytes not passed)";
    CHECK(!log.emit_json(event.substr(0, event.find('}') + 1)));
    CHECK(log.emit_json("[1]") == LOGSTASH_ASYNC_NOT_AN_OBJECT);
    CHECK(log.emit_json("") == LOGSTASH_ASYNC_INVALID_JSON);
    CHECK(!log.set_extra("request_id", R"("r-7")"));
    CHECK(!log.log("ERROR", "consumer.cpp", std::string_view("cpp event two, and more", 13)));
    // The C API on the wrapper's handle.
    CHECK(logstash_async_log(log.native_handle(), NULL, NULL, "c api on the cpp handle") == LOGSTASH_ASYNC_OK);
    CHECK(!log.flush(60s));
    CHECK(log.stats_json().find(R"("sent":3)") != std::string::npos);

    // Move-only: the moved-from client is empty and harmless.
    logstash_async::client moved = std::move(log);
    CHECK(!log);  // NOLINT(bugprone-use-after-move): checking the moved-from state
    CHECK(log.emit_json("{}") == LOGSTASH_ASYNC_NULL_ARGUMENT);
    CHECK(moved);
  }  // the destructor shuts down: delivers, closes, joins the worker

  char *raw = receiver_finish(sink.release());
  const std::string got(raw);
  std::free(raw);
  std::printf("received:\n%s", got.c_str());
  CHECK(receiver_count_lines(got.c_str()) == 3);
  const auto one = got.find(R"("message":"cpp event one")");
  const auto two = got.find(R"("message":"cpp event two")");
  const auto three = got.find(R"("message":"c api on the cpp handle")");
  CHECK(one < two && two < three && three != std::string::npos);
  CHECK(got.find(R"("request_id":"r-7")") != std::string::npos);
  CHECK(got.find(R"("lang":"c++")") != std::string::npos);
  native_calls();
  std::puts("ok");
  return 0;
}
