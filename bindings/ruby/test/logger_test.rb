# frozen_string_literal: true

require_relative "test_helper"

class LoggerTest < Minitest::Test
  include ReceiverTest

  def logger(**options)
    LogstashAsync::Logger.new(client, **options)
  end

  def delivered(log, count)
    assert log.deliver(timeout: 10)
    @receiver.wait_for(count)
  end

  def test_is_a_logger_with_python_level_names
    log = logger(progname: "app.web")
    assert_kind_of ::Logger, log
    log.debug("d")
    log.info("i")
    log.warn("w")
    log.error("e")
    log.fatal("f")
    log.unknown("u")
    events = delivered(log, 6)
    assert_equal %w[d i w e f u], events.map { |e| e["message"] }
    assert_equal %w[DEBUG INFO WARNING ERROR CRITICAL UNKNOWN], events.map { |e| e["level"] }
    assert(events.all? { |e| e["extra"]["logger_name"] == "app.web" })
  end

  def test_level_threshold_blocks_and_progname
    log = logger(level: :warn)
    refute log.debug?
    refute log.info?
    assert log.warn?
    called = false
    log.info { called = true }
    refute called, "a filtered block is not evaluated"
    log.warn("worker") { "lazy" } # a block: the argument is the progname
    log.level = Logger::DEBUG
    assert log.debug?
    log.add(Logger::INFO, "via add")
    log.log(Logger::ERROR, nil, "prog") # ::Logger: the progname is the message
    events = delivered(log, 3)
    assert_equal %w[lazy via\ add prog], events.map { |e| e["message"] }
    assert_equal "worker", events[0]["extra"]["logger_name"]
    assert_equal %w[WARNING INFO ERROR], events.map { |e| e["level"] }
  end

  def test_hash_message_becomes_fields
    log = logger
    log.info(message: "signed in", user_id: 7, "roles" => %w[a b])
    log.warn(user_id: 8)
    first, second = delivered(log, 2)
    assert_equal "signed in", first["message"]
    assert_equal 7, first["extra"]["user_id"]
    assert_equal %w[a b], first["extra"]["roles"]
    assert_equal "", second["message"]
    assert_equal "WARNING", second["level"]
  end

  def test_exception_gives_error_type_message_and_stack_trace
    log = logger
    begin
      begin
        raise KeyError, "inner"
      rescue KeyError
        raise ArgumentError, "boom"
      end
    rescue ArgumentError => e
      log.error(e)
      log.error(message: "checkout failed", exception: e, order: 7)
    end
    log.warn(RuntimeError.new("never raised"))
    first, second, third = delivered(log, 3)
    assert_equal "boom", first["message"]
    assert_equal "ArgumentError", first["extra"]["error_type"]
    trace = first["extra"]["stack_trace"]
    assert_match(/logger_test\.rb:\d+:in .*boom \(ArgumentError\)/, trace)
    assert_includes trace, "inner (KeyError)", "the cause is part of the trace"
    assert_equal "checkout failed", second["message"]
    assert_equal "ArgumentError", second["extra"]["error_type"]
    assert_equal 7, second["extra"]["order"]
    refute second["extra"].key?("exception")
    assert_equal "never raised", third["message"]
    assert_equal "RuntimeError", third["extra"]["error_type"]
    refute third["extra"].key?("stack_trace"), "no backtrace: no stack_trace"
  end

  def test_with_fields_nests_and_stays_in_its_thread
    log = logger
    other_ready = Queue.new
    go = Queue.new
    other = Thread.new do
      other_ready << true
      go.pop
      log.info("other thread")
    end
    other_ready.pop
    log.with_fields(request_id: "r-1") do
      log.with_fields(user: 5, request_id: "r-2") { log.info("inner") }
      go << true
      other.join
      log.info("outer")
    end
    log.info("after")
    events = delivered(log, 4).to_h { |e| [e["message"], e["extra"]] }
    assert_equal "r-2", events["inner"]["request_id"]
    assert_equal 5, events["inner"]["user"]
    assert_equal "r-1", events["outer"]["request_id"]
    refute events["outer"].key?("user")
    refute events["other thread"].key?("request_id")
    refute events["after"].key?("request_id")
  end

  def test_with_fields_without_a_block_returns_a_tagged_copy
    log = logger(progname: "base")
    billing = log.with_fields(component: "billing")
    billing.info("charged")
    log.info("plain")
    events = delivered(log, 2).to_h { |e| [e["message"], e["extra"]] }
    assert_equal "billing", events["charged"]["component"]
    refute events["plain"].key?("component")
  end

  # What Rails does with config.logger: formatter=, level, silence, <<, local_level.
  def test_rails_style_usage
    log = logger
    log.formatter = proc { |severity, _time, _prog, msg| "[#{severity}] #{msg}\n" }
    log.info("formatted")
    log.silence do
      log.info("silenced")
      log.error("loud")
    end
    log.local_level = :error
    log.warn("below local level")
    log.local_level = nil
    log << "GET / 200\n"
    assert_respond_to log, :datetime_format=
    assert_equal Logger::DEBUG, log.level
    events = delivered(log, 3)
    assert_equal ["[INFO] formatted", "[ERROR] loud", "GET / 200"], events.map { |e| e["message"] }
    assert_equal "INFO", events[2]["level"]
  end

  def test_bad_encoding_is_scrubbed_not_raised
    log = logger
    log.info("caf\xE9".b)
    log.info(message: "x", value: Float::NAN)
    events = delivered(log, 2)
    assert_equal "caf\uFFFD", events[0]["message"]
    assert_equal "NaN", events[1]["extra"]["value"]
  end

  def test_twenty_threads_lose_nothing
    log = logger
    Array.new(20) { |t| Thread.new { 100.times { |i| log.info("t#{t}-#{i}") } } }.each(&:join)
    events = delivered(log, 2000)
    assert_equal 2000, events.map { |e| e["message"] }.uniq.size
  end

  def test_logging_after_close_warns_once_and_does_not_raise
    log = LogstashAsync::Logger.new({ host: "127.0.0.1", port: @receiver.port, stderr_errors: false })
    log.info("before")
    log.close
    assert log.client.closed?, "a logger closes the client it created"
    _out, err = capture_io do
      log.info("after")
      log.info("again")
    end
    assert_equal 1, err.lines.size
    assert_match(/closed/, err)
    assert_equal ["before"], @receiver.wait_for(1).map { |e| e["message"] }
  end

  def test_shared_client_is_not_closed_by_the_logger
    c = client
    log = LogstashAsync::Logger.new(c)
    log.close
    refute c.closed?
  end

  # Options of the library and of ::Logger never mix: the library's
  # formatter "ecs" works, and a misplaced option is refused at once.
  def test_library_formatter_option_is_not_the_logger_formatter
    log = LogstashAsync::Logger.new({ host: "127.0.0.1", port: @receiver.port, formatter: "ecs",
                                      stderr_errors: false }, progname: "shop", level: :info)
    log.info("ecs event")
    log.debug("below the level")
    event = delivered(log, 1).first
    assert_equal "INFO", event["log"]["level"]
    assert_equal "shop", event["log"]["logger"]
    log.close
    error = assert_raises(ArgumentError) { LogstashAsync::Logger.new({ host: "h" }, formatter: "ecs") }
    assert_match(/options Hash/, error.message)
    error = assert_raises(ArgumentError) { LogstashAsync::Logger.new(host: "h", port: 1) }
    assert_match(/unknown keywords: host, port .*first argument/, error.message)
  end

  def test_flush_never_waits_and_deliver_reports
    log = LogstashAsync::Logger.new(client(port: 9)) # nothing listens there
    log.info("undeliverable")
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    assert_same log, log.flush
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 1
    assert_equal false, log.deliver(timeout: 0.2)
  end
end
