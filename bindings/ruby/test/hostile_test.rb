# frozen_string_literal: true

require_relative "test_helper"

# Logger never raises into the application: each hostile input, one by one,
# becomes a best-effort event or a counted drop.
class HostileTest < Minitest::Test
  include ReceiverTest

  class RaisingToS
    def to_s
      raise "to_s raised"
    end

    def inspect
      raise "inspect raised"
    end

    def to_json(*)
      raise "to_json raised"
    end
  end

  def logger(**options)
    LogstashAsync::Logger.new(client(**options), progname: "hostile")
  end

  def delivered(log, count)
    assert log.deliver(timeout: 10)
    @receiver.wait_for(count)
  end

  def test_circular_hash
    log = logger
    loop_hash = { "name" => "a" }
    loop_hash["self"] = loop_hash
    list = [1]
    list << list
    log.info(message: "circular", data: loop_hash, list: list)
    event = delivered(log, 1).first
    assert_equal "circular", event["message"]
    assert_equal({ "name" => "a", "self" => "[circular reference]" }, event["extra"]["data"])
    assert_equal [1, "[circular reference]"], event["extra"]["list"]
  end

  def test_very_deep_hash
    log = logger
    deep = {}
    (1..1000).reduce(deep) { |h, _| h["d"] = {} }
    log.info(message: "deep", data: deep)
    event = delivered(log, 1).first
    depth = 0
    node = event["extra"]["data"]
    while node.is_a?(Hash)
      node = node["d"]
      depth += 1
    end
    assert_equal "[nested too deeply]", node
    assert_operator depth, :<, 40
  end

  def test_objects_whose_to_s_inspect_and_to_json_raise
    log = logger
    log.info(RaisingToS.new)                          # the message itself
    log.info(message: "field", value: RaisingToS.new) # a field
    log.info(message: RaisingToS.new)
    first, second, third = delivered(log, 3)
    assert_equal "#<HostileTest::RaisingToS>", first["message"]
    assert_equal "#<HostileTest::RaisingToS>", second["extra"]["value"]
    assert_equal "#<HostileTest::RaisingToS>", third["message"]
  end

  def test_bad_encodings
    log = logger
    log.info("caf\xE9".b)                                      # invalid UTF-8 bytes
    log.info("\x82\xA0".dup.force_encoding("Shift_JIS"))       # valid, another encoding
    log.info("caf\xE9".dup.force_encoding("UTF-8"))            # tagged UTF-8, invalid
    log.info(message: "fields", "k\xFF".b => "v\xFE".b, sym: "s\xFF".b.to_sym)
    log.add(Logger::INFO, "with progname", "prog\xFF".b)
    log.info("nul\0inside")
    events = delivered(log, 6)
    assert_equal ["caf\uFFFD", "\u3042", "caf\uFFFD", "fields", "with progname", "nul\0inside"],
                 events.map { |e| e["message"] }
    assert_equal "v\uFFFD", events[3]["extra"]["k\uFFFD"]
    assert_equal "prog\uFFFD", events[4]["extra"]["logger_name"]
  end

  def test_basic_object
    log = logger
    log.info(BasicObject.new)
    log.info(message: "field", value: BasicObject.new)
    log.add(Logger::WARN, "basic progname", BasicObject.new)
    first, second, third = delivered(log, 3)
    assert_equal "#<BasicObject>", first["message"]
    assert_equal "#<BasicObject>", second["extra"]["value"]
    assert_equal "#<BasicObject>", third["extra"]["logger_name"]
  end

  def test_closed_handle
    c = client
    log = LogstashAsync::Logger.new(c)
    log.info("before")
    c.close(timeout: 5)
    _out, err = capture_io do
      log.info("after")
      log.warn(message: "after", n: 1)
      log << "raw after"
    end
    assert_equal 1, err.lines.size, err
    assert_match(/dropped \(closed\)/, err)
    assert_equal({ "closed" => 3 }, log.dropped)
    assert_equal false, log.deliver(timeout: 1)
    assert_nil log.close
  end

  def test_forked_child_logs_through_its_own_handle_and_a_closed_one_never_raises
    log = LogstashAsync::Logger.new(client, progname: "parent")
    log.info("parent")
    assert log.deliver(timeout: 10)
    pid = fork do
      log.info("from the child")
      ok = log.deliver(timeout: 10)
      log.client.close(timeout: 5)
      log.info("after close in the child") # counted, not raised
      exit!(ok && log.dropped == { "closed" => 1 } ? 0 : 1)
    end
    _, status = Process.wait2(pid)
    assert status.success?, "the child failed"
    events = @receiver.wait_for(2)
    child = events.find { |e| e["message"] == "from the child" }
    assert_equal pid, child["pid"]
    log.info("parent again")
    assert log.deliver(timeout: 10)
  end

  def test_event_too_large_is_a_counted_drop
    log = logger(max_event_bytes: 1024)
    capture_io { log.info("x" * 5000) }
    log.info("small")
    assert_equal({ "too_large" => 1 }, log.dropped)
    assert_equal ["small"], delivered(log, 1).map { |e| e["message"] }
    assert_equal 1, log.client.stats["rejected"]
  end

  def test_raising_formatter_block_and_odd_severities
    log = logger
    log.formatter = proc { raise "formatter raised" }
    log.info("unformatted") # the formatter failed: the text itself
    log.formatter = nil
    log.info { raise "block raised" }
    log.add("loud", "odd severity")
    log.add(nil, "nil severity")
    events = delivered(log, 4)
    assert_equal ["unformatted", "(the log message block raised or returned nil)", "odd severity", "nil severity"],
                 events.map { |e| e["message"] }
    assert_equal %w[INFO INFO UNKNOWN UNKNOWN], events.map { |e| e["level"] }
  end

  def test_a_broken_stderr_does_not_raise
    c = client
    log = LogstashAsync::Logger.new(c)
    c.close(timeout: 1)
    saved = $stderr
    $stderr = File.open(File::NULL, "r") # writing raises IOError
    log.info("dropped quietly")
  ensure
    $stderr = saved
    assert_equal({ "closed" => 1 }, log.dropped)
  end
end
