# frozen_string_literal: true

# The caller's cost of one log call: LogstashAsync::Logger#info (the library
# ships on its own thread) next to ::Logger writing each line to a TCP socket,
# both to a receiver in another process that reads and discards. Prints the
# median of 5 rounds in microseconds per call; not asserted.
#
#   ruby bindings/ruby/bench/logger_bench.rb [CALLS_PER_ROUND]
require "logger"
require "socket"
require "logstash_async"

calls = Integer(ARGV[0] || 20_000)

# A discarding receiver in a child process (no GVL shared with the loggers).
server = TCPServer.new("127.0.0.1", 0)
port = server.addr[1]
receiver = fork do
  threads = []
  loop do
    socket = server.accept
    threads << Thread.new(socket) { |s| nil while s.read(65_536) }
  end
rescue IOError
  exit!(0)
end
server.close

def measure(calls)
  rounds = Array.new(5) do
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    calls.times { |i| yield i }
    (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) / calls * 1e6
  end
  rounds.sort[2]
end

results = {}
ours = LogstashAsync::Logger.new({ host: "127.0.0.1", port: port, stderr_errors: false }, progname: "bench")
results["LogstashAsync::Logger#info(String)"] = measure(calls) { |i| ours.info("request served #{i}") }
results["LogstashAsync::Logger#info(Hash)"] =
  measure(calls) { |i| ours.info(message: "request served", path: "/api/v1/items", status: 200, i: i) }
stats = ours.client.stats
ours.close(timeout: 10)

socket = TCPSocket.new("127.0.0.1", port)
plain = ::Logger.new(socket, progname: "bench")
results["::Logger#info to a TCP socket"] = measure(calls) { |i| plain.info("request served #{i}") }
socket.close

width = results.keys.map(&:size).max
results.each { |name, us| puts format("%-#{width}s %8.2f us/call", name, us) }
puts "(#{calls} calls a round, median of 5; LogstashAsync dropped_queue_full: #{stats['dropped_queue_full']}, " \
     "library #{LogstashAsync.library_version} from #{LogstashAsync.library_path})"
Process.kill(:KILL, receiver)
Process.wait(receiver)
