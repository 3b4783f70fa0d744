#!/usr/bin/env bash
# Apache Kafka as a cluster of KRaft nodes on loopback, each one a combined
# broker+controller and a voter of a static controller quorum, for the
# benchmark's cluster phase (cmd/samsa-benchcmp/cluster.go).
#
#   scripts/kafka-cluster.sh prepare DIR PORTS CPORTS [KEY=VALUE...]
#                          PORTS and CPORTS are comma-separated lists, one
#                          broker and one controller port per node (node ids
#                          1, 2, ...). Writes DIR/nodeN/server.properties and
#                          DIR/nodeN/log4j2.properties and formats every
#                          DIR/nodeN/data with one cluster id; each KEY=VALUE
#                          is appended to every node's properties (the last
#                          of a key wins)
#   scripts/kafka-cluster.sh exec DIR N
#                          exec node N in the foreground (the process becomes
#                          the JVM: its pid is Kafka's); again after a kill,
#                          it restarts the node on its data
#   scripts/kafka-cluster.sh start DIR PORTS CPORTS [KEY=VALUE...]
#                          prepare, start every node in the background, wait
#                          until each listens (DIR/nodeN/kafka.pid, kafka.log)
#   scripts/kafka-cluster.sh stop DIR
#                          SIGTERM every node started by `start` (KILL after
#                          30 s)
#
# The jars, the JVM and its options are scripts/kafka.sh's: this script calls
# `kafka.sh fetch`, formats with `kafka.sh run kafka.tools.StorageTool` and
# runs a node with `kafka.sh exec DIR/nodeN` (KAFKA_VERSION, KAFKA_HEAP_OPTS,
# JAVA apply as there). Everything listens on 127.0.0.1 only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kafka_sh="$here/kafka.sh"

die() { echo "kafka-cluster.sh: $*" >&2; exit 1; }

# split_ports LIST: the comma-separated ports of LIST, one a line, each
# checked to be a number.
split_ports() {
	local p
	for p in ${1//,/ }; do
		[[ "$p" =~ ^[0-9]+$ ]] || die "not a port: $p"
		echo "$p"
	done
}

prepare() {
	local dir="$1" ports_arg="$2" cports_arg="$3"
	shift 3
	local -a ports cports
	mapfile -t ports < <(split_ports "$ports_arg")
	mapfile -t cports < <(split_ports "$cports_arg")
	local n=${#ports[@]}
	((n > 0)) || die "prepare: no ports"
	((n == ${#cports[@]})) || die "prepare: $n broker ports but ${#cports[@]} controller ports"
	local kv
	for kv in "$@"; do
		[[ "$kv" == *=* ]] || die "prepare: not KEY=VALUE: $kv"
	done
	"$kafka_sh" fetch >/dev/null
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"

	local voters="" i
	for ((i = 1; i <= n; i++)); do
		voters+="${voters:+,}$i@127.0.0.1:${cports[i - 1]}"
	done
	local id
	id="$("$kafka_sh" cluster-id)"
	local -a formats=()
	for ((i = 1; i <= n; i++)); do
		local node="$dir/node$i"
		rm -rf "$node"
		mkdir -p "$node"
		{
			cat <<PROPS
# Node $i of $n: combined broker + controller, static quorum, loopback only.
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${ports[i - 1]},CONTROLLER://127.0.0.1:${cports[i - 1]}
advertised.listeners=PLAINTEXT://127.0.0.1:${ports[i - 1]}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$node/data
num.partitions=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
# The internal topics keep Kafka's defaults (replication factor 3).
# As the distribution's config/server.properties.
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.retention.hours=168
log.segment.bytes=1073741824
PROPS
			if (($# > 0)); then
				echo "# Given to prepare."
				printf '%s\n' "$@"
			fi
		} >"$node/server.properties"
		# kafka.sh exec reads the node's own log4j2.properties: warnings
		# and errors, and the line that says the server started.
		"$kafka_sh" log4j "$node"
		# A static quorum (controller.quorum.voters): no --standalone
		# or --initial-controllers. The nodes format at once.
		"$kafka_sh" run kafka.tools.StorageTool format -t "$id" -c "$node/server.properties" \
			>"$node/format.log" 2>&1 &
		formats+=($!)
	done
	local failed=0
	for ((i = 1; i <= n; i++)); do
		wait "${formats[i - 1]}" || { cat "$dir/node$i/format.log" >&2; failed=1; }
	done
	((failed == 0)) || die "formatting the nodes' data dirs under $dir failed"
}

exec_node() {
	local dir="$1" i="$2"
	[[ -f "$dir/node$i/server.properties" ]] || die "$dir/node$i/server.properties missing: run prepare first"
	exec "$kafka_sh" exec "$dir/node$i"
}

start() {
	local dir="$1" ports_arg="$2"
	prepare "$@"
	dir="$(cd "$dir" && pwd)"
	local -a ports
	mapfile -t ports < <(split_ports "$ports_arg")
	local i n=${#ports[@]}
	for ((i = 1; i <= n; i++)); do
		"$0" exec "$dir" "$i" >"$dir/node$i/kafka.log" 2>&1 &
		echo "$!" >"$dir/node$i/kafka.pid"
	done
	local tries
	for ((i = 1; i <= n; i++)); do
		local pid
		pid="$(cat "$dir/node$i/kafka.pid")"
		for tries in $(seq 1 1200); do # up to 120 s for each
			if (exec 3<>"/dev/tcp/127.0.0.1/${ports[i - 1]}") 2>/dev/null; then
				echo "kafka-cluster.sh: node $i (pid $pid) listening on 127.0.0.1:${ports[i - 1]}" >&2
				break
			fi
			kill -0 "$pid" 2>/dev/null || { tail -n 30 "$dir/node$i/kafka.log" >&2; die "node $i exited during startup"; }
			((tries < 1200)) || die "node $i did not listen on 127.0.0.1:${ports[i - 1]} within 120 s"
			sleep 0.1
		done
	done
}

stop() {
	local dir="$1" f pid i
	local -a pids=()
	for f in "$dir"/node*/kafka.pid; do
		[[ -f "$f" ]] || continue
		pid="$(cat "$f")"
		kill -TERM "$pid" 2>/dev/null || true
		pids+=("$pid")
		rm -f "$f"
	done
	((${#pids[@]} > 0)) || return 0
	for i in $(seq 1 300); do
		local alive=0
		for pid in "${pids[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		((alive)) || return 0
		sleep 0.1
	done
	for pid in "${pids[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
}

cmd="${1:-}"
shift || true
case "$cmd" in
prepare) [[ $# -ge 3 ]] || die "usage: prepare DIR PORTS CPORTS [KEY=VALUE...]"; prepare "$@" ;;
exec) [[ $# -eq 2 ]] || die "usage: exec DIR N"; exec_node "$@" ;;
start) [[ $# -ge 3 ]] || die "usage: start DIR PORTS CPORTS [KEY=VALUE...]"; start "$@" ;;
stop) [[ $# -eq 1 ]] || die "usage: stop DIR"; stop "$@" ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
