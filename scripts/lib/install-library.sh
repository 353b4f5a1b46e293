#!/usr/bin/env bash
# Installs the library the way the README tells a user to (its three CMake
# commands, taken from the README itself) into target/bindings/prefix, and
# prints that prefix. The Go and Ruby suites test against this install, not
# against target/. The prefix is wiped and installed afresh on every call;
# the CMake build tree (target/bindings/cmake) and cargo's target directory
# (target/, shared with the quick start and 20-packaging.sh) are kept, so a
# second call only relinks and copies.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=$root/target/bindings/cmake
prefix=$root/target/bindings/prefix

# The README's block: cmake -S cmake -B build -DCMAKE_INSTALL_PREFIX=/opt/...,
# cmake --build build, cmake --install build.
commands=$(awk '/^## Using from C \/ C\+\+ \/ CMake/ {section = 1}
  section && /^```sh$/ {block = 1; next}
  block && /^```$/ {exit}
  block && /^cmake / {sub(/ *#.*/, ""); print}' README.md)
[ "$(grep -c '^cmake ' <<<"$commands")" -eq 3 ] || {
  echo "install-library: the README's CMake block is not the expected three commands:" >&2
  echo "$commands" >&2
  exit 1
}
commands=$(sed -e "s# build\\b# $build#g" -e "s#/opt/logstash-async#$prefix#g" \
  -e "s#^cmake -S cmake #cmake -S cmake -DLOGSTASH_ASYNC_CARGO_TARGET_DIR=$root/target #" <<<"$commands")

rm -rf "$prefix"
mkdir -p "$build"
while IFS= read -r cmd; do
  echo "+ $cmd" >&2
  eval "$cmd" >&2 || exit 1
done <<<"$commands"
[ -f "$prefix/lib/pkgconfig/logstash_async.pc" ] || {
  echo "install-library: nothing installed in $prefix" >&2
  exit 1
}
echo "$prefix"
