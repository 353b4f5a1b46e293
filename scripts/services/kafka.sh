#!/usr/bin/env bash
# A real Apache Kafka broker for the tests and benchmarks: single node, KRaft
# mode, on 127.0.0.1 only. The broker's jars come from Maven Central, resolved
# with the machine's Maven into a cache reused by later runs.
#
#   kafka.sh fetch              resolve the jars (prints the cache directory)
#   kafka.sh start DIR [--sasl] start a broker whose config, data and log live
#                               in DIR (created on the first start, on free
#                               ports; a later start reuses DIR's ports and
#                               data: a restart). --sasl adds a SASL/PLAIN
#                               listener (user "logstash", password in DIR/env).
#                               Waits until the broker answers (bounded) and
#                               writes DIR/env (KAFKA_BOOTSTRAP=host:port ...).
#   kafka.sh stop DIR           SIGTERM, then SIGKILL after 30 s
#   kafka.sh kill DIR           SIGKILL (a crash)
#
# With KAFKA_PARENT_PID set, the broker is killed when that process is gone.
# Every failure exits non-zero with the reason (and the broker log's tail).
# KAFKA_VERSION (default 3.9.1) picks the broker; LOGSTASH_ASYNC_CACHE the cache
# root (default ~/.cache/logstash-async).
set -euo pipefail

version=${KAFKA_VERSION:-3.9.1}
cache=${LOGSTASH_ASYNC_CACHE:-$HOME/.cache/logstash-async}/kafka-$version
start_timeout=${KAFKA_START_TIMEOUT:-90}

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

# The classpath of kafka_2.13 and its runtime dependencies (plus a logging
# binding so the broker log says why it stopped), resolved once.
fetch() {
  if [ -s "$cache/classpath.txt" ] && tr ':' '\n' <"$cache/classpath.txt" | while read -r jar; do
    [ -f "$jar" ] || exit 1
  done; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven (mvn) is required to fetch the Kafka broker"
  command -v java >/dev/null || die "Java (17 or later) is required to run the Kafka broker"
  mkdir -p "$cache"
  cat >"$cache/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.logstash-async</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  echo "kafka.sh: resolving org.apache.kafka:kafka_2.13:$version with Maven into $cache" >&2
  if ! mvn -B -q -f "$cache/pom.xml" -Dmaven.repo.local="$cache/m2" \
    dependency:build-classpath -Dmdep.outputFile="$cache/classpath.txt.new" >"$cache/mvn.log" 2>&1; then
    tail -30 "$cache/mvn.log" >&2
    die "Maven could not resolve org.apache.kafka:kafka_2.13:$version (log: $cache/mvn.log)"
  fi
  mv "$cache/classpath.txt.new" "$cache/classpath.txt"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Writes server.properties (and the JAAS file for SASL) and formats the storage.
configure() {
  local dir=$1 sasl=$2 port cport sport
  port=$(free_port)
  cport=$(free_port)
  local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
  local advertised="PLAINTEXT://127.0.0.1:$port"
  local map="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  local env="KAFKA_BOOTSTRAP=127.0.0.1:$port"
  if [ "$sasl" = 1 ]; then
    sport=$(free_port)
    local password
    password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    listeners+=",SASL_PLAINTEXT://127.0.0.1:$sport"
    advertised+=",SASL_PLAINTEXT://127.0.0.1:$sport"
    map+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
    env+=$'\n'"KAFKA_SASL_BOOTSTRAP=127.0.0.1:$sport"$'\n'"KAFKA_SASL_USER=logstash"$'\n'"KAFKA_SASL_PASSWORD=$password"
    cat >"$dir/sasl.properties" <<EOF
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="logstash" password="$password" user_logstash="$password";
EOF
  else
    : >"$dir/sasl.properties"
  fi
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$map
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.flush.interval.messages=9223372036854775807
EOF
  cat "$dir/sasl.properties" >>"$dir/server.properties"
  cat >"$dir/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$dir/broker.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
EOF
  echo "$env" >"$dir/env.new"
  # A cluster id is 16 random bytes, base64url without padding.
  local cluster
  cluster=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)
  if ! java -cp "$(cat "$cache/classpath.txt")" -Dlog4j.configuration="file:$dir/log4j.properties" \
    kafka.tools.StorageTool format -t "$cluster" -c "$dir/server.properties" >"$dir/format.log" 2>&1; then
    cat "$dir/format.log" >&2
    die "formatting the KRaft storage in $dir/data failed"
  fi
  mv "$dir/env.new" "$dir/env.template"
}

port_of() { # the first listener's port in server.properties
  sed -n 's/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$1/server.properties"
}

answers() { # a TCP connect to 127.0.0.1:$1 succeeds
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  local dir=$1 sasl=$2
  fetch
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    die "a broker of $dir is already running (pid $(cat "$dir/pid"))"
  fi
  [ -f "$dir/server.properties" ] || configure "$dir" "$sasl"
  local port
  port=$(port_of "$dir")
  if answers "$port"; then
    die "port $port of $dir is taken by another process"
  fi
  rm -f "$dir/env"
  local log_offset=0
  [ -f "$dir/broker.log" ] && log_offset=$(wc -c <"$dir/broker.log")
  # A small heap and few GC threads: the machine is shared with the tests.
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -XX:ParallelGCThreads=2 -XX:ConcGCThreads=1 \
    -Djava.awt.headless=true -Dlog4j.configuration="file:$dir/log4j.properties" \
    -cp "$(cat "$cache/classpath.txt")" kafka.Kafka "$dir/server.properties" \
    >"$dir/stdout.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/pid"
  if [ -n "${KAFKA_PARENT_PID:-}" ]; then
    # A test run that dies without stopping its broker takes it along.
    (
      while kill -0 "$KAFKA_PARENT_PID" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
      kill -9 "$pid" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
  fi
  local started deadline
  started=$(date +%s%N)
  deadline=$((SECONDS + start_timeout))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -c +$((log_offset + 1)) "$dir/broker.log" 2>/dev/null | tail -40 >&2 || true
      tail -20 "$dir/stdout.log" >&2 || true
      die "the broker (pid $pid) exited during start-up; log: $dir/broker.log"
    fi
    if answers "$port" && tail -c +$((log_offset + 1)) "$dir/broker.log" 2>/dev/null | grep -q "Kafka Server started"; then
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -c +$((log_offset + 1)) "$dir/broker.log" 2>/dev/null | tail -40 >&2 || true
      kill -9 "$pid" 2>/dev/null || true
      die "the broker did not answer on 127.0.0.1:$port within ${start_timeout}s (killed); log: $dir/broker.log"
    fi
    sleep 0.1
  done
  { cat "$dir/env.template"; echo "KAFKA_PID=$pid"; } >"$dir/env"
  echo "kafka.sh: broker $version up on 127.0.0.1:$port in $((($(date +%s%N) - started) / 1000000)) ms (pid $pid, $dir)" >&2
  cat "$dir/env"
}

stop() {
  local dir=$1 signal=$2
  [ -f "$dir/pid" ] || die "no broker was started in $dir"
  local pid
  pid=$(cat "$dir/pid")
  kill "-$signal" "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 300 ]; then
      kill -9 "$pid" 2>/dev/null || true
      echo "kafka.sh: the broker (pid $pid) ignored SIGTERM for 30 s: killed" >&2
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$dir/pid"
}

case "${1:-}" in
fetch)
  fetch
  echo "$cache"
  ;;
start)
  [ $# -ge 2 ] || die "usage: kafka.sh start DIR [--sasl]"
  sasl=0
  [ "${3:-}" = "--sasl" ] && sasl=1
  start "$2" "$sasl"
  ;;
stop)
  [ $# -ge 2 ] || die "usage: kafka.sh stop DIR"
  stop "$2" TERM
  ;;
kill)
  [ $# -ge 2 ] || die "usage: kafka.sh kill DIR"
  stop "$2" KILL
  ;;
*)
  die "usage: kafka.sh fetch | start DIR [--sasl] | stop DIR | kill DIR"
  ;;
esac
