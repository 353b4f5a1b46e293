# frozen_string_literal: true

module LogstashAsync
  # Base class of every error this gem raises. `code` is the library's result
  # code (an Integer), or nil for errors raised by the Ruby side.
  class Error < StandardError
    attr_reader :code

    def initialize(message = nil, code: nil)
      super(message)
      @code = code
    end
  end

  # Client.new: the library refused the configuration; the message is the library's.
  class ConfigError < Error; end
  # The client (or logger) was closed: nothing more can be sent through it.
  class ClosedError < Error; end

  # One class per library result code (include/logstash_async.h; codes are never renumbered).
  class NullArgumentError < Error; end      # 1
  class InvalidUtf8Error < Error; end       # 2
  class InvalidJsonError < Error; end       # 3
  class NotAnObjectError < Error; end       # 4
  class EventTooLargeError < Error; end     # 5
  class QueueFullError < Error; end         # 6
  class TimeoutError < Error; end           # 7
  class StoredNotSentError < Error; end     # 8
  class ShuttingDownError < Error; end      # 9
  class InvalidArgumentError < Error; end   # 10
  class ForkedError < Error; end            # 11
  class BufferTooSmallError < Error; end    # 12
  class InternalError < Error; end          # 13
  class UnknownLevelError < Error; end      # 14
  class TooManyFieldsError < Error; end     # 15
  class UnknownFieldTypeError < Error; end  # 16

  ERRORS_BY_CODE = {
    1 => NullArgumentError, 2 => InvalidUtf8Error, 3 => InvalidJsonError,
    4 => NotAnObjectError, 5 => EventTooLargeError, 6 => QueueFullError,
    7 => TimeoutError, 8 => StoredNotSentError, 9 => ShuttingDownError,
    10 => InvalidArgumentError, 11 => ForkedError, 12 => BufferTooSmallError,
    13 => InternalError, 14 => UnknownLevelError, 15 => TooManyFieldsError,
    16 => UnknownFieldTypeError, 17 => ClosedError
  }.freeze
end
