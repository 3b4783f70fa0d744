package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The test binary is also the bare broker when startBareBroker starts it.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == bareBrokerArg {
		if err := bareBroker(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The bare broker serves the log writeBareLog wrote to franz-go's consumer:
// every record, in order, with its value, from batches franz-go checks the
// CRC of; and samsa-bench's consume, the floor's pass, reads all of it.
func TestBareBroker(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const parts, records, size = 3, 7001, 1000 // several ~1 MB batches per partition
	if err := writeBareLog(dir, parts, records, size); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bb, err := startBareBroker(ctx, self, dir, costTopic)
	if err != nil {
		t.Fatal(err)
	}
	defer bb.stop()

	// The values, regenerated as writeBareLog draws them: partition by
	// partition, record by record.
	rng := rand.NewChaCha8([32]byte{'s', 'a', 'm', 's', 'a'})
	want := make([][][]byte, parts)
	for p := range parts {
		n := records / parts
		if p < records%parts {
			n++
		}
		for range n {
			v := make([]byte, size)
			_, _ = rng.Read(v)
			want[p] = append(want[p], v)
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(bb.addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{costTopic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, costTopic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets: %v %v", err, ends.Error())
	}
	for p := range parts {
		if o, _ := ends.Lookup(costTopic, int32(p)); o.Offset != int64(len(want[p])) {
			t.Fatalf("partition %d ends at %d, want %d", p, o.Offset, len(want[p]))
		}
	}
	next := make([]int64, parts)
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for got := 0; got < records; {
		fs := cl.PollFetches(pctx)
		if pctx.Err() != nil {
			t.Fatalf("read %d of %d records", got, records)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next[r.Partition] || r.Key != nil || !bytes.Equal(r.Value, want[r.Partition][r.Offset]) {
				t.Fatalf("partition %d: record at offset %d (want %d) differs", r.Partition, r.Offset, next[r.Partition])
			}
			next[r.Partition]++
			got++
		})
	}
	// A raw fetch: a partition gets its first batch even past its
	// PartitionMaxBytes and no more; an offset past the end is out of range.
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.MaxWaitMillis, req.MaxBytes = 0, 50<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = costTopic
	for p, off := range []int64{0, int64(len(want[1])) + 5} {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = int32(p), off, 1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	kr, err := cl.Request(pctx, req)
	if err != nil {
		t.Fatal(err)
	}
	fr := kr.(*kmsg.FetchResponse)
	if len(fr.Topics) != 1 || fr.Topics[0].Topic != costTopic || len(fr.Topics[0].Partitions) != 2 {
		t.Fatalf("fetch response: %d topics, want 1 of 2 partitions", len(fr.Topics))
	}
	p0, p1 := fr.Topics[0].Partitions[0], fr.Topics[0].Partitions[1]
	if p0.ErrorCode != 0 || p0.HighWatermark != int64(len(want[0])) || len(p0.RecordBatches) < 61 {
		t.Fatalf("partition 0: error %d, high watermark %d, %d bytes", p0.ErrorCode, p0.HighWatermark, len(p0.RecordBatches))
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(p0.RecordBatches); err != nil || rb.FirstOffset != 0 || int(rb.Length)+12 != len(p0.RecordBatches) {
		t.Fatalf("partition 0 holds more than its first batch (%d bytes, batch of %d): %v", len(p0.RecordBatches), rb.Length+12, err)
	}
	if p1.Partition != 1 || p1.ErrorCode != 1 || len(p1.RecordBatches) != 0 {
		t.Fatalf("partition 1 past its end: error %d, %d bytes, want OFFSET_OUT_OF_RANGE (1)", p1.ErrorCode, len(p1.RecordBatches))
	}
	cl.Close()

	// The floor's own pass: samsa-bench's consume, built here.
	bench := filepath.Join(t.TempDir(), "samsa-bench")
	if out, err := exec.Command("go", "build", "-o", bench, "github.com/samsa-io/samsa/cmd/samsa-bench").CombinedOutput(); err != nil {
		t.Fatalf("building samsa-bench: %v: %s", err, out)
	}
	o := &options{benchBin: bench, runTimeout: 2 * time.Minute, recordSize: size, costPasses: 2}
	v, err := bb.run(ctx, o, records, false)
	if err != nil || v < 0 {
		t.Fatalf("run: %v s/GiB, %v", v, err)
	}
	// A pass that reads less than the log holds fails.
	if _, _, err := bb.pass(ctx, o, records+1); err == nil {
		t.Fatal("a pass that read fewer records than wanted did not fail")
	}
	if m, z := medianOrZero([]float64{0.3, 0.1, 0.2}), medianOrZero(nil); m != 0.2 || z != 0 {
		t.Fatalf("medianOrZero: %v and %v, want 0.2 and 0", m, z)
	}
	if _, err := startBareBroker(ctx, self, t.TempDir(), costTopic); err == nil {
		t.Fatal("a bare broker without a log started")
	}
}

// The report compares the floor with Kafka's consume cost and says whether
// the target is below it.
func TestReportFloor(t *testing.T) {
	r := &results{Options: map[string]any{"systems": []string{"samsa", "kafka"}}}
	vals := map[string]map[string]float64{
		"samsa": {cpuKey("consume/hot"): 0.30, cpuKey("consume/cold"): 0.40},
		"kafka": {cpuKey("consume/hot"): 0.50, cpuKey("consume/cold"): 1.00},
	}
	for i, sys := range []string{"samsa", "kafka"} {
		r.Rounds = append(r.Rounds, &roundResult{System: sys, Round: i + 1, Values: vals[sys]})
	}
	r.Limits = &machineLimits{SendfileHotCPU: 0.25, SendfileHotRuns: []float64{0.3, 0.25, 0.2}, SendfileColdCPU: 0.3, SendfileColdRuns: []float64{0.3}}
	md := r.markdown()
	for _, want := range []string{
		"| bare broker sending its log files with sendfile to samsa-bench's consumer, CPU per GiB, hot (page cache; median of 0.30, 0.25, 0.20) | 0.25 |",
		"| the same, cold (page cache dropped before each pass; median of 0.30) | 0.30 |",
		"- consume hot: the bare broker costs 0.25 s per GiB, 0.50× Kafka's broker (0.50) and 0.83× samsa's (0.30). A broker that cost no more than the bare one would be at 0.50× Kafka; the ≤ 0.40× target is below that: a broker doing no more than the bare one would still miss it on this machine.",
		"- consume cold: the bare broker costs 0.30 s per GiB, 0.30× Kafka's broker (1.00) and 0.75× samsa's (0.40). A broker that cost no more than the bare one would be at 0.30× Kafka; the ≤ 0.40× target is above that: a broker as lean as the bare one would meet it.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	r.Limits = &machineLimits{}
	if md := r.markdown(); strings.Contains(md, "bare broker") {
		t.Errorf("markdown shows a floor that was not measured:\n%s", md)
	}
}

// The image layer is the binary and samsa's data dir as a tar, and the
// report says what it is and what it leaves out.
func TestImageLayer(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "samsa")
	if err := os.WriteFile(bin, make([]byte, 1<<20), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := measureImageLayer(bin)
	if err != nil {
		t.Fatal(err)
	}
	// Four headers of 512 bytes (three directories, the binary), the
	// binary itself and tar's two closing blocks.
	if want := float64(1<<20+4*512+2*512) / (1 << 20); l.TarMiB != want {
		t.Errorf("tar: %v MiB, want %v", l.TarMiB, want)
	}
	if l.GzipMiB <= 0 || l.GzipMiB >= 0.1 {
		t.Errorf("gzip of a MiB of zeros: %v MiB", l.GzipMiB)
	}
	if _, err := measureImageLayer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing binary measured")
	}

	r := &results{Options: map[string]any{"systems": []string{"samsa", "kafka"}}, Image: &imageLayer{TarMiB: 31.5, GzipMiB: 12.2}}
	r.Rounds = []*roundResult{{System: "samsa", Round: 1, Values: map[string]float64{imageKey: 31.5}}, {System: "kafka", Round: 2, Values: map[string]float64{}}}
	md := r.markdown()
	for _, want := range []string{
		"| Docker image: the layer samsa's Dockerfile adds to its base (tar) | MiB | 31.5 | – | – |  |  |",
		"- Docker image: not built (no docker engine on this machine, and its base cannot be pulled). The layer samsa's Dockerfile adds, its static stripped binary and /var/lib/samsa, is 31.5 MiB as a tar (12.2 MiB gzipped, what a pull downloads); its base, gcr.io/distroless/static-debian12, is about 2 MiB by the distroless project's README (not measured): about 33.5 MiB in all",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
