#!/usr/bin/env bash
# samsa against Apache Kafka on this machine: the same workloads against each
# broker, one at a time, alternating rounds; one table of medians with
# samsa/Kafka ratios, a chart and the raw numbers under
# bench-results/<UTC timestamp>/. See bench/README.md for how to read them.
#
#   scripts/bench-compare.sh            the full comparison (~25 min)
#   QUICK=1 scripts/bench-compare.sh    one round of every row, shorter runs
#                                       (under 10 min; numbers noisier)
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS        rounds per broker, alternating samsa, Kafka [3]
#   BENCH_RECORDS       records per kafka-producer-perf-test run [1000000]
#   BENCH_DURATION      seconds per samsa-bench produce run [8]
#   BENCH_MAX_RECORDS   records per samsa-bench produce run at most [4000000]
#   BENCH_RECORD_SIZE   record value size in bytes [1024]
#   BENCH_E2E_RATE      records/s of the fixed-rate latency run [1000]
#   BENCH_E2E_DURATION  length of each fixed-rate latency run, light and heavy [15s]
#   BENCH_E2E_HEAVY_RATE  records/s of the heavy-load latency run [0: half the
#                       lower saturation rate, from a pre-pass]
#   BENCH_SATURATION_DURATION  each of the pre-pass's three runs [0: BENCH_DURATION]
#   BENCH_E2E_RECORDS   records of Kafka's EndToEndLatency run [5000]
#   BENCH_WARMUP_RECORDS  records per tool of the unmeasured warm-up [200000]
#   BENCH_COST_MIB      MiB written for the hot/cold consume cost rows [192]
#   BENCH_COST_PASSES   passes over them, hot and cold each [3]
#   BENCH_DISK_MIB      MiB per dd run of the machine's limits [2048]
#   BENCH_TCP_MIB       MiB of the loopback TCP limit (at most 10 s) [8192]
#   BENCH_SYSTEMS       brokers to run, in round order [samsa,kafka]
#   BENCH_PHASES        the phases after each round: all, none, or a list of
#                       scale, groups, cluster [all]
#   BENCH_PHASE_ROUNDS  the phases run in the first this many rounds [1]
#   BENCH_OUT           results folder [bench-results/<UTC timestamp>]
#   BENCH_ARGS          more samsa-benchcmp flags (see bin/samsa-benchcmp --help)
#   KAFKA_VERSION       Apache Kafka release from Maven Central [4.4.0]
#   QUICK=1             other defaults for the variables above: 1 round,
#                       200000 records, 3 s runs, 5 s latency runs, 2000
#                       EndToEndLatency records, 100000 warm-up records, 128
#                       MiB x 2 cost passes, 3 s saturation runs, 512 MiB dd,
#                       2048 MiB TCP (each can still be set)
#   SAMSA_BIN           benchmark this samsa binary instead of building bin/samsa
#
# Kafka's jars are fetched once with Maven into .cache/kafka/<version>/libs
# (scripts/kafka.sh); it needs java (17+) and mvn. Only 127.0.0.1 is used.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
GO="${GO:-go}"

command -v java >/dev/null || { echo "bench-compare: java (17 or newer) is needed to run Apache Kafka" >&2; exit 1; }

# Private copies: a `make build` running meanwhile must not swap the binaries
# under a run.
bindir="$root/bin/bench"
mkdir -p "$bindir"
if [[ -n "${SAMSA_BIN:-}" ]]; then
	cp "$SAMSA_BIN" "$bindir/samsa"
else
	"$GO" build -o "$bindir/samsa" ./cmd/samsa
fi
# The Docker image row: samsa built as the Dockerfile builds it.
CGO_ENABLED=0 GOOS=linux "$GO" build -trimpath -ldflags="-s -w -X main.version=dev" -o "$bindir/samsa-image" ./cmd/samsa
"$GO" build -o "$bindir/samsa-bench" ./cmd/samsa-bench
"$GO" build -o "$bindir/samsa-benchcmp" ./cmd/samsa-benchcmp
rev="$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
quick=()

# QUICK=1 (or BENCH_QUICK=1): one round of every row with shorter runs; only
# the defaults change, every BENCH_* variable set still wins.
if [[ "${QUICK:-${BENCH_QUICK:-}}" == 1 ]]; then
	: "${BENCH_ROUNDS:=1}" "${BENCH_RECORDS:=200000}" "${BENCH_DURATION:=3}" "${BENCH_MAX_RECORDS:=1000000}"
	: "${BENCH_E2E_DURATION:=5s}" "${BENCH_E2E_RECORDS:=2000}" "${BENCH_WARMUP_RECORDS:=100000}"
	: "${BENCH_COST_MIB:=128}" "${BENCH_COST_PASSES:=2}" "${BENCH_SATURATION_DURATION:=3s}"
	: "${BENCH_DISK_MIB:=512}" "${BENCH_TCP_MIB:=2048}"
	rev="$rev (QUICK=1)"
	quick=(--quick)
fi

args=(
	--samsa "$bindir/samsa" --samsa-bench "$bindir/samsa-bench" --kafka-sh scripts/kafka.sh
	--image-binary "$bindir/samsa-image"
	--note "samsa source: $rev"
	--rounds "${BENCH_ROUNDS:-3}"
	--records "${BENCH_RECORDS:-1000000}"
	--bench-duration "${BENCH_DURATION:-8}s"
	--bench-max-records "${BENCH_MAX_RECORDS:-4000000}"
	--record-size "${BENCH_RECORD_SIZE:-1024}"
	--e2e-rate "${BENCH_E2E_RATE:-1000}"
	--e2e-duration "${BENCH_E2E_DURATION:-15s}"
	--e2e-heavy-rate "${BENCH_E2E_HEAVY_RATE:-0}"
	--saturation-duration "${BENCH_SATURATION_DURATION:-0}"
	--e2e-records "${BENCH_E2E_RECORDS:-5000}"
	--warmup-records "${BENCH_WARMUP_RECORDS:-200000}"
	--cost-mib "${BENCH_COST_MIB:-192}"
	--cost-passes "${BENCH_COST_PASSES:-3}"
	--disk-mib "${BENCH_DISK_MIB:-2048}"
	--tcp-mib "${BENCH_TCP_MIB:-8192}"
	--systems "${BENCH_SYSTEMS:-samsa,kafka}"
	--phases "${BENCH_PHASES:-all}"
	--phase-rounds "${BENCH_PHASE_ROUNDS:-1}"
	"${quick[@]}"
)
[[ -n "${BENCH_OUT:-}" ]] && args+=(--out "$BENCH_OUT")
# shellcheck disable=SC2206
[[ -n "${BENCH_ARGS:-}" ]] && args+=(${BENCH_ARGS})
exec "$bindir/samsa-benchcmp" "${args[@]}"
