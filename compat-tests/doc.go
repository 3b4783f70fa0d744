// Package compat holds samsa's black-box tests: each test builds the real
// samsa binary (once per `go test` run), starts it on a free loopback port
// with a temporary data directory, and talks to it with stock clients only.
//
// Every client ecosystem runs the same scenarios and records one cell per
// client x scenario in the compat matrix (matrix_test.go), printed at the end
// of every run (and written to $COMPAT_MATRIX_FILE, which `make compat`
// prints):
//
//   - Go: franz-go, sarama, kafka-go, confluent-kafka-go (franz_test.go,
//     sarama_test.go, kafkago_test.go, confluent_test.go; shared scenarios in
//     scenarios_test.go) and consumer-group scenarios (groups_test.go);
//   - Java kafka-clients (java/, Maven + JUnit), Python confluent-kafka,
//     kafka-python and aiokafka (python/, pytest in a venv), Node kafkajs
//     (node/, node --test): run by ecosystems_test.go, which reads their
//     JSON-lines results;
//   - Apache Kafka's command-line tools and DumpLogSegments (cli_test.go) and
//     kcat (kcat_test.go);
//   - durability: kill -9 and SIGTERM restarts (durability_test.go);
//   - the cluster: three brokers on a 3-member etcd embedded in the test,
//     every link behind a fault proxy (package faultproxy), and the failure
//     scenarios (cluster_harness_test.go, cluster_failover_test.go,
//     cluster_combined_test.go); docker-compose.yml and the Dockerfile run
//     as local processes (compose_test.go); the cluster's figures behind
//     the build tag clusterbench (cluster_bench_test.go, make cluster-bench).
//
// The harness (harness_test.go) can start, SIGKILL, SIGTERM and restart the
// binary on the same data dir and port; the broker's log is written to a file
// in the test's temp dir and its tail is printed when a test fails. The
// set-up the non-Go suites need (Maven, venv, npm, Kafka jars, kcat) is
// `make compat-setup`.
//
// Run with `make compat` from the repository root, or directly:
//
//	cd compat-tests && go test -count=1 -timeout 15m ./...
//
// SAMSA_BIN=/path/to/samsa makes the tests use that binary instead of
// building one (a race-enabled build, a release binary).
//
// This is its own Go module so that its dependencies and its slow tests stay
// out of the root module's `go test ./...`.
package compat
