package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A single broker leads every __consumer_offsets partition: its groups are
// loaded when Start returns, on a fresh cluster and after a restart (the
// group committed before it is served at once), so the first group request
// is answered, not COORDINATOR_LOAD_IN_PROGRESS.
func TestGroupsReadyAtStartSingleNode(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir)
	if !b.groups.Loaded() {
		t.Fatal("groups not loaded when Start returned (fresh cluster)")
	}
	const group, topic = "ready-at-start", "ready"
	createTopic(t, addr, topic, 1, nil)
	if code := commitDirect(t, addr, group, topic, 5); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, addr = startTestBrokerIn(t, dir)
	if !b.groups.Loaded() {
		t.Fatal("groups not loaded when Start returned (restart)")
	}
	if code := commitDirect(t, addr, group, topic, 6); code != 0 {
		t.Fatalf("first commit after the restart: %v, want it served at once", kerr.ErrorForCode(code))
	}
	if got := fetchCommitted(t, []string{addr}, group, topic); got[0] != 6 {
		t.Fatalf("after the restart the broker serves %v, want offset 6", got)
	}
}
