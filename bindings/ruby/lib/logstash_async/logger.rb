# frozen_string_literal: true

require "logger"

module LogstashAsync
  # A drop-in ::Logger that ships every entry to Logstash through a Client.
  #
  #   logger = LogstashAsync::Logger.new({ host: "logstash", formatter: "ecs" }, progname: "shop")
  #   logger.info("started")                        # message "started", level "INFO"
  #   logger.warn(order_id: 7, message: "slow")      # a Hash: its keys become fields
  #   logger.error(exception)                        # message, error_type, stack_trace
  #   logger.with_fields(request_id: "r-1") { logger.error("boom") }
  #
  # The first argument is a Client or a Hash of the library's options; the
  # keywords are ::Logger's. The two never mix, so a library option named like
  # a ::Logger one (formatter: "ecs") cannot be taken for it.
  #
  # Logging never raises into the application: an entry that cannot be sent
  # (a closed client, a full queue, a failed reopen after fork) is counted in
  # #dropped and reported once per kind on stderr; an object that cannot be
  # encoded as it is (a cycle, deep nesting, invalid bytes, a #to_s that
  # raises, a BasicObject) is sent as a best-effort string (SafeJSON).
  class Logger < ::Logger
    attr_reader :client

    # `client_or_options`: a Client (shared: #close leaves it open unless
    # close_client: true) or a Hash of the Client's options (host:, port:,
    # formatter: "ecs", ...: the logger owns that client).
    def initialize(client_or_options = nil, level: DEBUG, progname: nil, formatter: nil,
                   datetime_format: nil, close_client: nil, **misplaced)
      reject_misplaced(misplaced)
      unless formatter.nil? || formatter.respond_to?(:call)
        raise ArgumentError, "formatter: a ::Logger formatter responds to #call; the library's " \
                             "formatter option (\"ecs\") goes in the options Hash"
      end
      super(nil, level: level, progname: progname, formatter: formatter, datetime_format: datetime_format)
      @client = open_client(client_or_options)
      @close_client = close_client.nil? ? !client_or_options.is_a?(Client) : close_client
      @static_fields = {}.freeze
      # Fiber-local state (Thread#[] is per fiber), one slot per logger.
      @fields_key = :"__logstash_async_fields_#{object_id}"
      @level_key = :"__logstash_async_level_#{object_id}"
      @drops = Hash.new(0)
      @drops_lock = Mutex.new
    end

    # The threshold in effect for the current fiber (see #silence, #log_at).
    def level
      Thread.current[@level_key] || @level
    end

    # ActiveSupport's LoggerThreadSafeLevel API (used by Rails' BroadcastLogger).
    def local_level
      Thread.current[@level_key]
    end

    def local_level=(severity)
      Thread.current[@level_key] = severity.nil? ? nil : Logger.parse_severity(severity)
    end

    # Runs the block with another threshold for the current fiber only.
    def log_at(severity)
      previous = local_level
      self.local_level = severity
      yield self
    ensure
      self.local_level = previous
    end
    alias with_level log_at

    # Rails' LoggerSilence: only `severity` and above inside the block (this fiber).
    def silence(severity = ERROR, &block)
      log_at(severity, &block)
    end

    # Adds fields to every event of this logger logged inside the block by
    # the current fiber (nested blocks merge; inner keys win). Without a
    # block, returns a copy of the logger that always adds them (same client).
    def with_fields(fields)
      fields = Logger.stringify_keys(fields)
      unless block_given?
        copy = clone
        copy.instance_variable_set(:@static_fields, @static_fields.merge(fields).freeze)
        return copy
      end

      previous = Thread.current[@fields_key]
      Thread.current[@fields_key] = (previous ? previous.merge(fields) : fields).freeze
      begin
        yield self
      ensure
        Thread.current[@fields_key] = previous
      end
    end

    # The fields with_fields currently adds (this fiber).
    def current_fields
      scoped = Thread.current[@fields_key]
      scoped ? @static_fields.merge(scoped) : @static_fields
    end

    # Rails' TaggedLogging tags in effect (its formatter keeps them), which
    # go to the event's tags field after the configured tags.
    def current_tags
      tags = @formatter.respond_to?(:current_tags) ? Entry.safe { @formatter.current_tags } : nil
      return [] if tags.nil? || tags.empty?

      @client.tags + tags.map { |t| SafeJSON.string_of(t) }
    end

    def add(severity, message = nil, progname = nil)
      severity = Logger.severity(severity)
      return true if severity < level

      # (NilClass ===, not #nil?: a BasicObject has no methods to call.)
      progname = @progname if NilClass === progname
      if NilClass === message
        if block_given?
          message = Entry.safe { yield } || "(the log message block raised or returned nil)"
        else
          message = progname
          progname = @progname
        end
      end
      ship(severity, message, progname)
      true
    rescue StandardError, SystemStackError => e
      drop("internal", e)
      true
    end
    alias log add

    # Raw text (Rack::CommonLogger and friends): sent as an INFO event.
    def <<(msg)
      ship(INFO, SafeJSON.string_of(msg).chomp, @progname, raw: true)
      self
    rescue StandardError, SystemStackError => e
      drop("internal", e)
      self
    end

    # Entries this logger could not hand to the library, by reason
    # ("closed", "queue_full", "too_large", "reopen_failed", ...). The
    # library's stats count its own drops too (client.stats).
    def dropped
      @drops_lock.synchronize { @drops.dup }
    end

    # Nothing: Rails calls flush after every request (for buffered loggers,
    # and ActiveSupport::TaggedLogging#flush clears its tags then calls it);
    # waiting for the network there would slow every request down. See #deliver.
    def flush
      self
    end

    # Waits up to `timeout` seconds until what was logged so far is
    # delivered: true when it is, false otherwise (never raises).
    def deliver(timeout: Client::DEFAULT_TIMEOUT)
      @client.flush(timeout: timeout)
    rescue Error
      false
    end

    # Closes the client if this logger created it (or close_client: true).
    def close(timeout: Client::DEFAULT_TIMEOUT)
      @client.close(timeout: timeout) if @close_client
      nil
    rescue Error
      nil
    end

    # Nothing to reopen: the client reopens itself in a forked child.
    def reopen(_logdev = nil)
      self
    end

    SEVERITIES = {
      "debug" => DEBUG, "info" => INFO, "warn" => WARN, "warning" => WARN,
      "error" => ERROR, "fatal" => FATAL, "critical" => FATAL, "unknown" => UNKNOWN
    }.freeze

    # An Integer severity from ::Logger's spellings (and Python's); raises
    # ArgumentError for anything else (a setting: local_level=, log_at).
    def self.parse_severity(value)
      return value if value.is_a?(Integer)

      SEVERITIES.fetch(value.to_s.downcase) { raise ArgumentError, "invalid log level: #{value}" }
    end

    # parse_severity for an entry: nil and anything unknown are UNKNOWN
    # (logged, like ::Logger does with nil; never an error).
    def self.severity(value)
      parse_severity(value)
    rescue StandardError
      UNKNOWN
    end

    def self.stringify_keys(hash)
      hash.to_hash.each_with_object({}) { |(k, v), out| out[SafeJSON.key(k)] = v }
    end

    DROP_REASONS = {
      QueueFullError => "queue_full", ClosedError => "closed", ShuttingDownError => "closed",
      EventTooLargeError => "too_large", ForkedError => "forked", ConfigError => "reopen_failed"
    }.freeze

    private

    def open_client(client_or_options)
      case client_or_options
      when Client then client_or_options
      when Hash then Client.new(**client_or_options.to_h { |k, v| [k.to_sym, v] })
      else raise ArgumentError, "the first argument is a LogstashAsync::Client or a Hash of its options"
      end
    end

    def reject_misplaced(misplaced)
      return if misplaced.empty?

      raise ArgumentError, "unknown keyword#{'s' if misplaced.size > 1}: #{misplaced.keys.join(', ')} " \
                           "(the library's options go in a Hash, the first argument: " \
                           "LogstashAsync::Logger.new({ host: \"logstash\", ... }, progname: \"app\"))"
    end

    # `raw`: the message is sent as it is, without the formatter (for #<<).
    def ship(severity, message, progname, raw: false)
      name = NilClass === progname ? nil : SafeJSON.string_of(progname)
      fields = current_fields
      tags = current_tags
      if fields.empty? && tags.empty? && String === message && plain?(message) && plain?(name) &&
         (raw || @formatter.nil? || @formatter.respond_to?(:current_tags))
        @client.log_plain(LEVEL_NAMES.fetch(severity, "UNKNOWN"), name, message) # no JSON work in Ruby
      else
        formatter = raw ? nil : @formatter
        @client.emit_json(SafeJSON.generate(Entry.event(severity, message, name, fields, tags, formatter)))
      end
    rescue Error => e
      drop(DROP_REASONS.fetch(e.class, "error"), e)
    end

    # Text the C API takes as it is: UTF-8 (or ASCII), valid, without NUL.
    def plain?(text)
      text.nil? || ((text.encoding == Encoding::UTF_8 || text.ascii_only?) && text.valid_encoding? &&
                    !text.include?("\0"))
    end

    def drop(reason, error)
      first = begin
        @drops_lock.synchronize { (@drops[reason] += 1) == 1 }
      rescue ThreadError # in a signal trap: no Mutex
        (@drops[reason] += 1) == 1
      end
      warn_once(reason, error) if first
    end

    def warn_once(reason, error)
      # (Not `warn`: inside a Logger that is the log method.)
      $stderr.write "LogstashAsync::Logger: an entry was dropped (#{reason}): #{error.message} " \
                    "(further #{reason} drops are counted in #dropped, not reported)\n"
    rescue StandardError
      nil # stderr closed or broken: the count remains
    end
  end
end
