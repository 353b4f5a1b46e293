# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "rbconfig"

# How the native library is found and checked.
class LoadingTest < Minitest::Test
  def test_candidates_are_the_env_override_the_bundled_copy_then_the_soname
    saved = ENV["LOGSTASH_ASYNC_LIB"]
    ENV["LOGSTASH_ASYNC_LIB"] = "/some/where/liblogstash_async.so"
    assert_equal ["/some/where/liblogstash_async.so"], LogstashAsync::Native.library_candidates
    ENV.delete("LOGSTASH_ASYNC_LIB")
    soname = "liblogstash_async.so.#{LogstashAsync::ABI_VERSION}"
    assert_equal soname, LogstashAsync::SONAME
    expected = File.exist?(LogstashAsync::Native::BUNDLED) ? [LogstashAsync::Native::BUNDLED, soname] : [soname]
    assert_equal expected, LogstashAsync::Native.library_candidates
    refute_includes LogstashAsync::Native.library_candidates, "liblogstash_async.so", "never an unversioned name"
  ensure
    saved ? ENV["LOGSTASH_ASYNC_LIB"] = saved : ENV.delete("LOGSTASH_ASYNC_LIB")
  end

  def test_the_loaded_library_has_this_abi
    assert_equal LogstashAsync::ABI_VERSION, LogstashAsync.abi_of(LogstashAsync.library_version)
    return unless ENV["LOGSTASH_ASYNC_TEST_INSTALLED"]

    # The installed gem's code, and its own copy of the library.
    feature = $LOADED_FEATURES.grep(%r{/logstash_async\.rb\z}).first
    assert feature.start_with?(ENV.fetch("GEM_HOME")), "loaded #{feature}, not the installed gem"
    assert_equal LogstashAsync::Native::BUNDLED, LogstashAsync.library_path
    assert LogstashAsync.library_path.start_with?(ENV.fetch("GEM_HOME")), LogstashAsync.library_path
  end

  def test_abi_of_follows_the_soname_rule
    assert_equal "0.1", LogstashAsync.abi_of("0.1.0")
    assert_equal "0.1", LogstashAsync.abi_of("0.1.7-rc1")
    assert_equal "0.2", LogstashAsync.abi_of("0.2.0")
    assert_equal "1", LogstashAsync.abi_of("1.4.2")
    assert_nil LogstashAsync.abi_of("garbage")
  end

  def test_gem_version_follows_cargo_toml
    cargo = File.expand_path("../../../Cargo.toml", __dir__)
    skip "not in the source tree" unless File.exist?(cargo)
    version = File.read(cargo)[/^\[package\][^\[]*?^version\s*=\s*"([^"]+)"/m, 1]
    assert_equal version, LogstashAsync::VERSION
    assert_equal LogstashAsync.abi_of(version), LogstashAsync::ABI_VERSION
  end

  # A child Ruby that requires the gem with LOGSTASH_ASYNC_LIB set.
  def require_with_lib(path)
    Open3.capture3({ "LOGSTASH_ASYNC_LIB" => path }, RbConfig.ruby, *ruby_load_args, "-e",
                   'require "logstash_async"; puts LogstashAsync.library_version')
  end

  def test_a_library_of_another_abi_is_refused_with_a_clear_error
    Dir.mktmpdir do |dir|
      src = File.join(dir, "fake.c")
      File.write(src, 'const char *logstash_async_version(void) { return "0.2.0"; }' + "\n")
      lib = File.join(dir, "liblogstash_async.so.0.2")
      assert system("cc", "-shared", "-fPIC", "-o", lib, src), "cc builds the fake library"
      out, err, status = require_with_lib(lib)
      refute status.success?, "loaded: #{out}"
      assert_includes err, "is liblogstash_async 0.2.0 (ABI \"0.2\"); this gem (#{LogstashAsync::VERSION}) " \
                           "needs ABI #{LogstashAsync::ABI_VERSION} (liblogstash_async.so.#{LogstashAsync::ABI_VERSION})"
    end
  end

  def test_a_missing_library_names_what_was_tried
    _out, err, status = require_with_lib("/nonexistent/liblogstash_async.so.0.1")
    refute status.success?
    assert_includes err, "cannot load the native library (tried /nonexistent/liblogstash_async.so.0.1"
  end
end
