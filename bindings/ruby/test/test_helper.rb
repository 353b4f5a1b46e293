# frozen_string_literal: true

# LOGSTASH_ASYNC_TEST_INSTALLED=1: test the installed gem (40-ruby.sh does,
# from a clean GEM_HOME); otherwise the lib/ of this tree.
if ENV["LOGSTASH_ASYNC_TEST_INSTALLED"]
  gem "logstash_async"
else
  $LOAD_PATH.unshift File.expand_path("../lib", __dir__)
end
require "minitest/autorun"

# Arguments for a child `ruby` that loads the same logstash_async as this process.
def ruby_load_args
  ENV["LOGSTASH_ASYNC_TEST_INSTALLED"] ? [] : ["-I", File.expand_path("../lib", __dir__)]
end
require "socket"
require "json"
require "tmpdir"
require "logstash_async"

# A Logstash stand-in on 127.0.0.1: accepts TCP connections (also from forked
# children of the test process) and collects every JSON line received.
class Receiver
  attr_reader :port

  def initialize
    @server = TCPServer.new("127.0.0.1", 0)
    @port = @server.addr[1]
    @events = []
    @lock = Mutex.new
    @arrived = ConditionVariable.new
    @readers = []
    @thread = Thread.new { accept_loop }
  end

  def events
    @lock.synchronize { @events.dup }
  end

  # Waits (bounded) until the block, given the events so far, returns true.
  def wait_until(timeout: 30)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    @lock.synchronize do
      loop do
        return @events.dup if yield(@events)

        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        raise "receiver: condition not met within #{timeout}s (#{@events.size} events)" if left <= 0

        @arrived.wait(@lock, [left, 0.5].min)
      end
    end
  end

  def wait_for(count, timeout: 30)
    wait_until(timeout: timeout) { |events| events.size >= count }
  end

  def stop
    @server.close
    @thread.join(5)
    @readers.each { |t| t.kill.join(5) }
  end

  private

  def accept_loop
    loop do
      socket = @server.accept
      @readers << Thread.new(socket) { |s| read_lines(s) }
    end
  rescue IOError, Errno::EBADF
    nil # closed by stop
  end

  def read_lines(socket)
    socket.each_line do |line|
      event = JSON.parse(line)
      @lock.synchronize do
        @events << event
        @arrived.broadcast
      end
    end
  rescue IOError, Errno::ECONNRESET
    nil
  ensure
    socket.close
  end
end

module ReceiverTest
  def setup
    super
    @receiver = Receiver.new
    @clients = []
  end

  def teardown
    @clients.each { |c| c.close(timeout: 2) }
    @receiver.stop
    super
  end

  # A client for this test's receiver, closed at teardown. Batches are sent
  # as soon as flush asks (the default 10 s interval would only slow tests).
  def client(**options)
    c = LogstashAsync::Client.new(**{ host: "127.0.0.1", port: @receiver.port, stderr_errors: false }.merge(options))
    @clients << c
    c
  end
end
