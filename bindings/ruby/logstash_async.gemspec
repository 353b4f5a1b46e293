# frozen_string_literal: true

require_relative "lib/logstash_async/version"

# Built two ways (README, "Install"):
# - build-gem.sh PREFIX: a platform gem (x86_64-linux) carrying the installed
#   liblogstash_async.so under lib/logstash_async/native/ (what users install);
# - `gem build` in this directory: a plain gem that needs the library
#   installed on the system (found by its SONAME) or LOGSTASH_ASYNC_LIB.
Gem::Specification.new do |spec|
  spec.name = "logstash_async"
  spec.version = LogstashAsync::VERSION
  spec.summary = "Asynchronous, durable log shipping to Logstash (liblogstash_async over ffi)"
  spec.description = "A Client and a drop-in ::Logger (Rails TaggedLogging included) that hand events " \
                     "to liblogstash_async, which ships them to Logstash from a background thread, " \
                     "buffered in SQLite. Fork-aware (Puma, Unicorn, Sidekiq)."
  spec.license = "MIT"
  spec.authors = ["logstash-async contributors"]
  native = Dir["lib/logstash_async/native/liblogstash_async.so.*"]
  spec.files = Dir["lib/**/*.rb"] + native + ["README.md"]
  spec.platform = Gem::Platform.local unless native.empty?
  spec.require_paths = ["lib"]
  spec.required_ruby_version = ">= 2.7"
  spec.add_dependency "ffi", "~> 1.15"
  spec.add_development_dependency "minitest", "~> 5"
end
