# frozen_string_literal: true

require_relative "test_helper"
require "fileutils"

# The broker transports from Ruby: their options pass through as any other,
# and Client adds no port of its own, so the library's defaults apply
# (9092 for kafka, 6379 for redis). Delivery is checked against a real
# redis-server (scripts/setup.sh installs it) on a free loopback port.
class BrokersTest < Minitest::Test
  def setup
    @clients = []
    @redis = nil
    @redis_dir = nil
  end

  def teardown
    @clients.each { |c| c.close(timeout: 0.5) }
    if @redis
      Process.kill(:KILL, @redis)
      Process.wait(@redis)
    end
    FileUtils.rm_rf(@redis_dir) if @redis_dir
  end

  # A client with quick timers (a batch is due at once).
  def open_client(**options)
    c = LogstashAsync::Client.new(stderr_errors: false, backoff_initial: 0.05, queue_check_interval: 0.05,
                                  queued_events_flush_interval: 0.05, **options)
    @clients << c
    c
  end

  # Waits (bounded) until the client counted a send error; its last error.
  def first_error(client)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 15
    while client.stats["send_errors"].zero?
      flunk "no send error within 15 s: #{client.stats}" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
      sleep 0.02
    end
    client.stats["last_error"].to_s
  end

  # Nothing listens on 127.0.0.2 (the test servers bind 127.0.0.1): the
  # error names the endpoint tried, with the library's default port.
  def test_redis_without_a_port_connects_to_6379
    c = open_client(host: "127.0.0.2", transport: "redis", redis_key: "app")
    c.emit(message: "one")
    assert_includes first_error(c), "127.0.0.2:6379"
    assert_equal 1, c.stats["buffered"], "the event is kept"
  end

  def test_kafka_without_a_port_connects_to_9092
    c = open_client(host: "127.0.0.2", transport: "kafka", kafka_topic: "app")
    c.emit(message: "one")
    assert_includes first_error(c), "127.0.0.2:9092"
    assert_equal 0, c.stats["sent"]
  end

  def test_kafka_brokers_replace_host
    c = open_client(transport: "kafka", kafka_brokers: ["127.0.0.2", "127.0.0.2:9093"], kafka_compression: "zstd")
    assert_equal 0, c.stats["kafka_produced"]
    error = assert_raises(LogstashAsync::ConfigError) { open_client(host: "127.0.0.2", transport: "kafka", kafka_acks: 1) }
    assert_includes error.message, "kafka_acks"
  end

  def test_events_arrive_in_a_redis_list
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
    start_redis(port)
    c = open_client(hosts: ["127.0.0.1:#{port}"], transport: "redis", redis_key: "ruby", redis_db: 1)
    3.times { |i| c.emit(message: "event #{i}", seq: i) }
    assert c.flush(timeout: 10)
    list = redis_cli(port, "-n", "1", "LRANGE", "ruby", "0", "-1").lines.map { |l| JSON.parse(l) }
    assert_equal ["event 0", "event 1", "event 2"], list.map { |e| e["message"] }
    assert_equal [0, 1, 2], list.map { |e| e["extra"]["seq"] }
  end

  def start_redis(port)
    @redis_dir = Dir.mktmpdir
    @redis = Process.spawn("redis-server", "--port", port.to_s, "--bind", "127.0.0.1", "--save", "",
                           "--dir", @redis_dir, "--logfile", File.join(@redis_dir, "redis.log"), out: File::NULL)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 20
    until redis_cli(port, "PING").strip == "PONG"
      flunk "redis-server did not answer within 20 s" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
      sleep 0.02
    end
  end

  def redis_cli(port, *args)
    IO.popen(["redis-cli", "-h", "127.0.0.1", "-p", port.to_s, "--raw", *args], err: File::NULL, &:read)
  end
end
