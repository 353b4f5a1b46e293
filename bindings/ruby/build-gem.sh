#!/usr/bin/env bash
# Builds the platform gem: this directory's gem plus the library installed
# under PREFIX (by the CMake commands of the main README), stripped of its
# debug information, as lib/logstash_async/native/<its SONAME>.
#
#   bash bindings/ruby/build-gem.sh /opt/logstash-async [OUTDIR]
#   -> OUTDIR/logstash_async-<version>-<platform>.gem (OUTDIR: default .)
set -euo pipefail
prefix=${1:?usage: build-gem.sh PREFIX [OUTDIR]}
out=$(realpath "${2:-.}")
here=$(cd "$(dirname "$0")" && pwd)
lib=$prefix/lib/liblogstash_async.so
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ -n "$soname" ] || { echo "build-gem: $lib has no SONAME" >&2; exit 1; }
want=$(ruby -I"$here/lib" -e 'require "logstash_async/version"; print LogstashAsync::SONAME')
[ "$soname" = "$want" ] || { echo "build-gem: $lib is $soname, this gem needs $want" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -r "$here/lib" "$here/README.md" "$here/logstash_async.gemspec" "$stage/"
mkdir -p "$stage/lib/logstash_async/native"
objcopy --strip-debug "$(readlink -f "$lib")" "$stage/lib/logstash_async/native/$soname"
cd "$stage"
gem build logstash_async.gemspec --output "$out/$(ruby -e '
  spec = Gem::Specification.load("logstash_async.gemspec"); print spec.file_name')" >&2
ruby -e 'spec = Gem::Specification.load("logstash_async.gemspec"); print spec.file_name'
