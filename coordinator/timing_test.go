//go:build timing

// Start-up and latency figures of the embedded etcd, for reports:
//
//	go test -tags timing -run TestTiming -v ./coordinator/
package coordinator

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestTiming(t *testing.T) {
	var fresh, restart, openF, openR, create []time.Duration
	for range 15 {
		dir := t.TempDir()
		s, err := Open(context.Background(), Config{EmbeddedDir: dir, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		fresh = append(fresh, s.Timing().EmbeddedReady)
		openF = append(openF, s.Timing().Total)
		t0 := time.Now()
		rev, _ := s.CreateTopic(context.Background(), TopicInfo{Name: "x", Replicas: [][]int32{{1}}})
		s.WaitForRevision(context.Background(), rev)
		create = append(create, time.Since(t0))
		s.Close()
		s, err = Open(context.Background(), Config{EmbeddedDir: dir, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		restart = append(restart, s.Timing().EmbeddedReady)
		openR = append(openR, s.Timing().Total)
		s.Close()
	}
	for _, x := range [][]time.Duration{fresh, restart, openF, openR, create} {
		slices.Sort(x)
	}
	t.Logf("etcd ready fresh: min %s median %s max %s", fresh[0], fresh[7], fresh[14])
	t.Logf("etcd ready restart: min %s median %s max %s", restart[0], restart[7], restart[14])
	t.Logf("Open fresh: median %s; restart: median %s", openF[7], openR[7])
	t.Logf("create 1-partition topic + visible: min %s median %s max %s", create[0], create[7], create[14])
}
