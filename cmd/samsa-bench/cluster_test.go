package main

import (
	"testing"
	"time"
)

func TestParseKillFile(t *testing.T) {
	for _, tc := range []struct {
		in         string
		kill, dead int64
		ok         bool
	}{
		{"100 250\n", 100, 250, true},
		{"100 100", 100, 100, true},
		{"", 0, 0, false},
		{"100", 0, 0, false},         // not complete yet
		{"100 50", 0, 0, false},      // dead before the kill
		{"x 250", 0, 0, false},       // not a number
		{"0 250", 0, 0, false},       // no kill time
		{"100 250 300", 0, 0, false}, // too many fields
		{" 7\t9 \n", 7, 9, true},     // any white space
		{"-100 250", 0, 0, false},    // negative
		{"100 250\n100 250", 0, 0, false},
	} {
		k, d, ok := parseKillFile([]byte(tc.in))
		if k != tc.kill || d != tc.dead || ok != tc.ok {
			t.Errorf("parseKillFile(%q) = %d, %d, %v; want %d, %d, %v", tc.in, k, d, ok, tc.kill, tc.dead, tc.ok)
		}
	}
}

func TestFailoverFigures(t *testing.T) {
	ms := int64(time.Millisecond)
	evs := []ackEvent{
		{sent: 0, answered: 2 * ms},
		{sent: 10 * ms, answered: 12 * ms},
		// In flight at the kill (100 ms), its answer read from the
		// socket after it: not the new leader's.
		{sent: 98 * ms, answered: 101 * ms},
		// Sent before the kill, retried: acknowledged by the new
		// leader, but not counted (it may have been the old one's).
		{sent: 99 * ms, answered: 900 * ms},
		{sent: 104 * ms, failed: true, answered: 500 * ms},
		// Sent after: the first of them acknowledged ends the outage
		// (answers need not come in the order of the records).
		{sent: 120 * ms, answered: 905 * ms},
		{sent: 110 * ms, answered: 903 * ms},
		{sent: 950 * ms, answered: 952 * ms},
	}
	st := failoverFigures(evs, 100*ms)
	if st.acked != 7 || st.failed != 1 {
		t.Errorf("acked %d failed %d, want 7 and 1", st.acked, st.failed)
	}
	if want := 803 * time.Millisecond; st.killToAck != want {
		t.Errorf("killToAck %v, want %v", st.killToAck, want)
	}
	if want := 799 * time.Millisecond; st.maxGap != want {
		t.Errorf("maxGap %v, want %v", st.maxGap, want)
	}

	// No kill: no failover time, the gaps still.
	st = failoverFigures(evs[:2], 0)
	if st.killToAck != -1 || st.maxGap != 10*time.Millisecond {
		t.Errorf("without a kill: killToAck %v maxGap %v, want -1 and 10ms", st.killToAck, st.maxGap)
	}
	// A kill and nothing produced after it acknowledged.
	st = failoverFigures(evs[:5], 100*ms)
	if st.killToAck != -1 {
		t.Errorf("nothing after the kill: killToAck %v, want -1", st.killToAck)
	}
}

func TestParseFailoverFlags(t *testing.T) {
	c, err := parseFailoverFlags([]string{"--brokers", "a:1, b:2,,c:3", "--kill-file", "k", "--rate", "200"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.brokers) != 3 || c.brokers[1] != "b:2" || c.warm != 200 || !c.idempotent {
		t.Errorf("parsed %+v", c)
	}
	for _, args := range [][]string{
		{}, // no --kill-file
		{"--kill-file", "k", "--rate", "0"},
		{"--kill-file", "k", "--brokers", " , "},
		{"--kill-file", "k", "--duration", "0s"},
		{"--kill-file", "k", "extra"},
	} {
		if _, err := parseFailoverFlags(args); err == nil {
			t.Errorf("parseFailoverFlags(%q): no error", args)
		}
	}
}
