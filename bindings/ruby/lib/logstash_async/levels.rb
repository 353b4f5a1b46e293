# frozen_string_literal: true

require "logger"

module LogstashAsync
  # ::Logger severities to the level names Logstash sees (Python's, as
  # python-logstash-async sends them). UNKNOWN ("always log this") has no
  # Python counterpart: it is sent as "UNKNOWN" rather than folded into another level.
  LEVEL_NAMES = {
    ::Logger::DEBUG => "DEBUG",
    ::Logger::INFO => "INFO",
    ::Logger::WARN => "WARNING",
    ::Logger::ERROR => "ERROR",
    ::Logger::FATAL => "CRITICAL",
    ::Logger::UNKNOWN => "UNKNOWN"
  }.freeze

  # Ruby spellings that differ from Python's.
  LEVEL_ALIASES = { "WARN" => "WARNING", "FATAL" => "CRITICAL", "ANY" => "UNKNOWN" }.freeze

  # A level name for the library: an Integer severity, or a String/Symbol in
  # Ruby's or Python's spelling (other names pass through upper-cased); nil is "INFO".
  def self.level_name(level)
    case level
    when nil then "INFO"
    when Integer then LEVEL_NAMES.fetch(level, "UNKNOWN")
    else
      name = level.to_s.upcase
      LEVEL_ALIASES.fetch(name, name)
    end
  end
end
