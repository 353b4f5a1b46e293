#!/usr/bin/env bash
# Installs what the build, the quick start and the tests need on a fresh Debian
# machine (run as root, or with sudo available). Idempotent: installs only what
# is missing, so a second run costs a few milliseconds.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have cc || need+=(build-essential)
have c++ || need+=(g++) # the C++ consumer of the packaging test
have cmake || need+=(cmake)
have pkg-config || need+=(pkg-config)
have openssl || need+=(openssl)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)
have syslog-ng || [ -x /usr/sbin/syslog-ng ] || need+=(syslog-ng-core) # /usr/sbin: not on a user PATH
have ruby || need+=(ruby)
ruby -e 'require "ffi"' >/dev/null 2>&1 || need+=(ruby-ffi)
# The Ruby binding's Rails tests: real ActiveSupport::TaggedLogging and Rails (6.1 on bookworm).
ruby -e 'require "active_support"' >/dev/null 2>&1 || need+=(ruby-activesupport)
ruby -e 'require "rails"' >/dev/null 2>&1 || need+=(ruby-railties)
have valgrind || need+=(valgrind)
# The spdlog sink's consumer (find_package(spdlog), with fmt).
[ -f /usr/include/spdlog/spdlog.h ] || need+=(libspdlog-dev)
have go || [ -x /usr/local/go/bin/go ] || need+=(golang-go)
have curl || need+=(curl)
# The broker transports' tests: a real Kafka (scripts/services/kafka.sh runs
# Maven Central's jars on Java 17+) read back with kcat, and a real Redis.
have java || need+=(default-jre-headless)
have mvn || need+=(maven)
have kcat || need+=(kcat)
have redis-server || need+=(redis-server)
have redis-cli || need+=(redis-tools)
have python3 || need+=(python3) # kafka.sh picks free ports; the python-logstash-async venv
# Real python-logstash-async (and prometheus_client) from PyPI, in a venv the tests make.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)

if ((${#need[@]})); then
  echo "setup: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! have cargo; then
  echo "setup: Rust (cargo) is required; install it with rustup" >&2
  exit 1
fi
if have rustup; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
