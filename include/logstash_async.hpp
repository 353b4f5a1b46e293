/*
 * logstash_async.hpp: a header-only C++17 wrapper over logstash_async.h.
 * Written by hand (not generated); link the same library as from C.
 *
 *   #include <logstash_async.hpp>
 *
 *   logstash_async::client log(R"({"host":"logstash.example","port":5959})");
 *   log.info("user signed in", {{"user_id", 42}, {"admin", false}});   // file, line, function too
 *   auto db = log.logger("app.db");
 *   db.warning("slow query", {{"ms", 812.5}, {"sql", sql}});
 *   {
 *     logstash_async::scoped_context ctx(log, {{"request_id", id}});    // this thread's later events
 *     db.error("query failed");
 *   }
 *   // the destructor delivers what it can within shutdown_timeout, then frees the handle
 *
 * The caller's location: std::source_location with C++20; with C++17 the
 * compiler's __builtin_FILE/LINE/FUNCTION on GCC and Clang, elsewhere none
 * unless LOGSTASH_ASYNC_HERE is passed (log.info("m", {}, LOGSTASH_ASYNC_HERE)).
 * An spdlog sink is in logstash_async_spdlog.hpp.
 *
 * Errors:
 *  - The constructors throw logstash_async::create_error (a std::runtime_error
 *    whose what() is the library's message naming the option, e.g.
 *    "port: 70000 is out of range (1..=65535)"). client::try_create is the
 *    non-throwing alternative.
 *  - Every other call reports its outcome as a std::error_code in
 *    logstash_async::category() (value = the logstash_async_result code,
 *    message() = logstash_async_result_str; a false error_code is success) and
 *    never throws, so logging cannot throw into the caller. The exceptions are
 *    the calls that must copy a std::string_view into a NUL-terminated string
 *    (log with string levels, set_extra, remove_extra, logger(), scoped_context)
 *    and stats_json / poll_notice: they may throw std::bad_alloc. The level
 *    calls (info, ...) copy nothing: the fields and strings are passed by
 *    pointer and length, read during the call only.
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
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#if __has_include(<version>)
#include <version>
#endif
#if defined(__cpp_lib_source_location) && __cpp_lib_source_location >= 201907L
#include <source_location>
#define LOGSTASH_ASYNC_HAS_SOURCE_LOCATION 1
#else
#define LOGSTASH_ASYNC_HAS_SOURCE_LOCATION 0
#endif

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

/** The levels (Python's, as Logstash sees them). */
enum class level : int {
  debug = LOGSTASH_ASYNC_LEVEL_DEBUG,
  info = LOGSTASH_ASYNC_LEVEL_INFO,
  warning = LOGSTASH_ASYNC_LEVEL_WARNING,
  error = LOGSTASH_ASYNC_LEVEL_ERROR,
  critical = LOGSTASH_ASYNC_LEVEL_CRITICAL,
};

/** Where a record was logged from: python-logstash-async's path, line and func_name. */
struct location {
  const char *file = nullptr;
  unsigned line = 0;
  const char *function = nullptr;

  /** The caller's location, when used as a default argument. */
#if LOGSTASH_ASYNC_HAS_SOURCE_LOCATION
  static constexpr location current(std::source_location s = std::source_location::current()) noexcept {
    return {s.file_name(), static_cast<unsigned>(s.line()), s.function_name()};
  }
#elif defined(__GNUC__) || defined(__clang__)
  static constexpr location current(const char *file = __builtin_FILE(), unsigned line = __builtin_LINE(),
                                    const char *function = __builtin_FUNCTION()) noexcept {
    return {file, line, function};
  }
#else
  static constexpr location current() noexcept { return {}; }
#endif
};

/** The location of the line it is written on (for compilers without the above). */
#define LOGSTASH_ASYNC_HERE (::logstash_async::location{__FILE__, static_cast<unsigned>(__LINE__), __func__})

/** A value given as JSON text, for nested data: {"cart", logstash_async::json{R"({"items":3})"}}. */
struct json {
  std::string_view text;
};

/**
 * One field of an event, made from {"key", value}: strings (escaped by the
 * library), bool, integers, floating point (NaN is written null), nullptr
 * (null) and json. It points to the key and string value: use it within the
 * call it is passed to (as in an initializer list).
 */
class field {
 public:
  field(std::string_view key, std::string_view value) noexcept : field(key, LOGSTASH_ASYNC_FIELD_STRING) {
    set_string(value);
  }
  field(std::string_view key, const char *value) noexcept
      : field(key, value == nullptr ? LOGSTASH_ASYNC_FIELD_NULL : LOGSTASH_ASYNC_FIELD_STRING) {
    if (value != nullptr) set_string(value);
  }
  field(std::string_view key, const std::string &value) noexcept : field(key, std::string_view(value)) {}
  field(std::string_view key, json value) noexcept : field(key, LOGSTASH_ASYNC_FIELD_JSON) { set_string(value.text); }
  field(std::string_view key, std::nullptr_t) noexcept : field(key, LOGSTASH_ASYNC_FIELD_NULL) {}
  field(std::string_view key, bool value) noexcept : field(key, LOGSTASH_ASYNC_FIELD_BOOL) {
    f_.value.boolean = value ? 1 : 0;
  }
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  field(std::string_view key, T value) noexcept
      : field(key, std::is_signed_v<T> ? LOGSTASH_ASYNC_FIELD_INT : LOGSTASH_ASYNC_FIELD_UINT) {
    if constexpr (std::is_signed_v<T>) {
      f_.value.integer = static_cast<std::int64_t>(value);
    } else {
      f_.value.unsigned_integer = static_cast<std::uint64_t>(value);
    }
  }
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  field(std::string_view key, T value) noexcept : field(key, LOGSTASH_ASYNC_FIELD_DOUBLE) {
    f_.value.number = static_cast<double>(value);
  }

  /** The C field. */
  const logstash_async_field &c_field() const noexcept { return f_; }

 private:
  field(std::string_view key, logstash_async_field_type type) noexcept : f_() {
    f_.key = key.empty() ? "" : key.data();
    f_.key_len = key.size();
    f_.type = static_cast<std::uint32_t>(type);
  }
  void set_string(std::string_view s) noexcept {
    f_.value.string.ptr = s.data();
    f_.value.string.len = s.size();
  }

  logstash_async_field f_;
};

// An array of fields is an array of C fields.
static_assert(sizeof(field) == sizeof(logstash_async_field) && std::is_standard_layout_v<field>);

/** What a notice is about (see logstash_async_create_with_options). */
enum class notice_kind : unsigned {
  none = LOGSTASH_ASYNC_NOTICE_NONE,
  delivery_failing = LOGSTASH_ASYNC_NOTICE_DELIVERY_FAILING,
  delivery_recovered = LOGSTASH_ASYNC_NOTICE_DELIVERY_RECOVERED,
  buffer_fallback = LOGSTASH_ASYNC_NOTICE_BUFFER_FALLBACK,
  buffer_recovered = LOGSTASH_ASYNC_NOTICE_BUFFER_RECOVERED,
  dropped = LOGSTASH_ASYNC_NOTICE_DROPPED,
  rejected = LOGSTASH_ASYNC_NOTICE_REJECTED,
  error = LOGSTASH_ASYNC_NOTICE_ERROR,
};

/** A notice as the handler gets it (the message is valid during the call). */
struct notice {
  notice_kind kind;
  std::uint64_t count;
  std::string_view message;
};

/** A notice taken with client::poll_notice. */
struct polled_notice {
  notice_kind kind;
  std::uint64_t count;
  std::string message;
};

/**
 * Gets the client's notices on the library's worker thread (never a thread
 * that logs): it may log through the client, must not flush or shut it down,
 * should return promptly, and must not throw (an exception is dropped).
 */
using notice_handler = std::function<void(const notice &)>;

/**
 * debug(), info(), warning(), error() and critical() for a class with
 * log(level, message, fields, where): the message at that level, with typed
 * fields and the caller's location. Never throw.
 */
template <typename Derived>
class level_calls {
 public:
  std::error_code debug(std::string_view message, std::initializer_list<field> fields = {},
                        location where = location::current()) const noexcept {
    return self().log(level::debug, message, fields, where);
  }
  std::error_code info(std::string_view message, std::initializer_list<field> fields = {},
                       location where = location::current()) const noexcept {
    return self().log(level::info, message, fields, where);
  }
  std::error_code warning(std::string_view message, std::initializer_list<field> fields = {},
                          location where = location::current()) const noexcept {
    return self().log(level::warning, message, fields, where);
  }
  std::error_code error(std::string_view message, std::initializer_list<field> fields = {},
                        location where = location::current()) const noexcept {
    return self().log(level::error, message, fields, where);
  }
  std::error_code critical(std::string_view message, std::initializer_list<field> fields = {},
                           location where = location::current()) const noexcept {
    return self().log(level::critical, message, fields, where);
  }

 private:
  const Derived &self() const noexcept { return static_cast<const Derived &>(*this); }
};

class logger;

/** The library's version, e.g. "0.1.0" (LOGSTASH_ASYNC_VERSION_STRING is the header's). */
inline std::string_view version() noexcept { return ::logstash_async_version(); }

/** One logging handle: a queue, a SQLite buffer and a worker thread. RAII, move-only. */
class client : public level_calls<client> {
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
   * As above, with a handler for the client's notices (delivery failing and
   * recovered, buffer fallback, drops, rejections, errors), called on the
   * worker thread; the client owns it until its handle is shut down.
   */
  client(std::string_view config_json, notice_handler on_notice,
         std::chrono::milliseconds shutdown_timeout = default_shutdown_timeout)
      : shutdown_timeout_(shutdown_timeout), on_notice_(std::make_unique<notice_handler>(std::move(on_notice))) {
    logstash_async_options options = LOGSTASH_ASYNC_OPTIONS_INIT;
    options.notice_fn = &client::notice_trampoline;
    options.notice_user_data = on_notice_.get();
    std::string message;
    handle_ = open(config_json, &message, &options);
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
      : handle_(std::exchange(other.handle_, nullptr)),
        shutdown_timeout_(other.shutdown_timeout_),
        on_notice_(std::move(other.on_notice_)) {}

  client &operator=(client &&other) noexcept {
    if (this != &other) {
      (void)shutdown(shutdown_timeout_);
      handle_ = std::exchange(other.handle_, nullptr);
      shutdown_timeout_ = other.shutdown_timeout_;
      on_notice_ = std::move(other.on_notice_);
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

  /**
   * Logs `message` at `lv` with typed fields and the caller's location:
   * log.info("user signed in", {{"user_id", 42}, {"admin", false}}).
   * Built, checked and copied by the library as fast as emit_json; below the
   * `level` option it is discarded (OK). Never throws.
   */
  std::error_code log(level lv, std::string_view message, std::initializer_list<field> fields = {},
                      location where = location::current()) const noexcept {
    return log_record(lv, {}, message, fields.begin(), fields.size(), where);
  }

  /**
   * Everything the level calls do, spelled out: a logger name (empty: none),
   * `count` fields (any contiguous array, e.g. a std::vector<field>), the
   * location, and a time (`unix_ms`, 0 = now). Never throws.
   */
  std::error_code log_record(level lv, std::string_view logger_name, std::string_view message, const field *fields,
                             std::size_t count, const location &where, std::int64_t unix_ms = 0) const noexcept {
    logstash_async_record r{};
    r.level = static_cast<int>(lv);
    r.logger_name = logger_name.empty() ? nullptr : logger_name.data();
    r.logger_name_len = logger_name.size();
    r.message = message.data();
    r.message_len = message.size();
    r.fields = count == 0 ? nullptr : &fields->c_field();
    r.field_count = count;
    r.file = where.file;
    r.line = where.line;
    r.func = where.function;
    r.unix_ms = unix_ms;
    return ::logstash_async_log_record(handle_, &r);
  }

  /** Whether a record of `lv` would be kept by the `level` option (skip costly work otherwise). */
  bool enabled(level lv) const noexcept {
    return ::logstash_async_level_enabled(handle_, static_cast<int>(lv)) != 0;
  }

  /** A logger of this client named `name` (the logger_name field); the client must outlive it. */
  logstash_async::logger logger(std::string name) const;

  /** The oldest notice waiting (none with a notice handler), or an empty optional. */
  std::optional<polled_notice> poll_notice() const {
    std::string message(256, '\0');
    for (int attempt = 0; attempt < 4; ++attempt) {
      logstash_async_notice n{};
      const logstash_async_result r = ::logstash_async_poll_notice(handle_, &n, message.data(), message.size());
      if (r == LOGSTASH_ASYNC_BUFFER_TOO_SMALL) {
        message.assign(n.message_len + 1, '\0');
        continue;
      }
      if (r != LOGSTASH_ASYNC_OK || n.kind == LOGSTASH_ASYNC_NOTICE_NONE) break;
      message.resize(n.message_len);
      return polled_notice{static_cast<notice_kind>(n.kind), n.count, std::move(message)};
    }
    return std::nullopt;
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

  static logstash_async_handle *open(std::string_view config_json, std::string *error_message,
                                     const logstash_async_options *options = nullptr) {
    const std::string config_z(config_json);
    char error[512] = {0};
    logstash_async_handle *h = ::logstash_async_create_with_options(config_z.c_str(), options, error, sizeof error);
    if (h == nullptr && error_message != nullptr) *error_message = error;
    return h;
  }

  static void notice_trampoline(void *handler, const logstash_async_notice *n) noexcept {
    try {
      (*static_cast<notice_handler *>(handler))(
          notice{static_cast<notice_kind>(n->kind), n->count, std::string_view(n->message, n->message_len)});
    } catch (...) {
      // Nothing may unwind into the library's worker thread.
    }
  }

  static std::uint32_t clamp_ms(std::chrono::milliseconds timeout) noexcept {
    const auto count = timeout.count();
    if (count <= 0) return 0;
    if (static_cast<unsigned long long>(count) > UINT32_MAX) return UINT32_MAX;
    return static_cast<std::uint32_t>(count);
  }

  logstash_async_handle *handle_ = nullptr;
  std::chrono::milliseconds shutdown_timeout_ = default_shutdown_timeout;
  // Declared after handle_: destroyed once the destructor's shutdown has
  // returned (no call of it can follow).
  std::unique_ptr<notice_handler> on_notice_;
};

/** A client's records under a logger name (python's logger name: the logger_name field). */
class logger : public level_calls<logger> {
 public:
  logger(const client &owner, std::string name) : client_(&owner), name_(std::move(name)) {}

  std::error_code log(level lv, std::string_view message, std::initializer_list<field> fields = {},
                      location where = location::current()) const noexcept {
    return client_->log_record(lv, name_, message, fields.begin(), fields.size(), where);
  }

  const std::string &name() const noexcept { return name_; }

 private:
  const client *client_;
  std::string name_;
};

inline logstash_async::logger client::logger(std::string name) const { return {*this, std::move(name)}; }

/**
 * The calling thread's context on a client while the guard lives (logback's
 * MDC): every record this thread logs through the client carries the fields
 * (other threads never see them); the destructor removes the keys. Create
 * and destroy it on the same thread; the client must outlive it.
 *
 *   logstash_async::scoped_context ctx(log, {{"request_id", id}, {"user_id", 42}});
 */
class scoped_context {
 public:
  scoped_context(const client &owner, std::initializer_list<field> fields) : handle_(owner.native_handle()) {
    keys_.reserve(fields.size());
    for (const field &f : fields) {
      const logstash_async_field &c = f.c_field();
      keys_.emplace_back(c.key, c.key_len);
      const logstash_async_result r = ::logstash_async_context_set_field(handle_, &c);
      if (r != LOGSTASH_ASYNC_OK && !error_) error_ = r;
    }
  }
  scoped_context(const scoped_context &) = delete;
  scoped_context &operator=(const scoped_context &) = delete;
  ~scoped_context() {
    for (const std::string &key : keys_) (void)::logstash_async_context_remove(handle_, key.c_str());
  }

  /** The first error setting the fields (a false error_code: all set). */
  std::error_code error() const noexcept { return error_; }

 private:
  logstash_async_handle *handle_;
  std::vector<std::string> keys_;
  std::error_code error_;
};

}  // namespace logstash_async

#endif /* LOGSTASH_ASYNC_HPP */
