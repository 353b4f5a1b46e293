/*
 * logstash_async.hpp: a header-only C++17 wrapper over logstash_async.h.
 * Written by hand (not generated); link the same library as from C.
 *
 *   #include <logstash_async.hpp>
 *
 *   logstash_async::client log(R"({"host":"logstash.example","port":5959})");
 *   log.log("INFO", "app.main", "started");
 *   log.emit_json(R"({"message":"user signed in","user_id":42})");
 *   // the destructor delivers what it can within shutdown_timeout, then frees the handle
 *
 * Errors:
 *  - The constructor throws logstash_async::create_error (a std::runtime_error
 *    whose what() is the library's message naming the option, e.g.
 *    "port: 70000 is out of range (1..=65535)"). client::try_create is the
 *    non-throwing alternative.
 *  - Every other call reports its outcome as a std::error_code in
 *    logstash_async::category() (value = the logstash_async_result code,
 *    message() = logstash_async_result_str; a false error_code is success) and
 *    never throws, so logging cannot throw into the caller. The exceptions are
 *    the calls that must copy a std::string_view into a NUL-terminated string
 *    (log, set_extra, remove_extra) and stats_json: they may throw std::bad_alloc.
 *  - std::error_code ec = LOGSTASH_ASYNC_QUEUE_FULL; works (is_error_code_enum).
 *
 * Ownership and threads: a client owns one handle; it is move-only. Its calls
 * are safe from many threads at once, except destruction, move-assignment and
 * shutdown(), which must not race other calls on the same client (as
 * logstash_async_shutdown). A moved-from client holds no handle: its calls
 * return LOGSTASH_ASYNC_NULL_ARGUMENT and its destructor does nothing.
 *
 * fork(): as in C, a client belongs to the process that created it; in a
 * child its calls return LOGSTASH_ASYNC_FORKED and its destructor frees
 * nothing of the parent's. Create a new client in the child.
 */
#ifndef LOGSTASH_ASYNC_HPP
#define LOGSTASH_ASYNC_HPP

#include "logstash_async.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace logstash_async {

/** The std::error_category of logstash_async_result codes (name "logstash_async"). */
class result_category final : public std::error_category {
 public:
  const char *name() const noexcept override { return "logstash_async"; }
  std::string message(int code) const override { return ::logstash_async_result_str(code); }
};

/** The single instance of result_category. */
inline const std::error_category &category() noexcept {
  static const result_category instance;
  return instance;
}

}  // namespace logstash_async

/** Makes a logstash_async_result a std::error_code (found by argument-dependent lookup). */
inline std::error_code make_error_code(logstash_async_result r) noexcept {
  return {static_cast<int>(r), logstash_async::category()};
}

namespace std {
template <>
struct is_error_code_enum<logstash_async_result> : true_type {};
}  // namespace std

namespace logstash_async {

/** Thrown by the client constructor: what() is the library's message. */
class create_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/** The library's version, e.g. "0.1.0" (LOGSTASH_ASYNC_VERSION_STRING is the header's). */
inline std::string_view version() noexcept { return ::logstash_async_version(); }

/** One logging handle: a queue, a SQLite buffer and a worker thread. RAII, move-only. */
class client {
 public:
  /** The default time the destructor gives shutdown to deliver what is pending. */
  static constexpr std::chrono::milliseconds default_shutdown_timeout{5000};

  /**
   * Creates a handle from a JSON configuration (python-logstash-async's
   * option names). Throws create_error with the library's message when the
   * configuration is invalid or the database cannot be opened.
   * shutdown_timeout is what the destructor gives to delivery.
   */
  explicit client(std::string_view config_json,
                  std::chrono::milliseconds shutdown_timeout = default_shutdown_timeout)
      : shutdown_timeout_(shutdown_timeout) {
    std::string message;
    handle_ = open(config_json, &message);
    if (handle_ == nullptr) throw create_error(message);
  }

  /**
   * The non-throwing constructor: an empty optional on failure, with the
   * library's message in *error_message when it is not null.
   */
  static std::optional<client> try_create(
      std::string_view config_json, std::string *error_message = nullptr,
      std::chrono::milliseconds shutdown_timeout = default_shutdown_timeout) {
    logstash_async_handle *h = open(config_json, error_message);
    if (h == nullptr) return std::nullopt;
    return client(h, shutdown_timeout);
  }

  /** Takes ownership of a handle from logstash_async_create (may be null). */
  static client adopt(logstash_async_handle *h,
                      std::chrono::milliseconds shutdown_timeout = default_shutdown_timeout) noexcept {
    return client(h, shutdown_timeout);
  }

  client(const client &) = delete;
  client &operator=(const client &) = delete;

  client(client &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)), shutdown_timeout_(other.shutdown_timeout_) {}

  client &operator=(client &&other) noexcept {
    if (this != &other) {
      (void)shutdown(shutdown_timeout_);
      handle_ = std::exchange(other.handle_, nullptr);
      shutdown_timeout_ = other.shutdown_timeout_;
    }
    return *this;
  }

  /** Shuts down with the shutdown timeout (blocks up to about that + 250 ms). */
  ~client() { (void)shutdown(shutdown_timeout_); }

  /** Emits one event: a JSON object (need not be NUL-terminated). Never blocks on I/O. */
  std::error_code emit_json(std::string_view event_json) noexcept {
    // An empty view may have a null data(): that is invalid JSON, not a null argument.
    return ::logstash_async_emit_json(handle_, event_json.empty() ? "" : event_json.data(), event_json.size());
  }

  /** Logs a message at level "INFO". */
  std::error_code log(std::string_view message) { return log("INFO", {}, message); }

  /**
   * Logs a message at `level` ("DEBUG", "INFO", "WARNING", "ERROR",
   * "CRITICAL"; empty: "INFO") from `logger_name` (empty: no logger_name field).
   */
  std::error_code log(std::string_view level, std::string_view logger_name, std::string_view message) {
    const std::string level_z(level), logger_z(logger_name), message_z(message);
    return ::logstash_async_log(handle_, level.empty() ? nullptr : level_z.c_str(),
                                logger_name.empty() ? nullptr : logger_z.c_str(), message_z.c_str());
  }

  /** Adds `key` with a JSON value (e.g. R"("prod")", "42") to every later event. */
  std::error_code set_extra(std::string_view key, std::string_view value_json) {
    const std::string key_z(key), value_z(value_json);
    return ::logstash_async_set_extra(handle_, key_z.c_str(), value_z.c_str());
  }

  /** Stops adding `key` to later events. */
  std::error_code remove_extra(std::string_view key) {
    const std::string key_z(key);
    return ::logstash_async_set_extra(handle_, key_z.c_str(), nullptr);
  }

  /** Waits up to `timeout` for every event accepted so far to be delivered (OK, TIMEOUT, STORED_NOT_SENT). */
  std::error_code flush(std::chrono::milliseconds timeout) noexcept {
    return ::logstash_async_flush(handle_, clamp_ms(timeout));
  }

  /**
   * Delivers what it can within `timeout`, stops the worker and frees the
   * handle now, reporting the outcome (OK, STORED_NOT_SENT, TIMEOUT); the
   * client is then empty. Not needed before destruction.
   */
  std::error_code shutdown(std::chrono::milliseconds timeout) noexcept {
    if (handle_ == nullptr) return {};
    return ::logstash_async_shutdown(std::exchange(handle_, nullptr), clamp_ms(timeout));
  }

  /** The counters as a JSON object (empty string for an empty client). */
  std::string stats_json() const {
    std::string out(512, '\0');
    for (int attempt = 0; attempt < 4; ++attempt) {
      std::size_t need = 0;
      logstash_async_result r = ::logstash_async_stats_json(handle_, out.data(), out.size(), &need);
      if (r == LOGSTASH_ASYNC_OK) {
        out.resize(need);
        return out;
      }
      if (r != LOGSTASH_ASYNC_BUFFER_TOO_SMALL) break;
      out.assign(need + 1, '\0');
    }
    return {};
  }

  /** The C handle, for the C API (still owned by this client). */
  logstash_async_handle *native_handle() const noexcept { return handle_; }

  /** Gives up ownership: the caller must call logstash_async_shutdown. */
  logstash_async_handle *release() noexcept { return std::exchange(handle_, nullptr); }

  /** True while the client holds a handle. */
  explicit operator bool() const noexcept { return handle_ != nullptr; }

 private:
  client(logstash_async_handle *h, std::chrono::milliseconds shutdown_timeout) noexcept
      : handle_(h), shutdown_timeout_(shutdown_timeout) {}

  static logstash_async_handle *open(std::string_view config_json, std::string *error_message) {
    const std::string config_z(config_json);
    char error[512] = {0};
    logstash_async_handle *h = ::logstash_async_create(config_z.c_str(), error, sizeof error);
    if (h == nullptr && error_message != nullptr) *error_message = error;
    return h;
  }

  static std::uint32_t clamp_ms(std::chrono::milliseconds timeout) noexcept {
    const auto count = timeout.count();
    if (count <= 0) return 0;
    if (static_cast<unsigned long long>(count) > UINT32_MAX) return UINT32_MAX;
    return static_cast<std::uint32_t>(count);
  }

  logstash_async_handle *handle_ = nullptr;
  std::chrono::milliseconds shutdown_timeout_ = default_shutdown_timeout;
};

}  // namespace logstash_async

#endif /* LOGSTASH_ASYNC_HPP */
