# frozen_string_literal: true

require_relative "test_helper"

class ClientTest < Minitest::Test
  include ReceiverTest

  def test_emit_arrives_in_the_logstash_layout
    c = client(extra: { "app" => "shop" })
    c.emit(message: "hello", level: "WARNING", user_id: 42, nested: { "a" => [1, 2] })
    assert c.flush(timeout: 10)
    event = @receiver.wait_for(1).first
    assert_equal "hello", event["message"]
    assert_equal "WARNING", event["level"]
    assert_equal "1", event["@version"]
    assert_equal "python-logstash", event["type"]
    assert_equal Process.pid, event["pid"]
    assert_match(/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/, event["@timestamp"])
    assert_equal 42, event["extra"]["user_id"]
    assert_equal({ "a" => [1, 2] }, event["extra"]["nested"])
    assert_equal "shop", event["extra"]["app"]
    assert_equal LogstashAsync.library_version, event["extra"]["logstash_async_version"]
  end

  def test_log_maps_ruby_and_python_level_names
    c = client
    c.log(:warn, "app.main", "one")
    c.log("fatal", nil, "two")
    c.log(Logger::DEBUG, "app", "three")
    c.log("ERROR", "app", "four")
    c.log(nil, "app", "nul\0inside") # a NUL cannot cross as a C string: sent as JSON
    c.flush(timeout: 10)
    events = @receiver.wait_for(5)
    assert_equal %w[WARNING CRITICAL DEBUG ERROR INFO], events.map { |e| e["level"] }
    assert_equal "app.main", events[0]["extra"]["logger_name"]
    refute events[1]["extra"].key?("logger_name")
    assert_equal "nul\0inside", events[4]["message"]
  end

  def test_set_extra_adds_and_removes_fields
    c = client
    c.set_extra(:request_id, "r-7")
    c.set_extra("user", { "id" => 1 })
    c.emit(message: "with")
    c.set_extra(:request_id, nil)
    c.emit(message: "without")
    c.flush(timeout: 10)
    with, without = @receiver.wait_for(2)
    assert_equal "r-7", with["extra"]["request_id"]
    assert_equal({ "id" => 1 }, with["extra"]["user"])
    refute without["extra"].key?("request_id")
  end

  def test_emit_json_takes_preencoded_events
    c = client
    c.emit_json('{"message":"raw","n":1}')
    assert_raises(LogstashAsync::NotAnObjectError) { c.emit_json("[1]") }
    assert_raises(LogstashAsync::InvalidJsonError) { c.emit_json("{") }
    c.flush(timeout: 10)
    assert_equal "raw", @receiver.wait_for(1).first["message"]
  end

  def test_twenty_threads_lose_nothing
    c = client
    threads = Array.new(20) do |t|
      Thread.new { 200.times { |i| c.emit(message: "t#{t}-#{i}", thread: t) } }
    end
    threads.each(&:join)
    assert c.flush(timeout: 30)
    events = @receiver.wait_for(4000)
    messages = events.map { |e| e["message"] }
    assert_equal 4000, messages.uniq.size
    assert_equal 4000, messages.size
    assert_equal 4000, c.stats["sent"]
  end

  def test_close_then_use_raises_closed_error
    c = client
    c.emit(message: "last")
    assert_equal true, c.close(timeout: 10)
    assert_nil c.close, "close is idempotent"
    assert c.closed?
    assert_raises(LogstashAsync::ClosedError) { c.emit(message: "late") }
    assert_raises(LogstashAsync::ClosedError) { c.log(:info, nil, "late") }
    assert_raises(LogstashAsync::ClosedError) { c.set_extra(:k, 1) }
    assert_raises(LogstashAsync::ClosedError) { c.flush }
    assert_raises(LogstashAsync::ClosedError) { c.stats }
    assert_equal ["last"], @receiver.wait_for(1).map { |e| e["message"] }
  end

  def test_bad_options_raise_config_error_with_the_library_message
    error = assert_raises(LogstashAsync::ConfigError) { client(port: 70_000) }
    assert_equal "port: 70000 is out of range (1..=65535)", error.message
    error = assert_raises(LogstashAsync::ConfigError) { client(no_such_option: 1) }
    assert_includes error.message, "no_such_option"
    error = assert_raises(LogstashAsync::ConfigError) { client(transport: :pigeon) }
    assert_includes error.message, "pigeon"
    assert_kind_of LogstashAsync::Error, error
  end

  def test_every_result_code_has_its_error_class
    classes = (1..13).map do |code|
      error = assert_raises(LogstashAsync::Error) { LogstashAsync::Native.check!(code) }
      assert_equal code, error.code
      assert_equal LogstashAsync::Native.logstash_async_result_str(code), error.message
      error.class
    end
    assert_equal 13, classes.uniq.size
    assert_includes classes, LogstashAsync::QueueFullError
    assert_equal 0, LogstashAsync::Native.check!(0)
  end

  def test_event_too_large
    c = client(max_event_bytes: 100)
    assert_raises(LogstashAsync::EventTooLargeError) { c.emit(message: "x" * 200) }
    assert_equal 1, c.stats["rejected"]
  end

  def test_flush_times_out_and_releases_the_gvl
    dead_port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] } # nothing listens there now
    c = LogstashAsync::Client.new(host: "127.0.0.1", port: dead_port, stderr_errors: false)
    @clients << c
    c.emit(message: "stuck")
    ticks = []
    ticker = Thread.new { 200.times { ticks << Process.clock_gettime(Process::CLOCK_MONOTONIC); sleep 0.02 } }
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    assert_raises(LogstashAsync::TimeoutError) { c.flush(timeout: 1.5) }
    ended = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    ticker.kill.join
    during = ticks.count { |t| t > started + 0.2 && t < ended - 0.2 }
    assert_operator during, :>=, 3, "other threads must run while flush waits (GVL released)"
    assert_equal false, c.close(timeout: 0.1)
  end

  # Holds SQLite's WAL write lock (byte 120 of the -shm file, a POSIX lock)
  # from another process, as a backup tool might: the library's worker then
  # waits in SQLite's busy handler and the queue fills up. Yields, then
  # releases the lock.
  def holding_the_database_write_lock(path)
    ready_r, ready_w = IO.pipe
    done_r, done_w = IO.pipe
    pid = fork do
      ready_r.close
      done_w.close
      shm = File.open("#{path}-shm", File::RDWR)
      flock = [Fcntl::F_WRLCK, IO::SEEK_SET, 120, 1, 0].pack("s!s!x4q!q!i!x4")
      shm.fcntl(Fcntl::F_SETLK, flock)
      ready_w.write("1")
      done_r.read(1) # until the parent is done
      exit!(0)
    end
    ready_w.close
    done_r.close
    assert_equal "1", ready_r.read(1), "the lock holder failed"
    yield
  ensure
    done_w&.close
    Process.wait(pid) if pid
  end

  # overflow_policy "block": with the worker stalled, an emit waits
  # block_timeout_ms for room without holding the GVL (another thread ticks).
  def test_blocking_emit_releases_the_gvl
    require "fcntl"
    Dir.mktmpdir do |dir|
      db = File.join(dir, "buffer.db")
      c = client(database_path: db, overflow_policy: "block", block_timeout_ms: 1000, max_queue_events: 4)
      c.emit(message: "first") # creates the database and its -shm file
      assert c.flush(timeout: 10)
      holding_the_database_write_lock(db) do
        ticks = 0
        ticker = Thread.new { loop { ticks += 1; sleep 0.001 } }
        slow = nil
        20.times do
          before = ticks
          started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
          begin
            c.emit(message: "while the database is locked")
          rescue LogstashAsync::QueueFullError
            nil # waited block_timeout_ms for room, then refused
          end
          took = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
          if took >= 0.5
            slow = [took, ticks - before]
            break
          end
        end
        ticker.kill.join
        refute_nil slow, "no emit waited for room"
        assert_operator slow[1], :>=, 50, "the other thread ran #{slow[1]} times during a #{slow[0].round(2)} s emit"
      end
      c.close(timeout: 10)
    end
  end

  def test_stats
    c = client
    3.times { |i| c.emit(message: i.to_s) }
    c.flush(timeout: 10)
    stats = c.stats
    assert_equal 3, stats["emitted"]
    assert_equal 3, stats["sent"]
    assert stats.key?("dropped_queue_full")
  end

  def test_stats_prometheus_labels_the_handle_and_merges_clients
    a = client(handle_name: "rb-a")
    b = client(handle_name: "rb-b")
    2.times { a.emit(message: "x") }
    a.flush(timeout: 10)
    text = a.stats_prometheus
    assert_includes text, "# TYPE logstash_async_events_sent_total counter\n"
    assert_includes text, "logstash_async_events_sent_total{handle=\"rb-a\"} 2\n"
    merged = LogstashAsync.prometheus(a, b)
    assert_equal 1, merged.scan("# HELP logstash_async_events_emitted_total ").size
    assert_includes merged, "logstash_async_events_emitted_total{handle=\"rb-a\"} 2\n" \
                            "logstash_async_events_emitted_total{handle=\"rb-b\"} 0\n"
    family = nil
    merged.each_line(chomp: true) do |line|
      if line.start_with?("# HELP ")
        family = line.split[2]
      elsif !line.start_with?("#")
        assert line.start_with?("#{family}{"), "#{line} outside its family #{family}"
      end
    end
    b.close
    assert_raises(LogstashAsync::ClosedError) { b.stats_prometheus }
  end

  def test_inspect_does_not_touch_the_library
    c = client
    assert_match(/open/, c.inspect)
    c.close
    assert_match(/closed/, c.inspect)
  end
end
