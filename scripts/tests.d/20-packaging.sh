#!/usr/bin/env bash
# Packaging for C and C++ hosts: builds and installs with the CMake project in
# cmake/ (into a temporary prefix, and again with `--prefix` elsewhere), checks
# the installed files, the SONAME and the exported symbols, then builds the
# consumers in tests/cmake-consumer/ every way the README shows (find_package
# shared and static, pkg-config, plain -l) with -Wall -Wextra -Werror and runs
# them: events go to a loopback receiver in each consumer. The C and C++
# consumers (the C API's native features, the C++ calls, the spdlog sink with
# Debian's spdlog through find_package(spdlog)) also run under valgrind
# (ctest tests) and AddressSanitizer.
#
# cargo's target directory is the project's own target/: the release build of
# the quick start is reused, only the library crate is compiled again (its
# SONAME is a link argument), and no second copy of librdkafka is built.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step() { echo "--- $*"; }
run() {
  echo "+ $*"
  "$@"
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
if [ "$major" -gt 0 ]; then abi=$major; else abi=0.$minor; fi
echo "version $version, ABI $abi"

prefix=$tmp/prefix
moved=$tmp/elsewhere # installed with --prefix: the static and pkg-config builds use it (relocatable)
consumer=$root/tests/cmake-consumer

step "build and install (cmake/)"
run cmake -S cmake -B "$tmp/build" -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DLOGSTASH_ASYNC_CARGO_TARGET_DIR="$root/target" >/dev/null
run cmake --build "$tmp/build"
run cmake --install "$tmp/build" >/dev/null
run cmake --install "$tmp/build" --prefix "$moved" >/dev/null

step "installed files"
(cd "$prefix" && find . -mindepth 1 | sort) >"$tmp/files"
cat >"$tmp/expected" <<EOF
./include
./include/logstash_async.h
./include/logstash_async.hpp
./include/logstash_async_spdlog.hpp
./lib
./lib/cmake
./lib/cmake/logstash_async
./lib/cmake/logstash_async/logstash_asyncConfig.cmake
./lib/cmake/logstash_async/logstash_asyncConfigVersion.cmake
./lib/liblogstash_async.a
./lib/liblogstash_async.so
./lib/liblogstash_async.so.$abi
./lib/liblogstash_async.so.$version
./lib/pkgconfig
./lib/pkgconfig/logstash_async.pc
EOF
diff -u "$tmp/expected" "$tmp/files" || fail "installed files differ from the expected layout"
[ "$(readlink "$prefix/lib/liblogstash_async.so")" = "liblogstash_async.so.$abi" ] || fail ".so link"
[ "$(readlink "$prefix/lib/liblogstash_async.so.$abi")" = "liblogstash_async.so.$version" ] || fail ".so.$abi link"
[ -f "$prefix/lib/liblogstash_async.so.$version" ] && [ ! -L "$prefix/lib/liblogstash_async.so.$version" ] ||
  fail "liblogstash_async.so.$version is not a regular file"
cmp -s include/logstash_async.h "$prefix/include/logstash_async.h" || fail "installed header differs from include/"

step "SONAME and exported symbols"
run readelf -d "$prefix/lib/liblogstash_async.so.$version" | grep SONAME | tee "$tmp/soname"
grep -q "Library soname: \[liblogstash_async.so.$abi\]" "$tmp/soname" || fail "SONAME is not liblogstash_async.so.$abi"
nm -D --defined-only "$prefix/lib/liblogstash_async.so.$version" | awk '{print $3}' >"$tmp/exports"
echo "exports: $(tr '\n' ' ' <"$tmp/exports")"
grep -q '^logstash_async_create$' "$tmp/exports" || fail "logstash_async_create is not exported"
if grep -v '^logstash_async_' "$tmp/exports"; then fail "symbols other than logstash_async_* are exported"; fi

step "consumer: find_package, shared library, ctest (with valgrind)"
run cmake -S "$consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCONSUMER_REQUIRE_VERSION="$version" -DCONSUMER_VALGRIND=ON >/dev/null
run cmake --build "$tmp/consumer"
ctest --test-dir "$tmp/consumer" -N >"$tmp/ctest-list" # (no `| grep -q`: its early exit breaks pipefail)
for t in consumer_c_valgrind features_c_valgrind consumer_cpp_valgrind consumer_spdlog consumer_spdlog_valgrind; do
  grep -q "$t" "$tmp/ctest-list" || fail "ctest test $t missing (are valgrind and spdlog installed?)"
done
run ctest --test-dir "$tmp/consumer" --output-on-failure
readelf -d "$tmp/consumer/consumer_c" >"$tmp/needed"
grep -q "NEEDED.*\[liblogstash_async.so.$abi\]" "$tmp/needed" ||
  fail "consumer_c does not need liblogstash_async.so.$abi"

step "consumer: an incompatible version is refused by find_package"
if [ "$major" -gt 0 ]; then next=$((major + 1)).0; else next=0.$((minor + 1)); fi
if cmake -S "$consumer" -B "$tmp/consumer-wrong" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCONSUMER_REQUIRE_VERSION="$next" >"$tmp/wrong.log" 2>&1; then
  fail "find_package(logstash_async $next) accepted version $version"
fi
grep -q "logstash_asyncConfig.cmake, version: $version" "$tmp/wrong.log" || {
  cat "$tmp/wrong.log"
  fail "unexpected find_package failure"
}

step "consumer: find_package, static library (--prefix install)"
run cmake -S "$consumer" -B "$tmp/consumer-static" -DCMAKE_PREFIX_PATH="$moved" \
  -DCONSUMER_STATIC=ON -DCONSUMER_VALGRIND=OFF >/dev/null
run cmake --build "$tmp/consumer-static"
run ctest --test-dir "$tmp/consumer-static" --output-on-failure
for exe in consumer_cpp features_c consumer_spdlog; do
  readelf -d "$tmp/consumer-static/$exe" >"$tmp/needed-static"
  if grep -q "NEEDED.*liblogstash_async" "$tmp/needed-static"; then
    fail "the static $exe needs the shared library"
  fi
done

step "consumer: pkg-config (--prefix install)"
export PKG_CONFIG_PATH=$moved/lib/pkgconfig
[ "$(pkg-config --modversion logstash_async)" = "$version" ] || fail "pkg-config --modversion"
cd "$consumer"
run cc -std=c11 -Wall -Wextra -Werror -c receiver.c -o "$tmp/receiver.o"
# shellcheck disable=SC2046 # word splitting of pkg-config's output is intended
run cc -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer-pc" consumer.c "$tmp/receiver.o" \
  $(pkg-config --cflags --libs logstash_async) -pthread
# shellcheck disable=SC2046
run c++ -std=c++17 -Wall -Wextra -Werror -o "$tmp/consumer-pc-cpp" consumer.cpp "$tmp/receiver.o" \
  $(pkg-config --cflags --libs logstash_async) -pthread
# shellcheck disable=SC2046
run cc -std=c11 -Wall -Wextra -Werror -o "$tmp/features-pc" features.c "$tmp/receiver.o" \
  $(pkg-config --cflags --libs logstash_async) -pthread
# shellcheck disable=SC2046
run c++ -std=c++20 -Wall -Wextra -Werror -o "$tmp/consumer-pc-spdlog" consumer_spdlog.cpp "$tmp/receiver.o" \
  $(pkg-config --cflags --libs logstash_async spdlog) -pthread
run env LD_LIBRARY_PATH="$moved/lib" "$tmp/consumer-pc"
run env LD_LIBRARY_PATH="$moved/lib" "$tmp/consumer-pc-cpp"
run env LD_LIBRARY_PATH="$moved/lib" "$tmp/features-pc"
run env LD_LIBRARY_PATH="$moved/lib" "$tmp/consumer-pc-spdlog"

step "consumer: plain -I/-L/-l"
run cc -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer-plain" consumer.c "$tmp/receiver.o" \
  -I"$prefix/include" -L"$prefix/lib" -llogstash_async -pthread
run env LD_LIBRARY_PATH="$prefix/lib" "$tmp/consumer-plain"
static_libs="-lssl -lcrypto -lgcc_s -lutil -lrt -lpthread -lm -ldl" # as in the README and the .pc
grep -qF -- "$static_libs" "$root/README.md" || fail "README's static link line differs"
[ "$(pkg-config --static --libs-only-l logstash_async | xargs)" = "-llogstash_async $static_libs" ] ||
  fail "pkg-config --static: $(pkg-config --static --libs-only-l logstash_async)"
# shellcheck disable=SC2086 # $static_libs is a list of flags
run cc -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer-plain-static" consumer.c "$tmp/receiver.o" \
  -I"$prefix/include" "$prefix/lib/liblogstash_async.a" $static_libs
run "$tmp/consumer-plain-static"
# shellcheck disable=SC2086
run cc -std=c11 -Wall -Wextra -Werror -o "$tmp/features-plain-static" features.c "$tmp/receiver.o" \
  -I"$prefix/include" "$prefix/lib/liblogstash_async.a" $static_libs -pthread
run "$tmp/features-plain-static"

step "static archive: only logstash_async_* are global; an application with its own SQLite links"
readelf -Ws "$prefix/lib/liblogstash_async.a" |
  awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" && $8 != "" {print $8}' | sort -u >"$tmp/static-globals"
grep -v '^logstash_async_' "$tmp/static-globals" >"$tmp/static-extra" &&
  fail "the static archive exports more than logstash_async_*: $(head -5 "$tmp/static-extra" | xargs)"
grep -q '^logstash_async_create$' "$tmp/static-globals" || fail "logstash_async_create is not in the static archive"
cat >"$tmp/own_sqlite.c" <<'EOF2'
#include <logstash_async.h>
#include <stdio.h>
/* The application's own SQLite (here one entry point of it): with the
 * bundled SQLite's symbols global in the archive this was a duplicate
 * definition at link time. */
int sqlite3_libversion_number(void) { return 42; }
int main(void) {
    char err[256];
    struct logstash_async_handle *h = logstash_async_create(
        "{\"host\":\"127.0.0.1\",\"port\":9,\"stderr_errors\":false}", err, sizeof err);
    if (!h) { fprintf(stderr, "create: %s\n", err); return 1; }
    logstash_async_shutdown(h, 100);
    return sqlite3_libversion_number() == 42 ? 0 : 1;
}
EOF2
# shellcheck disable=SC2086 # $static_libs is a list of flags
run cc -std=c11 -Wall -Wextra -Werror -o "$tmp/own-sqlite-static" "$tmp/own_sqlite.c" \
  -I"$prefix/include" "$prefix/lib/liblogstash_async.a" $static_libs
run "$tmp/own-sqlite-static"

step "README: the C++ snippet compiles"
{
  awk '/^```cpp$/ {on = 1; next} /^```$/ {on = 0} on && /^#include/' "$root/README.md"
  echo "int main() {"
  awk '/^```cpp$/ {on = 1; next} /^```$/ {on = 0} on && !/^#include/' "$root/README.md"
  echo "}"
} >"$tmp/readme_snippet.cpp"
run c++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -I"$prefix/include" "$tmp/readme_snippet.cpp"

step "consumer: AddressSanitizer (and LeakSanitizer) on the C, C++ and spdlog consumers"
asan="-g -fsanitize=address -fno-omit-frame-pointer"
# shellcheck disable=SC2086 # $asan is a list of flags
run cc -std=c11 -Wall -Wextra -Werror $asan -c receiver.c -o "$tmp/receiver-asan.o"
for c in consumer features; do
  # shellcheck disable=SC2086
  run cc -std=c11 -Wall -Wextra -Werror $asan -o "$tmp/$c-asan" $c.c "$tmp/receiver-asan.o" \
    -I"$prefix/include" -L"$prefix/lib" -llogstash_async -pthread
  run env LD_LIBRARY_PATH="$prefix/lib" ASAN_OPTIONS=detect_leaks=1 "$tmp/$c-asan"
done
# shellcheck disable=SC2046,SC2086
run c++ -std=c++17 -Wall -Wextra -Werror $asan -o "$tmp/consumer-cpp-asan" consumer.cpp "$tmp/receiver-asan.o" \
  -I"$prefix/include" -L"$prefix/lib" -llogstash_async -pthread
# shellcheck disable=SC2046,SC2086
run c++ -std=c++17 -Wall -Wextra -Werror $asan -o "$tmp/consumer-spdlog-asan" consumer_spdlog.cpp \
  "$tmp/receiver-asan.o" -I"$prefix/include" $(pkg-config --cflags --libs spdlog) -L"$prefix/lib" -llogstash_async -pthread
run env LD_LIBRARY_PATH="$prefix/lib" ASAN_OPTIONS=detect_leaks=1 "$tmp/consumer-cpp-asan"
run env LD_LIBRARY_PATH="$prefix/lib" ASAN_OPTIONS=detect_leaks=1 "$tmp/consumer-spdlog-asan"

echo "packaging: all checks passed"
