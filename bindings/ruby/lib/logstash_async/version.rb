# frozen_string_literal: true

module LogstashAsync
  # The gem's version (follows the library's, Cargo.toml).
  VERSION = "0.1.0"
  # The library's ABI: "<major>" from 1.0 on, "0.<minor>" before (a 0.x minor
  # release may break it). It is the suffix of the library's SONAME.
  ABI_VERSION = "0.1"
  # The file name the dynamic loader knows the library by.
  SONAME = "liblogstash_async.so.#{ABI_VERSION}"

  # The ABI of a library version string: "0.1.3" -> "0.1", "1.4.0" -> "1".
  def self.abi_of(version)
    major, minor = version.to_s.split(".").map { |part| Integer(part, exception: false) }
    return nil if major.nil?

    major.positive? ? major.to_s : "0.#{minor}"
  end
end
