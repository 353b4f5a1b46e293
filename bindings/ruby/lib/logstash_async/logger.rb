# frozen_string_literal: true

require "logger"

module LogstashAsync
  # A drop-in ::Logger that ships every entry to Logstash through a Client.
  #
  #   logger = LogstashAsync::Logger.new(host: "logstash", progname: "shop")
  #   logger.info("started")                        # message "started", level "INFO"
  #   logger.warn(order_id: 7, message: "slow")      # a Hash: its keys become fields
  #   logger.with_fields(request_id: "r-1") { logger.error("boom") }
  #
  # Event fields: "message", "level" (Python's names: DEBUG, INFO, WARNING,
  # ERROR, CRITICAL; ::Logger::UNKNOWN is sent as "UNKNOWN"), "logger_name"
  # (the progname, omitted when nil), the fields of with_fields and of a Hash
  # message, and "stack_trace" for an Exception message.
  #
  # Logging never raises for delivery problems (a full queue, a closed
  # client): like ::Logger with a broken device, it warns once per kind on
  # stderr and carries on; the client's stats count what was dropped.
  class Logger < ::Logger
    attr_reader :client

    # Either give a Client (shared, not closed by #close unless close_client:
    # true) or the Client's keyword options (host:, port:, ...), in which case
    # the logger owns the client it creates.
    def initialize(client = nil, level: DEBUG, progname: nil, formatter: nil,
                   datetime_format: nil, close_client: nil, **client_options)
      super(nil, level: level, progname: progname, formatter: formatter,
                 datetime_format: datetime_format)
      if client
        raise ArgumentError, "give a Client or its options, not both" unless client_options.empty?

        @client = client
      else
        @client = Client.new(**client_options)
      end
      @close_client = close_client.nil? ? client.nil? : close_client
      @static_fields = {}.freeze
      # Fiber-local state (Thread#[] is per fiber), one slot per logger.
      @fields_key = :"__logstash_async_fields_#{object_id}"
      @level_key = :"__logstash_async_level_#{object_id}"
      @warned = {}
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
      Thread.current[@level_key] = severity.nil? ? nil : Logger.severity(severity)
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

    def add(severity, message = nil, progname = nil)
      severity ||= UNKNOWN
      return true if severity < level

      progname = @progname if progname.nil?
      if message.nil?
        if block_given?
          message = yield
        else
          message = progname
          progname = @progname
        end
      end
      ship(severity, message, progname)
      true
    end
    alias log add

    # Raw text (Rack::CommonLogger and friends): sent as an INFO event.
    def <<(msg)
      ship(INFO, msg.to_s.chomp, @progname, raw: true)
      self
    end

    # Closes the client if this logger created it (or close_client: true).
    def close(timeout: Client::DEFAULT_TIMEOUT)
      @client.close(timeout: timeout) if @close_client
      nil
    end

    # Waits for delivery of what was logged so far (see Client#flush).
    def flush(timeout: Client::DEFAULT_TIMEOUT)
      @client.flush(timeout: timeout)
    end

    # Nothing to reopen: the client reopens itself in a forked child.
    def reopen(_logdev = nil)
      self
    end

    SEVERITIES = {
      "debug" => DEBUG, "info" => INFO, "warn" => WARN, "warning" => WARN,
      "error" => ERROR, "fatal" => FATAL, "critical" => FATAL, "unknown" => UNKNOWN
    }.freeze

    # An Integer severity from ::Logger's spellings (and Python's).
    def self.severity(value)
      return value if value.is_a?(Integer)

      SEVERITIES.fetch(value.to_s.downcase) { raise ArgumentError, "invalid log level: #{value}" }
    end

    def self.stringify_keys(hash)
      hash.to_hash.each_with_object({}) { |(k, v), out| out[k.to_s] = v }
    end

    private

    # `raw`: the message is sent as it is, without the formatter (for #<<).
    def ship(severity, message, progname, raw: false)
      name = progname&.to_s
      fields = current_fields
      if fields.empty? && message.is_a?(String) && (raw || @formatter.nil?) && !message.include?("\0")
        @client.log(LEVEL_NAMES.fetch(severity, "UNKNOWN"), name, message) # no JSON work in Ruby
      else
        @client.emit(build_event(severity, message, name, fields, raw))
      end
    rescue InvalidUtf8Error, InvalidJsonError
      @client.emit(Logger.sanitize(build_event(severity, message, name, fields, raw)))
    rescue Error => e
      warn_once(e)
    end

    def build_event(severity, message, name, fields, raw)
      event = fields.dup
      case message
      when Hash
        message.each { |k, v| event[k.to_s] = v }
        text = event.delete("message")
        event["message"] = text.is_a?(String) ? text : msg2str(text) unless text.nil?
      when Exception
        event["message"] = msg2str(message)
        event["stack_trace"] = message.backtrace.join("\n") if message.backtrace
      else
        event["message"] =
          if @formatter && !raw
            @formatter.call(format_severity(severity), Time.now, name, message).to_s.chomp
          else
            msg2str(message)
          end
      end
      event["level"] = LEVEL_NAMES.fetch(severity, "UNKNOWN")
      event["logger_name"] = name if name
      event
    end

    def msg2str(msg)
      case msg
      when String then msg
      when Exception then "#{msg.message} (#{msg.class})"
      else msg.inspect
      end
    end

    def warn_once(error)
      return if @warned[error.class]

      @warned[error.class] = true
      # (Not `warn`: inside a Logger that is the log method.)
      $stderr.write "LogstashAsync::Logger: log writing failed: #{error.message} " \
           "(further #{error.class.name.split('::').last} failures are not reported; see client.stats)\n"
    end

    # A copy JSON can encode: strings scrubbed to UTF-8, non-finite floats as strings.
    def self.sanitize(value)
      case value
      when Hash then value.each_with_object({}) { |(k, v), out| out[sanitize(k.to_s)] = sanitize(v) }
      when Array then value.map { |v| sanitize(v) }
      when String
        utf8 = value.dup.force_encoding(Encoding::UTF_8)
        utf8.valid_encoding? ? utf8 : utf8.scrub("\uFFFD")
      when Float then value.finite? ? value : value.to_s
      else value
      end
    end
  end
end
