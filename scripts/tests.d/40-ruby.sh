#!/usr/bin/env bash
# The Ruby binding (bindings/ruby), against the library installed by the
# README's CMake commands (scripts/lib/install-library.sh):
#  1. the source tree finds it by its SONAME on the loader's path (no
#     LOGSTASH_ASYNC_LIB) and refuses another ABI (test/loading_test.rb);
#  2. the platform gem (build-gem.sh) installs in one step into an empty
#     GEM_HOME (ffi from Debian's ruby-ffi) and the whole minitest suite runs
#     against that installed gem and its own copy of the library, with
#     neither LOGSTASH_ASYNC_LIB nor LD_LIBRARY_PATH set;
#  3. the benchmark prints Logger#info next to ::Logger on a TCP socket.
# The Rails tests use Debian's ruby-activesupport and ruby-railties
# (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
prefix=$(bash scripts/lib/install-library.sh)
unset LOGSTASH_ASYNC_LIB
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd bindings/ruby

echo "--- the source tree: the library by its SONAME ($prefix/lib on LD_LIBRARY_PATH)"
LD_LIBRARY_PATH="$prefix/lib" timeout 120 ruby -Ilib -Itest test/loading_test.rb

echo "--- the platform gem, installed into an empty GEM_HOME"
gem_file=$(bash build-gem.sh "$prefix" "$tmp" 2>"$tmp/build.log") || { cat "$tmp/build.log"; exit 1; }
GEM_HOME="$tmp/gems" gem install --local --no-document "$tmp/$gem_file"
export GEM_HOME="$tmp/gems"
unset LD_LIBRARY_PATH

echo "--- the suite against the installed gem"
# One process for every test file, so minitest prints one summary line
# ("N runs, N assertions, 0 failures, 0 errors, 0 skips"); its exit status is the verdict.
LOGSTASH_ASYNC_TEST_INSTALLED=1 timeout 600 ruby -Itest \
  -e 'Dir["test/*_test.rb"].sort.each { |f| require File.expand_path(f) }'

echo "--- benchmark (printed, not asserted)"
timeout 300 ruby bench/logger_bench.rb 20000
