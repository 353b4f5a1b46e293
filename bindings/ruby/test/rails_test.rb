# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "stringio"
require "active_support"
require "active_support/logger"
require "active_support/tagged_logging"
require "logstash_async/rails"

# Rails' own classes (Debian's ruby-activesupport and ruby-railties, 6.1):
# TaggedLogging tags go to the tags field, ActiveSupport::Logger.broadcast
# reaches the logger, and the Railtie makes it Rails.logger.
class RailsTest < Minitest::Test
  include ReceiverTest

  def delivered(log, count)
    assert log.deliver(timeout: 10)
    @receiver.wait_for(count)
  end

  def test_tagged_logging_tags_go_to_the_tags_field
    log = ActiveSupport::TaggedLogging.new(LogstashAsync::Logger.new(client(tags: ["shop"]), progname: "web"))
    log.tagged("req-1", "GET") { log.info("served") }
    log.tagged("outer") { log.tagged("inner") { log.warn(message: "nested", n: 1) } }
    tagged_copy = log.tagged("copy") # 6.1: a logger that keeps the tag
    tagged_copy.error("from the copy")
    log.info("untagged")
    events = delivered(log, 4)
    assert_equal ["served", "nested", "from the copy", "untagged"], events.map { |e| e["message"] }
    assert_equal [%w[shop req-1 GET], %w[shop outer inner], %w[shop copy], %w[shop]], events.map { |e| e["tags"] }
    assert_equal "web", events[0]["extra"]["logger_name"]
    assert_equal 1, events[1]["extra"]["n"]
  end

  def test_broadcast_from_an_active_support_logger
    io = StringIO.new
    main = ActiveSupport::Logger.new(io)
    ours = LogstashAsync::Logger.new(client, progname: "shop")
    main.extend(ActiveSupport::Logger.broadcast(ours))
    tagged = ActiveSupport::TaggedLogging.new(main)
    tagged.tagged("req-2") { tagged.info("to both") }
    tagged.level = :warn # forwarded too
    tagged.info("filtered in both")
    tagged.error("an error")
    events = delivered(ours, 2)
    assert_equal ["to both", "an error"], events.map { |e| e["message"] }
    assert_equal [["req-2"], nil], events.map { |e| e["tags"] }
    assert_includes io.string, "[req-2] to both"
    refute_includes io.string, "filtered in both"
    assert_equal Logger::WARN, ours.level
  end

  def test_railtie_makes_it_the_rails_logger
    script = <<~RUBY
      require "rails"
      require "logstash_async/rails"
      class ShopApp < Rails::Application
        config.root = #{Dir.mktmpdir.inspect}
        config.eager_load = false
        config.secret_key_base = "test"
        config.log_level = :info
        config.logstash_async.options = { host: "127.0.0.1", port: #{@receiver.port}, tags: ["rails"],
                                          stderr_errors: false }
      end
      Rails.application.initialize!
      Rails.logger.tagged("req-9") { Rails.logger.info("from rails") }
      Rails.logger.debug("below the production level")
      Rails.logger.error(RuntimeError.new("boom"))
      exit(Rails.logger.deliver(timeout: 10) ? 0 : 1)
    RUBY
    out, err, status = Open3.capture3({ "RAILS_ENV" => "production" }, RbConfig.ruby, *ruby_load_args, "-e", script)
    assert status.success?, "the Rails app failed: #{out}#{err}"
    events = @receiver.wait_for(2)
    assert_equal ["from rails", "boom"], events.map { |e| e["message"] }
    assert_equal [%w[rails req-9], %w[rails]], events.map { |e| e["tags"] } # the configured tags always
    assert_equal "shop_app", events[0]["extra"]["logger_name"]
    assert_equal "RuntimeError", events[1]["extra"]["error_type"]
  end

  def test_one_line_setup
    log = LogstashAsync::Rails.logger({ host: "127.0.0.1", port: @receiver.port, stderr_errors: false },
                                      progname: "shop")
    assert_kind_of ActiveSupport::TaggedLogging, log
    log.tagged("t") { log.info("one line") }
    event = delivered(log, 1).first
    assert_equal ["t"], event["tags"]
    log.close
  end
end
