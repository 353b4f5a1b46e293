# frozen_string_literal: true

module LogstashAsync
  # Turns one Logger entry (a String, a Hash of fields, an Exception or any
  # object) into the event Hash the library receives. Never raises: whatever
  # an object does when asked for its text, the entry gets a best-effort string.
  module Entry
    # Keys of a Hash entry whose Exception value gives the error fields.
    EXCEPTION_KEYS = %w[exception error].freeze
    # ::Logger's severity labels (what a ::Logger formatter is given).
    SEVERITY_LABELS = %w[DEBUG INFO WARN ERROR FATAL ANY].freeze

    module_function

    # The event for a ::Logger severity, an entry, its logger name, the
    # logger's fields and tags. `formatter` (::Logger's, nil, or Rails'
    # tagged one, whose tags arrive in `tags` instead) shapes String entries.
    def event(severity, message, name, fields, tags, formatter)
      event = fields.dup
      case message
      when Hash then add_hash(event, message)
      when Exception then event.update(exception_fields(message))
      else event["message"] = text(severity, message, name, formatter)
      end
      event["level"] = LEVEL_NAMES.fetch(severity, "UNKNOWN")
      event["logger_name"] = name if name
      event["tags"] = (Array(event["tags"]) + tags).uniq unless tags.empty?
      event
    end

    def add_hash(event, hash)
      hash.each { |k, v| event[SafeJSON.key(k)] = v }
      error = EXCEPTION_KEYS.map { |k| event[k] }.find { |v| Exception === v }
      if error
        EXCEPTION_KEYS.each { |k| event.delete(k) if event[k].equal?(error) }
        fields = exception_fields(error)
        fields.delete("message") if event.key?("message")
        event.update(fields)
      end
      text = event.delete("message")
      event["message"] = String === text ? text : inspect_of(text) unless NilClass === text
    end

    # python-logstash-async's fields for an exception: its message, its class
    # (error_type; ECS error.type) and the trace with its causes (stack_trace).
    def exception_fields(error)
      fields = { "message" => SafeJSON.string_of(safe { error.message } || ""),
                 "error_type" => SafeJSON.class_name(error) }
      trace = safe { error.backtrace && error.full_message(highlight: false, order: :top) }
      fields["stack_trace"] = trace if trace
      fields
    end

    # A String entry's message: through ::Logger's formatter if one is set
    # (not Rails' tagged formatter: its tags go to the tags field), else the
    # text itself; other objects as #inspect, like ::Logger.
    def text(severity, message, name, formatter)
      if formatter && !formatter.respond_to?(:current_tags)
        formatted = safe { formatter.call(SEVERITY_LABELS.fetch(severity, "ANY"), Time.now, name, message) }
        return SafeJSON.string_of(formatted).chomp unless NilClass === formatted
      end
      String === message ? message : inspect_of(message)
    end

    def inspect_of(obj)
      text = safe { obj.inspect }
      String === text ? text : SafeJSON.string_of(obj)
    end

    # The block's value, or nil when it raises.
    def safe
      yield
    rescue StandardError, SystemStackError
      nil
    end
  end
end
