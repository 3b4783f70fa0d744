package compat

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEtcdLostDataKept is the new user's scenario of the data-safety issue,
// against the real binary: produce three records, stop with SIGTERM, lose
// the metadata (the embedded etcd removed, or another etcd prefix), start
// again. samsa must refuse to start, say why with both sides named, and
// keep the partition's files; started once with samsa.adopt.existing.data it
// serves the three records again.
func TestEtcdLostDataKept(t *testing.T) {
	const topic = "precious"
	s := StartSamsa(t)
	createTopic(t, s.Addr, topic, 1)
	produceValues(t, s.Addr, topic, "one", "two", "three")
	if _, err := s.Stop(0); err != nil {
		t.Fatal(err)
	}
	meta, err := os.ReadFile(filepath.Join(s.DataDir, "meta.properties"))
	if err != nil {
		t.Fatalf("no meta.properties after the first start: %v", err)
	}
	m := regexp.MustCompile(`(?m)^cluster\.id=(\S+)$`).FindSubmatch(meta)
	if m == nil {
		t.Fatalf("meta.properties without cluster.id:\n%s", meta)
	}
	cluster := string(m[1])
	segment := filepath.Join(s.DataDir, topic+"-0", "00000000000000000000.log")
	before, err := os.ReadFile(segment)
	if err != nil || len(before) == 0 {
		t.Fatalf("segment after the first run: %v (%d bytes)", err, len(before))
	}

	refused := func(what string) {
		t.Helper()
		if code := s.StartRefused(); code == 0 {
			t.Fatalf("%s: samsa exited 0", what)
		}
		why := logLinesMatching(s.Lines(), "cannot start broker")
		if len(why) == 0 || !strings.Contains(why[0], "data directory refused") || !strings.Contains(why[0], cluster) || !strings.Contains(why[0], "samsa.adopt.existing.data") {
			t.Fatalf("%s: no refusal naming cluster %s and the way out; log:\n%s", what, cluster, joinLines(s.Lines(), 20))
		}
		after, err := os.ReadFile(segment)
		if err != nil || string(after) != string(before) {
			t.Fatalf("%s: the segment changed or vanished after a refused start: %v", what, err)
		}
	}

	// Another etcd prefix: a cluster samsa has never seen.
	s.Args = []string{"--etcd-prefix", "/somewhere-else/"}
	refused("another --etcd-prefix")

	// The embedded etcd removed.
	s.Args = nil
	if err := os.RemoveAll(filepath.Join(s.DataDir, "etcd")); err != nil {
		t.Fatal(err)
	}
	refused("embedded etcd removed")

	// Adopting the data brings the records back under the same cluster id.
	s.Args = []string{"--override", "samsa.adopt.existing.data=true"}
	s.Start()
	if got := consumeValues(t, s.Addr, topic, 3); strings.Join(got, ",") != "one,two,three" {
		t.Fatalf("records after adoption: %v", got)
	}
	produceValues(t, s.Addr, topic, "four")
	if got := consumeValues(t, s.Addr, topic, 4); strings.Join(got, ",") != "one,two,three,four" {
		t.Fatalf("records after a produce on the adopted topic: %v", got)
	}
	if len(logLinesMatching(s.Lines(), "adopted topic")) == 0 {
		t.Fatal("no log line about the adopted topic")
	}
	meta2, _ := os.ReadFile(filepath.Join(s.DataDir, "meta.properties"))
	if !strings.Contains(string(meta2), "cluster.id="+cluster) {
		t.Fatalf("meta.properties after adoption:\n%s", meta2)
	}
}

// produceValues produces values, in order, to partition 0 of topic.
func produceValues(t *testing.T, addr, topic string, values ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %q: %v", v, err)
		}
	}
}

// consumeValues reads n records of topic from the start.
func consumeValues(t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", len(out), n, topic, out)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		for _, r := range fs.Records() {
			out = append(out, string(r.Value))
		}
	}
	return out
}
