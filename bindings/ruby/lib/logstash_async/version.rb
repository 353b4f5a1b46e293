# frozen_string_literal: true

module LogstashAsync
  # The gem's version (follows the library's).
  VERSION = "0.1.0"
  # The library's ABI (its major version): the soname liblogstash_async.so.<ABI_VERSION>.
  ABI_VERSION = 0
end
