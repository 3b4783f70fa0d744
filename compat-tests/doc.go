// Package compat holds samsa's black-box tests: each test builds the real
// samsa binary (once per `go test` run), starts it on a free loopback port
// with a temporary data directory, and talks to it with stock clients only.
//
// The Go tests use franz-go (kgo, kadm). The harness (harness_test.go) can
// start, SIGKILL, SIGTERM and restart the binary on the same data dir and
// port; the broker's log is written to a file in the test's temp dir and its
// tail is printed when a test fails.
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
