# frozen_string_literal: true

# Ship log events to Logstash asynchronously through liblogstash_async
# (see README.md). LogstashAsync::Client is the direct API,
# LogstashAsync::Logger a drop-in ::Logger; `require "logstash_async/rails"`
# adds the Rails integration.
module LogstashAsync
end

require_relative "logstash_async/version"
require_relative "logstash_async/errors"
require_relative "logstash_async/levels"
require_relative "logstash_async/native"
require_relative "logstash_async/safe_json"
require_relative "logstash_async/client"
require_relative "logstash_async/prometheus"
require_relative "logstash_async/lifecycle"
require_relative "logstash_async/entry"
require_relative "logstash_async/logger"
