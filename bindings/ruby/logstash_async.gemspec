# frozen_string_literal: true

require_relative "lib/logstash_async/version"

Gem::Specification.new do |spec|
  spec.name = "logstash_async"
  spec.version = LogstashAsync::VERSION
  spec.summary = "Asynchronous, durable log shipping to Logstash (liblogstash_async over ffi)"
  spec.description = "A Client and a drop-in ::Logger that hand events to liblogstash_async, " \
                     "which ships them to Logstash from a background thread, buffered in SQLite. " \
                     "Fork-aware (Puma, Unicorn, Sidekiq)."
  spec.license = "MIT"
  spec.authors = ["logstash-async contributors"]
  spec.files = Dir["lib/**/*.rb"] + ["README.md"]
  spec.require_paths = ["lib"]
  spec.required_ruby_version = ">= 2.7"
  # The native library is not bundled: install liblogstash_async (the
  # project's package) or point LOGSTASH_ASYNC_LIB at the .so.
  spec.add_dependency "ffi", ">= 1.15"
  spec.add_development_dependency "minitest", ">= 5"
end
