#!/usr/bin/env bash
# Apache Kafka (KRaft, one combined broker+controller node) for benchmarks.
#
#   scripts/kafka.sh fetch                 download Kafka's jars and their runtime
#                                          dependencies from Maven Central into
#                                          .cache/kafka/<version>/libs (once); prints
#                                          that directory
#   scripts/kafka.sh prepare DIR PORT CPORT
#                                          write DIR/server.properties and
#                                          DIR/log4j2.properties and format an empty
#                                          KRaft data dir DIR/data (standalone quorum)
#   scripts/kafka.sh exec DIR              exec the broker in the foreground (the
#                                          process becomes the JVM: its pid is Kafka's)
#   scripts/kafka.sh start DIR PORT CPORT  prepare, start in the background, wait until
#                                          it listens (DIR/kafka.pid, DIR/kafka.log)
#   scripts/kafka.sh stop DIR              SIGTERM the broker started by `start` (KILL
#                                          after 30 s)
#   scripts/kafka.sh cluster-id            print a new KRaft cluster id
#   scripts/kafka.sh log4j DIR             write DIR/log4j2.properties, the broker's
#   scripts/kafka.sh run CLASS ARGS...     run a class from Kafka's jars, e.g.
#                                          org.apache.kafka.tools.ProducerPerformance
#
# Only Maven Central is contacted (the distribution tarball is not reachable
# here), and only by `fetch`; the broker listens on 127.0.0.1 only.
#
# Environment: KAFKA_VERSION (default 4.4.0), KAFKA_HEAP_OPTS (default
# "-Xms1g -Xmx1g", as kafka-server-start.sh), JAVA (default: $JAVA_HOME/bin/java
# or java on PATH), MVN (default mvn).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${KAFKA_VERSION:-4.4.0}"
cache="$root/.cache/kafka/$version"
libs="$cache/libs"
if [[ -n "${JAVA:-}" ]]; then
	java="$JAVA"
elif [[ -n "${JAVA_HOME:-}" ]]; then
	java="$JAVA_HOME/bin/java"
else
	java=java
fi
heap="${KAFKA_HEAP_OPTS:--Xms1g -Xmx1g}"
# kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS.
jvm_perf="-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true"

die() { echo "kafka.sh: $*" >&2; exit 1; }

fetch() {
	if [[ -f "$libs/.complete" ]]; then
		echo "$libs"
		return
	fi
	command -v "${MVN:-mvn}" >/dev/null || die "Maven (mvn) is needed to fetch Kafka's jars"
	mkdir -p "$cache"
	# A throwaway pom whose dependencies are what the distribution's libs/
	# holds: the broker (kafka_2.13 pulls server, storage, raft, metadata and
	# the coordinators), the tools (perf tests, StorageTool's dependencies)
	# and log4j2 as the logging backend, bound through log4j-slf4j-impl since
	# Kafka logs through the slf4j 1.7 API (as in the distribution's libs/).
	cat >"$cache/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.samsa.bench</groupId>
  <artifactId>kafka-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-server</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-storage</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-raft</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-metadata</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-server-common</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-group-coordinator</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-transaction-coordinator</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-share-coordinator</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-coordinator-common</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.25.5</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.25.5</version></dependency>
  </dependencies>
</project>
POM
	rm -rf "$libs"
	echo "kafka.sh: fetching Apache Kafka $version and its runtime dependencies from Maven Central into $libs" >&2
	"${MVN:-mvn}" -B -q -f "$cache/pom.xml" \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$libs" >&2 ||
		die "mvn dependency:copy-dependencies failed"
	ls "$libs"/kafka_2.13-"$version".jar "$libs"/kafka-tools-"$version".jar >/dev/null ||
		die "fetch: Kafka's jars are missing from $libs"
	touch "$libs/.complete"
	echo "$libs"
}

prepare() {
	local dir="$1" port="$2" cport="$3"
	fetch >/dev/null
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	rm -rf "$dir/data"
	cat >"$dir/server.properties" <<PROPS
# Single-node KRaft (combined broker + controller), loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# As the distribution's config/server.properties.
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.retention.hours=168
log.segment.bytes=1073741824
PROPS
	write_log4j "$dir"
	# --standalone: a one-voter dynamic quorum (KIP-853), as the quickstart does.
	"$java" -cp "$libs/*" -Dlog4j2.configurationFile="file:$dir/log4j2.properties" \
		kafka.tools.StorageTool format --standalone \
		-t "$(cluster_id)" -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
		{ cat "$dir/format.log" >&2; die "formatting $dir/data failed"; }
}

# write_log4j writes DIR/log4j2.properties, the broker's: warnings and
# errors to stdout, plus the line that says the server started.
write_log4j() {
	cat >"$1/log4j2.properties" <<'LOG'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
LOG
}

# cluster_id prints a random base64url 16-byte id, as `kafka-storage
# random-uuid`: never one starting with "-", which the format tool's option
# parser would take for an option (Kafka's own generator avoids it too).
cluster_id() {
	local id
	while :; do
		id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
		[[ "$id" != -* ]] && break
	done
	printf '%s\n' "$id"
}

exec_kafka() {
	local dir="$1"
	[[ -f "$dir/server.properties" ]] || die "$dir/server.properties missing: run prepare first"
	# shellcheck disable=SC2086
	exec "$java" $heap $jvm_perf -cp "$libs/*" \
		-Dlog4j2.configurationFile="file:$dir/log4j2.properties" \
		kafka.Kafka "$dir/server.properties"
}

start() {
	local dir="$1" port="$2" cport="$3"
	prepare "$dir" "$port" "$cport"
	dir="$(cd "$dir" && pwd)"
	"$0" exec "$dir" >"$dir/kafka.log" 2>&1 &
	local pid=$!
	echo "$pid" >"$dir/kafka.pid"
	local i
	for i in $(seq 1 600); do # up to 60 s
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "kafka.sh: Kafka $version (pid $pid) listening on 127.0.0.1:$port" >&2
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { tail -n 30 "$dir/kafka.log" >&2; die "Kafka exited during startup"; }
		sleep 0.1
	done
	die "Kafka did not listen on 127.0.0.1:$port within 60 s"
}

stop() {
	local dir="$1" pid i
	[[ -f "$dir/kafka.pid" ]] || return 0
	pid="$(cat "$dir/kafka.pid")"
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$dir/kafka.pid"
}

cmd="${1:-}"
shift || true
case "$cmd" in
fetch) fetch ;;
prepare) [[ $# -eq 3 ]] || die "usage: prepare DIR PORT CONTROLLER_PORT"; prepare "$@" ;;
exec) [[ $# -eq 1 ]] || die "usage: exec DIR"; exec_kafka "$@" ;;
start) [[ $# -eq 3 ]] || die "usage: start DIR PORT CONTROLLER_PORT"; start "$@" ;;
stop) [[ $# -eq 1 ]] || die "usage: stop DIR"; stop "$@" ;;
cluster-id) cluster_id ;;
log4j) [[ $# -eq 1 ]] || die "usage: log4j DIR"; write_log4j "$1" ;;
run)
	[[ $# -ge 1 ]] || die "usage: run CLASS ARGS..."
	fetch >/dev/null
	cls="$1"
	shift
	# The tools log warnings and errors only (to stderr, so stdout stays
	# the tool's own output).
	toolslog="$cache/tools-log4j2.properties"
	[[ -f "$toolslog" ]] || cat >"$toolslog" <<'LOG'
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = STDERR
LOG
	# shellcheck disable=SC2086
	exec "$java" ${KAFKA_TOOLS_HEAP_OPTS:--Xmx512m} $jvm_perf -cp "$libs/*" \
		-Dlog4j2.configurationFile="file:$toolslog" "$cls" "$@"
	;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
