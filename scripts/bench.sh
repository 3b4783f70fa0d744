#!/usr/bin/env bash
# Load benchmarks of the samsa binary with samsa-bench.
#
#   scripts/bench.sh smoke   one ~3 s produce run; fails unless records were
#                            acknowledged with no error (part of `make test`)
#   scripts/bench.sh full    the produce matrix (1 KiB records; acks=1/all;
#                            1 and 8 partitions), a consume and an e2e run;
#                            prints a table and saves it under bench-results/
#
# Each run starts a fresh samsa on a free 127.0.0.1 port with a temp data dir
# and stops it (SIGTERM) at the end. Only loopback is ever contacted.
#
# Environment: BENCH_DURATION (full: seconds per workload, default 10),
# BENCH_RECORD_SIZE (default 1024), BENCH_E2E_RATE (default 1000),
# BENCH_MAX_RECORDS (full: records per produce workload at most, 3000000),
# SAMSA_BIN (benchmark this samsa binary instead of building bin/samsa).
set -euo pipefail

mode="${1:-full}"
case "$mode" in smoke|full) ;; *) echo "usage: $0 smoke|full" >&2; exit 2 ;; esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
GO="${GO:-go}"
duration="${BENCH_DURATION:-10}"
record_size="${BENCH_RECORD_SIZE:-1024}"
e2e_rate="${BENCH_E2E_RATE:-1000}"
# Bounds each produce workload's data (and so disk use) besides its duration.
max_records="${BENCH_MAX_RECORDS:-3000000}"

if [[ -n "${SAMSA_BIN:-}" ]]; then
	samsa_bin="$SAMSA_BIN"
	echo "bench: using SAMSA_BIN=$samsa_bin; building bin/samsa-bench"
else
	samsa_bin="$root/bin/samsa"
	echo "bench: building bin/samsa and bin/samsa-bench"
	"$GO" build -o bin/samsa ./cmd/samsa
fi
"$GO" build -o bin/samsa-bench ./cmd/samsa-bench

work="$(mktemp -d "${TMPDIR:-/tmp}/samsa-bench.XXXXXX")"
samsa_pid=""
cleanup() {
	local rc=$?
	stop_samsa || true
	if [[ $rc -ne 0 && -f "$work/samsa.log" ]]; then
		echo "bench: failed; last lines of samsa's log:" >&2
		tail -n 40 "$work/samsa.log" >&2 || true
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "bench: no free port found" >&2
	return 1
}

# start_samsa starts samsa with an empty data dir and waits until it listens.
start_samsa() {
	rm -rf "$work/data"
	port="$(free_port)"
	brokers="127.0.0.1:$port"
	"$samsa_bin" --listeners "PLAINTEXT://$brokers" --data-dir "$work/data" --log-format json \
		>"$work/samsa.log" 2>&1 &
	samsa_pid=$!
	local i
	for i in $(seq 1 300); do # up to 30 s
		if grep -q '"samsa is listening"' "$work/samsa.log" 2>/dev/null; then
			echo "bench: samsa (pid $samsa_pid) listening on $brokers"
			return 0
		fi
		if ! kill -0 "$samsa_pid" 2>/dev/null; then
			echo "bench: samsa exited during startup" >&2
			samsa_pid=""
			return 1
		fi
		sleep 0.1
	done
	echo "bench: samsa did not log \"samsa is listening\" within 30 s" >&2
	return 1
}

stop_samsa() {
	[[ -n "$samsa_pid" ]] || return 0
	kill -TERM "$samsa_pid" 2>/dev/null || true
	local i
	for i in $(seq 1 100); do # up to 10 s
		kill -0 "$samsa_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$samsa_pid" 2>/dev/null; then
		echo "bench: samsa did not stop within 10 s of SIGTERM; killing it" >&2
		kill -KILL "$samsa_pid" 2>/dev/null || true
	fi
	wait "$samsa_pid" 2>/dev/null || true
	samsa_pid=""
	rm -rf "$work/data"
}

# field LINE NAME prints the value of NAME=... in a RESULT line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# bench ARGS... runs samsa-bench against the running samsa and prints its
# RESULT line on stdout (progress goes to stderr).
# A failing samsa-bench (errors, nothing acknowledged) fails the script.
bench() {
	local out rc=0
	out="$(./bin/samsa-bench --brokers "$brokers" "$@")" || rc=$?
	printf '%s\n' "$out" >>"$work/results.txt"
	grep '^RESULT ' <<<"$out" | tail -n 1 || true
	if [[ $rc -ne 0 ]]; then
		echo "bench: samsa-bench $* failed (exit $rc)" >&2
	fi
	return "$rc"
}

# ---- Apache Kafka comparison -------------------------------------------------
# A later issue runs the same workloads against Apache Kafka (KRaft, single
# node) on the same machine and adds its rows to the table (system=kafka). It
# plugs in here, called after run_samsa_workloads: start Kafka on a free
# loopback port, run the same samsa-bench commands against it, stop it.
run_kafka_comparison() {
	echo "bench: Apache Kafka comparison: not yet implemented (see scripts/bench.sh)"
}

row() { printf '%-6s %-8s %-5s %5s %12s %12s %10s %10s %10s\n' "$@" >>"$table"; }

# run_samsa_workloads: every workload on a freshly started samsa with an
# empty data dir (so runs do not disturb each other and disk use stays at
# one workload's worth), appending rows to $table.
run_samsa_workloads() {
	local parts acks line
	for parts in 1 8; do
		for acks in 1 all; do
			start_samsa
			echo "bench: samsa produce partitions=$parts acks=$acks ${duration}s" >&2
			line="$(bench --mode produce --topic "bench-p$parts-acks$acks" --partitions "$parts" \
				--acks "$acks" --record-size "$record_size" --duration "${duration}s" --records "$max_records")"
			row samsa produce "$acks" "$parts" "$(field "$line" records)" "$(field "$line" recps)" \
				"$(field "$line" MBps)" "$(field "$line" lat_p50_ms)" "$(field "$line" lat_p99_ms)"
			if [[ $parts == 8 && $acks == 1 ]]; then
				echo "bench: samsa consume (what was just produced, from the start)" >&2
				line="$(bench --mode consume --topic "bench-p$parts-acks$acks" --duration 120s)"
				row samsa consume - "$parts" "$(field "$line" records)" "$(field "$line" recps)" \
					"$(field "$line" MBps)" - -
			fi
			stop_samsa
		done
	done

	start_samsa
	echo "bench: samsa e2e latency at $e2e_rate rec/s, acks=all, ${duration}s" >&2
	line="$(bench --mode e2e --topic bench-e2e --partitions 1 --acks all --rate "$e2e_rate" \
		--record-size "$record_size" --duration "${duration}s")"
	row samsa e2e all 1 "$(field "$line" records)" "$e2e_rate" - "$(field "$line" p50_ms)" "$(field "$line" p99_ms)"
	e2e_p999="$(field "$line" p999_ms)"
	stop_samsa
}

if [[ "$mode" == smoke ]]; then
	start_samsa
	line="$(bench --mode produce --topic bench-smoke --partitions 8 --acks 1 \
		--record-size "$record_size" --duration 3s --records 1000000)"
	echo "$line"
	records="$(field "$line" records)"
	errors="$(field "$line" errors)"
	if [[ -z "$records" || "$records" -eq 0 || "$errors" != 0 ]]; then
		echo "bench-smoke: FAILED ($line)" >&2
		exit 1
	fi
	stop_samsa
	echo "bench-smoke: ok ($records records acknowledged)"
	exit 0
fi

table="$work/table.txt"
: >"$table"
e2e_p999=-
run_samsa_workloads
run_kafka_comparison

mkdir -p bench-results
out="bench-results/bench-$(date -u +%Y%m%dT%H%M%SZ).txt"
{
	echo "# samsa bench $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -m) $(nproc) cores; $("$GO" version | cut -d' ' -f3)"
	echo "# record size ${record_size} B, ${duration} s per workload; MBps = MiB/s of values; latency: produce = send->ack, e2e = send->consume (e2e p99.9: ${e2e_p999} ms)"
	printf '%-6s %-8s %-5s %5s %12s %12s %10s %10s %10s\n' system workload acks parts records rec/s MBps p50_ms p99_ms
	cat "$table"
	echo
	echo "# raw RESULT lines"
	grep '^RESULT ' "$work/results.txt"
} | tee "$out"
echo "bench: saved $out"
