#!/usr/bin/env bash
# The Go binding (bindings/go): gofmt, go vet and `go test -race` against the
# library of this tree, linked the production way (#cgo pkg-config) through a
# temporary logstash_async.pc that points at the build tree. The slog handler
# tests need Go >= 1.21; an older Go (Debian bookworm's 1.19) runs the rest.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
# Prefer the newer Go of /usr/local/go (full suite) over Debian's 1.19.
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
if [ -z "${HOME:-}" ]; then # go needs a cache and a GOPATH somewhere
  export GOCACHE="$root/target/go/cache" GOPATH="$root/target/go/path"
fi
export GOTOOLCHAIN=local GOPROXY=off # no third-party modules: nothing to fetch

cargo build --release --quiet

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
cat >"$tmp/logstash_async.pc" <<PC
prefix=$root
includedir=\${prefix}/include
libdir=\${prefix}/target/release

Name: logstash_async
Description: Asynchronous, durable log shipping to Logstash (build tree)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -llogstash_async
PC
export PKG_CONFIG_PATH="$tmp"
export LD_LIBRARY_PATH="$root/target/release${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

cd bindings/go
go version
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt: not formatted: $unformatted" >&2
  exit 1
fi
go vet ./...
go vet -tags logstash_async_dev ./... # the development build-tree linking compiles too
go test -race -count=1 ./...
