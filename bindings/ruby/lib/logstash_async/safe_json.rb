# frozen_string_literal: true

require "json"

module LogstashAsync
  # JSON for whatever a program hands a logger, without ever raising:
  # JSON.generate first (the fast, usual case), and when that fails a copy of
  # the value that JSON can always encode: cycles and nesting deeper than
  # MAX_DEPTH become marker strings, strings become valid UTF-8 (other
  # encodings converted, invalid bytes replaced by U+FFFD), non-finite floats
  # strings, and any other object its #to_s, or "#<ClassName>" when that
  # raises or is missing (BasicObject).
  module SafeJSON
    # Deeper levels are replaced: the library refuses events nested deeper
    # than 100, and the layout adds a level or two.
    MAX_DEPTH = 32
    CIRCULAR = "[circular reference]"
    TOO_DEEP = "[nested too deeply]"

    module_function

    # The JSON text of value (a Hash for an event).
    def generate(value)
      JSON.generate(value, max_nesting: MAX_DEPTH)
    rescue StandardError, SystemStackError
      JSON.generate(clean(value), max_nesting: false)
    end

    # A copy of value made of Hash (String keys), Array, String (UTF-8),
    # Integer, finite Float, true, false and nil only.
    def clean(value, depth = 0, seen = {}.compare_by_identity)
      case value
      when nil, true, false, Integer then value
      when Float then value.finite? ? value : value.to_s
      when String then utf8(value)
      when Symbol then utf8(value.name)
      when Hash, Array then container(value, depth, seen)
      else string_of(value)
      end
    rescue StandardError, SystemStackError
      "#<#{class_name(value)}>"
    end

    def container(value, depth, seen)
      return TOO_DEEP if depth >= MAX_DEPTH
      return CIRCULAR if seen.key?(value)

      seen[value] = true
      begin
        if value.is_a?(Hash)
          value.each_with_object({}) { |(k, v), out| out[key(k)] = clean(v, depth + 1, seen) }
        else
          value.map { |v| clean(v, depth + 1, seen) }
        end
      ensure
        seen.delete(value)
      end
    end

    def key(key)
      key.is_a?(String) ? utf8(key) : string_of(key)
    end

    # s as valid UTF-8: other encodings converted, invalid bytes replaced.
    def utf8(str)
      str = String.new(str) unless str.instance_of?(String) # a subclass may override anything
      return str if str.encoding == Encoding::UTF_8 && str.valid_encoding? # the usual case: as it is

      if str.encoding == Encoding::UTF_8 || str.encoding == Encoding::BINARY || str.encoding == Encoding::US_ASCII
        utf = str.dup.force_encoding(Encoding::UTF_8)
        utf.valid_encoding? ? utf : utf.scrub("\uFFFD")
      else
        str.encode(Encoding::UTF_8, invalid: :replace, undef: :replace, replace: "\uFFFD")
      end
    rescue StandardError
      str.b.force_encoding(Encoding::UTF_8).scrub("\uFFFD")
    end

    # An object as text: its #to_s (as JSON.generate would write it), or its
    # class name when #to_s raises, is missing or returns no String.
    def string_of(obj)
      text = obj.to_s
      String === text ? utf8(text) : "#<#{class_name(obj)}>"
    rescue StandardError, SystemStackError
      "#<#{class_name(obj)}>"
    end

    # The class name of any object, BasicObject included.
    def class_name(obj)
      Kernel.instance_method(:class).bind_call(obj).name || "anonymous class"
    rescue StandardError
      "object"
    end
  end
end
