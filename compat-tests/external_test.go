package compat

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
)

// externalBrokerEnv names a broker the tests talk to instead of starting
// samsa. `make difftest-record` sets it to its recording proxy in front of
// Apache Kafka, so that the Go clients' scenarios run against Kafka and
// their traffic lands in the differential tester's corpus. Checks of
// samsa's data directory then fail; nothing else in the harness changes.
const externalBrokerEnv = "COMPAT_EXTERNAL_BROKER"

// externalSamsa is a Samsa that is not a process of ours: Addr is the
// external broker; Start, Stop and the log are unavailable.
func externalSamsa(t testing.TB, addr string) *Samsa {
	t.Helper()
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s=%q: %v", externalBrokerEnv, addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatalf("%s=%q: %v", externalBrokerEnv, addr, err)
	}
	dir := t.TempDir()
	return &Samsa{
		t:       t,
		DataDir: filepath.Join(dir, "data"),
		LogPath: filepath.Join(dir, "external-broker-has-no-log"),
		Port:    port,
		Addr:    net.JoinHostPort(host, fmt.Sprint(port)),
	}
}
