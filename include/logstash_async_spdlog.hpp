/*
 * logstash_async_spdlog.hpp: an spdlog sink that ships every record to
 * Logstash through liblogstash_async. Header-only, over logstash_async.hpp;
 * needs spdlog (tested with Debian's libspdlog-dev, 1.10 with fmt 9).
 *
 *   #include <logstash_async_spdlog.hpp>
 *
 *   auto sink = std::make_shared<logstash_async::spdlog_sink_mt>(
 *       R"({"host":"logstash.example","port":5959})");   // owns its client
 *   auto log = std::make_shared<spdlog::logger>("app.db", sink);
 *   SPDLOG_LOGGER_WARN(log, "slow query: {} ms", 812);   // with file, line, function
 *
 * Or share a client with the rest of the program:
 *   auto client = std::make_shared<logstash_async::client>(config);
 *   auto sink = std::make_shared<logstash_async::spdlog_sink_mt>(client);
 *
 * Each record becomes one event: spdlog's levels mapped (trace and debug:
 * DEBUG, info: INFO, warn: WARNING, err: ERROR, critical: CRITICAL), the
 * logger's name as logger_name, the message as formatted by fmt, the source
 * location when spdlog has one (the SPDLOG_LOGGER_* macros), spdlog's time
 * as @timestamp, and the calling thread's context (scoped_context).
 *
 * It never blocks: log() hands the record to the library's queue (under a
 * microsecond; no lock of the sink's is taken unless set_pattern was
 * called), and flush() only asks the worker to send now: it never waits for
 * delivery (flush or destroy the client for that). By default the message is
 * spdlog's formatted payload alone; after set_pattern or set_formatter it is
 * the pattern's output (without the line ending), formatted under the sink's
 * mutex (std::mutex for _mt, none for _st). Errors (a full queue...) are
 * counted in the client's stats, never thrown. With spdlog's async logger,
 * records reach the sink on spdlog's thread: the thread context and name are
 * that thread's (a synchronous logger is enough: the library is already
 * asynchronous).
 */
#ifndef LOGSTASH_ASYNC_SPDLOG_HPP
#define LOGSTASH_ASYNC_SPDLOG_HPP

#include "logstash_async.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/sink.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace logstash_async {

/** The library's level of an spdlog level (spdlog::level::off is never logged). */
inline level from_spdlog(spdlog::level::level_enum l) noexcept {
  switch (l) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return level::debug;
    case spdlog::level::info:
      return level::info;
    case spdlog::level::warn:
      return level::warning;
    case spdlog::level::err:
      return level::error;
    default:
      return level::critical;
  }
}

/** The sink; use spdlog_sink_mt (thread-safe) or spdlog_sink_st. */
template <typename Mutex>
class spdlog_sink final : public spdlog::sinks::sink {
 public:
  /** A sink over a client shared with the rest of the program. */
  explicit spdlog_sink(std::shared_ptr<logstash_async::client> shared) : client_(std::move(shared)) {}

  /**
   * A sink owning its own client, created from a configuration (throws
   * create_error with the library's message when it is wrong).
   */
  explicit spdlog_sink(std::string_view config_json,
                       std::chrono::milliseconds shutdown_timeout = client::default_shutdown_timeout)
      : client_(std::make_shared<logstash_async::client>(config_json, shutdown_timeout)) {}

  void log(const spdlog::details::log_msg &msg) override {
    if (msg.level == spdlog::level::off || client_ == nullptr) return;
    const std::int64_t unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const location where{msg.source.filename, msg.source.line > 0 ? static_cast<unsigned>(msg.source.line) : 0u,
                         msg.source.funcname};
    const std::string_view name(msg.logger_name.data(), msg.logger_name.size());
    if (!patterned_.load(std::memory_order_acquire)) {
      const std::string_view payload(msg.payload.data(), msg.payload.size());
      (void)client_->log_record(from_spdlog(msg.level), name, payload, nullptr, 0, where, unix_ms);
      return;
    }
    spdlog::memory_buf_t line;
    {
      std::lock_guard<Mutex> lock(mutex_);
      formatter_->format(msg, line);
    }
    std::string_view text(line.data(), line.size());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    (void)client_->log_record(from_spdlog(msg.level), name, text, nullptr, 0, where, unix_ms);
  }

  /** Asks the worker to send what is queued now; never waits for delivery. */
  void flush() override {
    if (client_ != nullptr) (void)client_->flush(std::chrono::milliseconds(0));
  }

  /** From now on the message is this pattern's output (see the top of this file). */
  void set_pattern(const std::string &pattern) override {
    set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
  }

  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    std::lock_guard<Mutex> lock(mutex_);
    formatter_ = std::move(formatter);
    patterned_.store(formatter_ != nullptr, std::memory_order_release);
  }

  /** The client the sink logs through (shared). */
  const std::shared_ptr<logstash_async::client> &client() const noexcept { return client_; }

 private:
  std::shared_ptr<logstash_async::client> client_;
  Mutex mutex_;
  std::unique_ptr<spdlog::formatter> formatter_;
  // Set by set_pattern/set_formatter: log() then formats under the mutex.
  std::atomic<bool> patterned_{false};
};

using spdlog_sink_mt = spdlog_sink<std::mutex>;
using spdlog_sink_st = spdlog_sink<spdlog::details::null_mutex>;

}  // namespace logstash_async

#endif /* LOGSTASH_ASYNC_SPDLOG_HPP */
