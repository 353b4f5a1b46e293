#!/usr/bin/env bash
# The Go binding (bindings/go and its zap module bindings/go/zaplogstash):
# gofmt, go vet and `go test -race` against the library installed by the
# README's CMake commands (scripts/lib/install-library.sh), linked the
# production way (#cgo pkg-config); then bindings/go/README.md's install
# steps in an empty directory: a new module with testdata/app, `go mod tidy`, the
# shared build, and the static build run alone in an empty root (chroot);
# then the slog, zap and emit benchmarks, printed.
# The slog handler tests need Go >= 1.21; an older Go (Debian bookworm's
# 1.19) runs the rest.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
# Prefer the newer Go of /usr/local/go (full suite) over Debian's 1.19.
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
if [ -z "${HOME:-}" ]; then # go needs a cache and a GOPATH somewhere
  export GOCACHE="$root/target/go/cache" GOPATH="$root/target/go/path"
fi
# zap comes from the Go module proxy (kept in the module cache across runs);
# go.sum pins it. The main module has no third-party dependency.
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly

prefix=$(bash scripts/lib/install-library.sh)
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
export LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
go version

check_module() {
  local unformatted
  unformatted=$(gofmt -l .)
  if [ -n "$unformatted" ]; then
    echo "gofmt: not formatted: $unformatted" >&2
    return 1
  fi
  go vet ./...
  go test -race -count=1 ./...
}

echo "--- bindings/go"
(cd bindings/go && check_module && go vet -tags logstash_async_dev ./...) # the build-tree linking compiles too
echo "--- bindings/go/zaplogstash"
(cd bindings/go/zaplogstash && check_module)

echo "--- bindings/go/README.md's install steps, in an empty directory"
module=github.com/logstash-async/logstash-async/bindings/go
readme=bindings/go/README.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Each command below is the README's, with /path/to/logstash-async and
# /opt/logstash-async replaced: check that it still says so.
in_readme() { grep -qF -- "$1" "$readme" || { echo "$readme no longer shows: $1" >&2; exit 1; }; }
in_readme "go mod edit -replace $module=/path/to/logstash-async/bindings/go"
in_readme "go mod edit -replace $module/zaplogstash=/path/to/logstash-async/bindings/go/zaplogstash"
in_readme "go mod tidy"
in_readme 'CGO_LDFLAGS="$p/lib/liblogstash_async.a -lssl -lcrypto -lm -ldl -lpthread -lrt -lutil" \'
in_readme "go build -tags logstash_async_static -ldflags '-linkmode external -extldflags -static' -o app ."
in_readme 'CGO_LDFLAGS="$p/lib/liblogstash_async.a -lssl -lcrypto -lgcc_s -lutil -lrt -lpthread -lm -ldl" \'
in_readme "go build -tags logstash_async_static -o app ."
mkdir "$tmp/app"
cp bindings/go/testdata/app/main.go "$tmp/app/"
(
  cd "$tmp/app"
  export GOFLAGS=-mod=mod
  go mod init example.com/app >/dev/null 2>&1
  go mod edit -replace "$module=$root/bindings/go"
  go mod edit -replace "$module/zaplogstash=$root/bindings/go/zaplogstash"
  go mod tidy
  go build -o app .
  ./app
  p=$prefix
  CGO_CFLAGS="-I$p/include" \
    CGO_LDFLAGS="$p/lib/liblogstash_async.a -lssl -lcrypto -lm -ldl -lpthread -lrt -lutil" \
    go build -tags logstash_async_static -ldflags '-linkmode external -extldflags -static' -o app-static . 2>build.log ||
    { cat build.log; exit 1; }
  CGO_CFLAGS="-I$p/include" \
    CGO_LDFLAGS="$p/lib/liblogstash_async.a -lssl -lcrypto -lgcc_s -lutil -lrt -lpthread -lm -ldl" \
    go build -tags logstash_async_static -o app-lib-static .
  env -u LD_LIBRARY_PATH ./app-lib-static
)
if readelf -d "$tmp/app/app-lib-static" | grep -q "NEEDED.*liblogstash_async"; then
  echo "the build with the static library needs liblogstash_async.so" >&2
  exit 1
fi
if readelf -d "$tmp/app/app-static" | grep -q NEEDED; then
  echo "the static build needs shared libraries:" >&2
  readelf -d "$tmp/app/app-static" | grep NEEDED >&2
  exit 1
fi
readelf -d "$tmp/app/app" | grep -q "NEEDED.*liblogstash_async" || {
  echo "the shared build does not need liblogstash_async.so" >&2
  exit 1
}
# Alone in an empty root: no /lib, no /proc, nothing but the binary.
mkdir "$tmp/root"
cp "$tmp/app/app-static" "$tmp/root/app"
chroot "$tmp/root" /app
# A host name from the image's /etc/hosts (static glibc, no NSS module).
mkdir "$tmp/root/etc"
echo "127.0.0.1 logstash.internal" >"$tmp/root/etc/hosts"
chroot "$tmp/root" /app logstash.internal
echo "go: README install, shared and static builds: ok"

echo "--- benchmarks (printed, not asserted; a fixed count per run to bound the time)"
bench() { go test -run '^$' -bench "$1" -benchmem -cpu 1,2,8 -benchtime 100000x . | grep -E '^Benchmark'; }
(cd bindings/go && bench 'Slog|EmitParallel')
(cd bindings/go/zaplogstash && bench Zap)
