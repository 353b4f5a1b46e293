# frozen_string_literal: true

require_relative "test_helper"

# Real fork(2): the child reopens a handle of its own; the parent's queued
# events are sent once, by the parent.
class ForkTest < Minitest::Test
  include ReceiverTest

  # Batches wait (10 s, 1000 events) so the parent's events are still queued
  # in its worker when it forks: a child that reused them would duplicate them.
  SLOW_BATCHES = { queued_events_flush_interval: 10.0, queued_events_flush_count: 1000 }.freeze

  # Runs the block in a forked child; its exit status says whether it passed.
  # exit! skips at_exit hooks (minitest's among them) in the child.
  def in_child(&block)
    pid = fork do
      ok = begin
        block.call
        true
      rescue Exception => e # rubocop:disable Lint/RescueException
        $stderr.puts "child failed: #{e.class}: #{e.message}\n#{e.backtrace.first(5).join("\n")}"
        false
      end
      exit!(ok ? 0 : 1)
    end
    assert wait_child(pid).success?, "the child failed"
    pid
  end

  # Bounded wait: a hung child is killed and fails the test instead of hanging the suite.
  def wait_child(pid, limit: 60)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + limit
    loop do
      _, status = Process.wait2(pid, Process::WNOHANG)
      return status if status

      if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        Process.kill(:KILL, pid)
        Process.wait2(pid)
        flunk "child #{pid} hung for #{limit}s"
      end
      sleep 0.05
    end
  end

  def messages_once(expected)
    events = @receiver.wait_until { |evs| expected.all? { |m| evs.any? { |e| e["message"] == m } } }
    sleep 0.5 # a duplicate would arrive about now
    events = @receiver.events
    counts = events.map { |e| e["message"] }.tally
    expected.each { |m| assert_equal 1, counts[m], "#{m} must arrive exactly once" }
    events
  end

  def test_child_logs_through_a_fresh_handle_and_nothing_is_duplicated
    c = client(**SLOW_BATCHES)
    c.set_extra(:role, "web")
    5.times { |i| c.emit(message: "before-#{i}") }
    assert_operator c.stats["sent"], :==, 0

    child_pid = in_child do
      5.times { |i| c.log(:info, "child", "child-#{i}") }
      c.flush(timeout: 10) or raise "child flush"
      c.close(timeout: 10) or raise "child close"
    end

    5.times { |i| c.emit(message: "after-#{i}") }
    assert c.flush(timeout: 10)
    expected = (0...5).flat_map { |i| ["before-#{i}", "child-#{i}", "after-#{i}"] }
    events = messages_once(expected)
    child_events = events.select { |e| e["message"].start_with?("child-") }
    assert(child_events.all? { |e| e["pid"] == child_pid })
    assert(child_events.all? { |e| e["extra"]["role"] == "web" }, "set_extra is replayed in the child")
    assert(events.reject { |e| e["message"].start_with?("child-") }.all? { |e| e["pid"] == Process.pid })
    assert_equal 10, c.stats["sent"]
  end

  def test_logger_in_a_child_and_the_parent_keeps_working
    log = LogstashAsync::Logger.new(client(**SLOW_BATCHES), progname: "worker")
    log.info("parent-before")
    in_child do
      log.warn("from the child")
      log.deliver(timeout: 10)
      # The inherited handle is the parent's: closing in the child frees only
      # the child's own handle and leaves the parent's alone.
      log.client.close(timeout: 10)
    end
    log.info("parent-after")
    log.deliver(timeout: 10)
    events = messages_once(["parent-before", "from the child", "parent-after"])
    child_event = events.find { |e| e["message"] == "from the child" }
    assert_equal "WARNING", child_event["level"]
    assert_equal "worker", child_event["extra"]["logger_name"]
  end

  def test_child_that_never_logs_costs_nothing_and_breaks_nothing
    c = client(**SLOW_BATCHES)
    c.emit(message: "p1")
    in_child { c.close(timeout: 1) } # an inherited, never-reopened handle: nothing freed
    in_child { GC.start } # the releaser of the inherited handle does nothing in a child
    c.emit(message: "p2")
    c.flush(timeout: 10)
    messages_once(%w[p1 p2])
  end

  def test_file_database_children_use_their_own_files
    Dir.mktmpdir do |dir|
      path = File.join(dir, "events.db")
      c = client(database_path: path, **SLOW_BATCHES)
      c.emit(message: "parent")
      # Two children alive at once: each takes the first free .child-<n> file.
      gate_r, gate_w = IO.pipe
      pids = 2.times.map do |n|
        fork do
          gate_w.close
          c.emit(message: "child-#{n}")
          c.flush(timeout: 10)
          gate_r.read # hold the file until both children have opened theirs
          c.close(timeout: 10)
          exit!(0)
        end
      end
      gate_r.close
      begin
        @receiver.wait_until { |evs| evs.count { |e| e["message"].start_with?("child-") } == 2 }
      rescue StandardError
        gate_w.close # let the children finish, then report
        pids.each { |pid| wait_child(pid) }
        raise
      end
      assert File.exist?("#{path}.child-1")
      assert File.exist?("#{path}.child-2")
      gate_w.close
      pids.each { |pid| assert wait_child(pid).success? }
      c.flush(timeout: 10)
      messages_once(%w[parent child-0 child-1])
    end
  end
end
