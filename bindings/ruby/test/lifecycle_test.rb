# frozen_string_literal: true

require_relative "test_helper"
require "rbconfig"

# Clients the program never closes: released by the garbage collector, or
# closed (and so delivered) by the at_exit hook.
class LifecycleTest < Minitest::Test
  include ReceiverTest

  def worker_threads
    Dir.children("/proc/self/task").count do |tid|
      File.read("/proc/self/task/#{tid}/comm").start_with?("logstash-async")
    rescue Errno::ENOENT
      false
    end
  end

  def test_gc_of_unclosed_clients_does_not_crash_and_stops_their_workers
    before = worker_threads
    20.times do |round|
      c = LogstashAsync::Client.new(host: "127.0.0.1", port: @receiver.port, stderr_errors: false)
      c.emit(message: "forgotten-#{round}")
      c = nil # rubocop:disable Lint/UselessAssignment
      GC.start if (round % 5).zero?
    end
    # Bounded: the releaser gives each handle 100 ms (+250 ms grace) at most.
    10.times do
      GC.start
      break if worker_threads <= before + 2

      sleep 0.2
    end
    # Conservative stack scanning may keep a client or two alive.
    assert_operator worker_threads, :<=, before + 2, "released handles stop their worker threads"
  end

  def test_at_exit_closes_forgotten_clients_so_their_events_arrive
    script = <<~RUBY
      require "logstash_async"
      c = LogstashAsync::Client.new(host: "127.0.0.1", port: #{@receiver.port},
                                    queued_events_flush_interval: 30.0, stderr_errors: false)
      3.times { |i| c.emit(message: "at-exit-\#{i}") }
      LogstashAsync::Logger.new(c, progname: "script").info("logger at exit")
    RUBY
    assert system(RbConfig.ruby, *ruby_load_args, "-e", script), "the script exits cleanly"
    events = @receiver.wait_for(4, timeout: 20)
    assert_equal ["at-exit-0", "at-exit-1", "at-exit-2", "logger at exit"], events.map { |e| e["message"] }
  end
end
