// Package difftest is samsa's differential tester: it sends the same
// requests to Apache Kafka 4.4 and to samsa and reports every field of
// their answers that differs for a reason not written down.
//
// Two sources of requests:
//
//   - Scripted scenarios (scen_*.go, listed by AllScenarios): sequences of
//     raw requests built with kmsg and sent over a TCP connection of the
//     tester's own (wire.go), so that versions and edge cases are the
//     scenario's choice. Before a scenario runs, both brokers' ApiVersions
//     are read; the scenario then runs once per version of its API that both
//     serve. Each step's request is built per broker (topic ids, member ids
//     and producer ids are each broker's own) and the two answers are
//     compared.
//   - Recorded clients (corpus/*.jsonl.gz): what the compat matrix's
//     clients sent to Kafka through the recording proxy (proxy.go,
//     cmd/difftest-record) and what Kafka answered. Each recording is
//     replayed against a fresh samsa (replay.go) in the recorded causal
//     order, with the values Kafka assigned (member and producer ids,
//     fetch session ids, ...) rewritten to samsa's (rewrite.go); samsa's
//     answers are compared with Kafka's recorded ones.
//
// Comparison (normalize.go, diff.go): each answer is flattened into
// (path, value) leaves by a walk over the kmsg struct; arrays of structs are
// keyed by their name field so that order does not matter; a per-field
// table normalizes what legitimately differs (cluster id; topic ids, named
// by their topic consistently for the whole run; node ids, hosts and
// ports; generated member, producer and session ids, numbered per
// scenario; broker clock times; throttle times, dropped; error messages,
// compared as set or unset). Every remaining difference is one Diff:
//
//	API vN scenario[/step] field.path: kafka=X samsa=Y
//
// Judgement (accepted.go, report.go): accepted.txt lists the differences
// that are known, each with a reason, in three sections: pending (samsa
// bugs, the to-do list of fixes), accepted (legitimate differences) and
// not-served (APIs Kafka serves and samsa does not). A difference no entry
// covers fails the test; an entry that covered nothing is reported at the
// end of the run.
//
// The tests (difftest_test.go) start one Kafka (scripts/kafka.sh) and one
// samsa for the whole run; `make compat` and `make difftest` run them.
// Environment: SAMSA_BIN (the binary; else built), DIFFTEST_ONLY (a
// scenario glob), DIFFTEST_DUMP (a scenario glob whose answers are printed
// side by side), DIFFTEST_VERBOSE=1 (log accepted differences too),
// DIFFTEST_CORPUS (another recording directory), DIFFTEST_REPORT (a file
// for the summary).
package difftest
