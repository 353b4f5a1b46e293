# frozen_string_literal: true

require "json"

module LogstashAsync
  # One native handle: an in-memory queue, a SQLite buffer and a background
  # worker thread that ships events to Logstash. `emit` and `log` only
  # validate and copy the event; the network and the disk are the worker's.
  #
  # Thread-safe: share one client between threads. Fork-aware: used in a
  # forked child, it opens a fresh handle of its own (see README, "fork").
  class Client
    DEFAULT_TIMEOUT = 5.0
    # A forked child with a file database uses "<database_path>.child-<n>",
    # the first n in 1..MAX_CHILD_DATABASES whose file no live process holds.
    MAX_CHILD_DATABASES = 64
    IN_MEMORY = ":memory:"

    # `options` are the library's configuration options (README,
    # "Configuration"), e.g. transport: "udp", database_path: "/var/lib/app/ls.db",
    # extra: {app: "shop"}, hosts: ["a:5044", "b:5044"]. Raises ConfigError
    # with the library's message when one is unknown or invalid.
    def initialize(host: nil, port: nil, **options)
      @config = {}
      @config["host"] = host unless host.nil?
      @config["port"] = port unless port.nil?
      options.each { |key, value| @config[key.to_s] = value }
      @config_json = encode_config(@config)
      # With overflow_policy "block" an emit may wait for room: it then runs
      # without the GVL (and without the client's lock).
      @blocking = @config["overflow_policy"].to_s == "block"
      @lock = Mutex.new
      @idle = ConditionVariable.new
      @blocking_calls = 0
      @extras = {} # set_extra values (JSON text), replayed on a forked child's handle
      @closed = false
      @handle = nil
      @database_path = nil
      open_handle(@config_json)
      @database_path = @config["database_path"]&.to_s
      Lifecycle.register(self)
    end

    # The configured `tags` option (Strings), which Logger merges with
    # Rails' TaggedLogging tags.
    def tags
      Array(@config["tags"]).map(&:to_s)
    end

    # Emits one event: a Hash with any keys ("message", "level" and
    # "@timestamp" are top-level fields of the Logstash event, the others go
    # under the extra prefix). Raises QueueFullError, EventTooLargeError,
    # InvalidJsonError (a value JSON cannot encode) or ClosedError.
    def emit(event)
      emit_json(JSON.generate(event))
    rescue JSON::GeneratorError, JSON::NestingError, Encoding::UndefinedConversionError => e
      raise InvalidJsonError.new("event cannot be encoded as JSON: #{e.message}", code: 3)
    end

    # The level names logstash_async_log accepts.
    LIBRARY_LEVELS = %w[DEBUG INFO WARNING ERROR CRITICAL].freeze

    # Emits an event already encoded as a JSON object (a String).
    def emit_json(json)
      json = json.to_str
      code = if @blocking
               buf, = Native.c_strings(json)
               unlocked_call { |h| Native.logstash_async_emit_json_blocking(h, buf, json.bytesize) }
             else
               locked { Native.logstash_async_emit_json(live_handle, json, json.bytesize) }
             end
      Native.check!(code)
      self
    end

    # Logs a message: `level` is a Python level name ("WARNING"), a Ruby one
    # (:warn, "fatal") or a ::Logger severity (Logger::WARN); logger_name may be nil.
    def log(level, logger_name, message)
      level = LogstashAsync.level_name(level)
      logger_name = logger_name&.to_s
      message = message.to_s
      if level.include?("\0") || logger_name&.include?("\0") || message.include?("\0")
        # C strings cannot hold NUL bytes; JSON can.
        event = { "level" => level, "message" => message }
        event["logger_name"] = logger_name if logger_name
        return emit(event)
      end
      log_plain(level, logger_name, message)
      self
    end

    # #log for text known to be valid: a Python level name, a logger name (or
    # nil) and a message, UTF-8 without NUL bytes (Logger checks; it saves
    # the normalising of #log on every entry).
    def log_plain(level, logger_name, message) # :nodoc:
      unless LIBRARY_LEVELS.include?(level)
        # The library's log call refuses other names (UNKNOWN): sent as written.
        event = { "level" => level, "message" => message }
        event["logger_name"] = logger_name if logger_name
        return emit(event)
      end
      code = if @blocking
               args = Native.c_strings(level, logger_name, message)
               unlocked_call { |h| Native.logstash_async_log_blocking(h, *args) }
             else
               locked { Native.logstash_async_log(live_handle, level, logger_name, message) }
             end
      Native.check!(code)
    end

    # Adds an extra field to every event emitted after this call; a nil value
    # removes the key. `value` is anything JSON can encode.
    def set_extra(key, value)
      key = key.to_s
      json = value.nil? ? nil : JSON.generate(value)
      locked do
        Native.check!(Native.logstash_async_set_extra(live_handle, key, json))
        json ? @extras[key] = json : @extras.delete(key)
      end
      self
    end

    # Waits until every event emitted before the call is delivered (true), or
    # raises TimeoutError after `timeout` seconds, or StoredNotSentError when
    # they are all safe in the database file but the receiver is failing.
    # Other threads keep running meanwhile (the GVL is released).
    def flush(timeout: DEFAULT_TIMEOUT)
      Native.check!(unlocked_call { |h| Native.logstash_async_flush(h, milliseconds(timeout)) })
      true
    end

    # Delivers what it can within `timeout` seconds, stops the worker and
    # frees the handle. Returns true when everything was delivered, false
    # when some events were left in the database file (sent by the next
    # client on it) or lost (":memory:"). Idempotent: a second call returns
    # nil; every other method raises ClosedError afterwards.
    def close(timeout: DEFAULT_TIMEOUT)
      handle = nil
      owner = false
      locked do
        return nil if @closed

        @closed = true
        # A flush in progress (bounded by its own timeout) ends first: the
        # library forbids shutdown racing another call on the handle.
        @idle.wait(@lock) while @blocking_calls.positive?
        handle = @handle
        owner = @pid == Process.pid
        @handle = nil
      end
      return true unless handle

      handle.autorelease = false
      # An inherited handle belongs to the parent: nothing of it is freed here.
      return true unless owner

      Native.logstash_async_shutdown(handle, milliseconds(timeout)) == Native::OK
    end

    def closed?
      @closed
    end

    # The library's counters as a Hash with String keys: "emitted", "sent",
    # "queued", "buffered", "dropped_queue_full", "last_error", ...
    def stats
      JSON.parse(read_text(:logstash_async_stats_json))
    end

    # The counters in Prometheus's text exposition format, each sample
    # labelled with this handle (the handle_name option, or its number in
    # the process). LogstashAsync.prometheus merges several clients.
    def stats_prometheus
      read_text(:logstash_async_stats_prometheus)
    end

    def inspect
      state = if @closed then "closed"
              elsif @pid == Process.pid then "open"
              else "inherited (reopens on use)"
              end
      "#<#{self.class} #{@config['host']}:#{@config['port']} #{state}>"
    end

    # Called in a forked child by the Process._fork hook (Ruby >= 3.1): the
    # inherited handle is the parent's and must never be released here.
    # Reopening waits for the first use (a child that never logs costs nothing).
    def forget_parent_handle # :nodoc:
      @handle.autorelease = false if @handle && @pid != Process.pid
    end

    private

    # Calls one of the library's "text into a buffer" functions (stats_json,
    # stats_prometheus), growing the buffer when it is too small.
    def read_text(function)
      locked do
        handle = live_handle
        out_len = FFI::MemoryPointer.new(:size_t)
        size = 4096
        loop do
          buf = FFI::MemoryPointer.new(:char, size)
          code = Native.public_send(function, handle, buf, size, out_len)
          break buf.read_string.force_encoding(Encoding::UTF_8) if code == Native::OK
          Native.check!(code) unless code == Native::BUFFER_TOO_SMALL && size <= 1 << 20

          size = out_len.read(:size_t) + 1
        end
      end
    end

    # Runs the block holding the client's lock. Ruby refuses Mutex in a
    # signal trap; there the block runs unlocked (only a close racing the
    # trap handler could then free the handle under it).
    def locked(&block)
      @lock.synchronize(&block)
    rescue ThreadError => e
      raise unless e.message.include?("trap context")

      yield
    end

    # Runs a call that may wait (a flush, a blocking emit) with the handle but
    # without the lock, so that other threads keep using the client; close
    # waits for it to end (the library forbids shutdown racing another call).
    def unlocked_call
      handle = locked do
        h = live_handle
        @blocking_calls += 1
        h
      end
      begin
        yield handle
      ensure
        locked do
          @blocking_calls -= 1
          @idle.broadcast if @blocking_calls.zero?
        end
      end
    end

    # The handle to use (caller holds the lock): opens a fresh one first when
    # this process is a fork of the one that opened the current handle.
    def live_handle
      raise ClosedError.new("the client is closed", code: nil) if @closed

      reopen_in_child unless @pid == Process.pid
      @handle
    end

    def reopen_in_child
      forget_parent_handle
      @handle = nil
      if file_database?
        open_child_database
      else
        open_handle(@config_json)
      end
      @extras.each do |key, json|
        Native.check!(Native.logstash_async_set_extra(@handle, key, json))
      end
    end

    def file_database?
      !@database_path.nil? && @database_path != IN_MEMORY && !@database_path.empty?
    end

    def open_child_database
      (1..MAX_CHILD_DATABASES).each do |n|
        config = @config.merge("database_path" => "#{@database_path}.child-#{n}")
        begin
          return open_handle(encode_config(config))
        rescue ConfigError => e
          raise unless e.message.include?("in use by another")
        end
      end
      raise ConfigError, "database_path #{@database_path}: every child database " \
                         "(.child-1 to .child-#{MAX_CHILD_DATABASES}) is in use"
    end

    def open_handle(config_json)
      error = FFI::MemoryPointer.new(:char, 1024)
      ptr = Native.logstash_async_create(config_json, error, error.size)
      raise ConfigError, error.read_string.force_encoding(Encoding::UTF_8) if ptr.null?

      @pid = Process.pid
      @handle = FFI::AutoPointer.new(ptr, Native.releaser(@pid))
    end

    def encode_config(config)
      JSON.generate(config)
    rescue JSON::GeneratorError => e
      raise ConfigError, "configuration cannot be encoded as JSON: #{e.message}"
    end

    def milliseconds(seconds)
      (Float(seconds) * 1000).round.clamp(0, 0xFFFF_FFFF)
    end
  end
end
