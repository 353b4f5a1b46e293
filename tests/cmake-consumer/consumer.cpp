// The C++ consumer of the installed package: the RAII wrapper
// (logstash_async.hpp) and the C API on the same handle, delivered to a
// loopback receiver when the client is destroyed; a wrong configuration
// throws create_error with the library's message. Exit status 0 = all good.
#include <logstash_async.hpp>

#include "receiver.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

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
  std::puts("ok");
  return 0;
}
