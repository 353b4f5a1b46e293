#!/usr/bin/env bash
# The Ruby binding (bindings/ruby): its minitest suite against the release
# build of the library and loopback receivers the tests start themselves, then
# a check that the gem builds, installs and loads from its installed files.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
export LOGSTASH_ASYNC_LIB="$PWD/target/release/liblogstash_async.so"
cd bindings/ruby

# One process for every test file, so minitest prints one summary line
# ("N runs, N assertions, 0 failures, 0 errors, 0 skips"); its exit status is the verdict.
timeout 600 ruby -Ilib -Itest -e 'Dir["test/*_test.rb"].sort.each { |f| require File.expand_path(f) }'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gem build logstash_async.gemspec -o "$tmp/logstash_async.gem" >/dev/null 2>&1
gem install --local --ignore-dependencies --no-document --install-dir "$tmp/gems" \
  "$tmp/logstash_async.gem" >/dev/null
# ffi comes from the system (Debian's ruby-ffi), the gem from its install dir.
gem_path="$tmp/gems:$(ruby -e 'print Gem.path.join(":")')"
(cd "$tmp" && GEM_PATH="$gem_path" ruby -e '
  gem "logstash_async"
  require "logstash_async"
  path = $LOADED_FEATURES.grep(%r{/logstash_async\.rb\z}).first
  abort "loaded from #{path}, not the installed gem" unless path.start_with?(ENV["PWD"] || Dir.pwd)
  puts "gem: built, installed and loaded (library #{LogstashAsync.library_version})"')
