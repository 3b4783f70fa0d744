package samsatest_test

import (
	"testing"

	"github.com/samsa-io/samsa/samsatest"
)

// BenchmarkStart is the time from Start to a ready one-broker cluster
// (broker.Ready: listener, metadata, group coordinator, internal topics),
// with its own etcd; stopping it is outside the timing.
func BenchmarkStart(b *testing.B) {
	b.StopTimer()
	for range b.N {
		b.StartTimer()
		c := samsatest.Start(b)
		b.StopTimer()
		c.Close()
	}
}
