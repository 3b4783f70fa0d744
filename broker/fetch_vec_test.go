package broker

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch responses above vecCopyMax go out with writev, their records
// referenced in the pooled read buffer: these tests check what arrives.

func produceBig(t *testing.T, addr, topic string, partitions int32, n, size int) {
	t.Helper()
	createTopic(t, addr, topic, partitions, nil)
	cl := newClient(t, addr, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression())) // real sizes: records go out in place
	ctx := testCtx(t)
	for i := range n {
		v := bytes.Repeat([]byte{byte(i)}, size)
		copy(v, fmt.Sprintf("value-%d-", i))
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: v}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestFetchLargeRecordsRoundTrip(t *testing.T) {
	_, addr := startTestBroker(t)
	const n, size = 400, 10 << 10
	produceBig(t, addr, "big", 4, n, size)
	recs := consumeN(t, addr, "big", n)
	seen := map[int]bool{}
	for _, r := range recs {
		var i int
		if _, err := fmt.Sscanf(string(r.Value), "value-%d-", &i); err != nil || len(r.Value) != size {
			t.Fatalf("record %d bytes: %q...", len(r.Value), r.Value[:min(len(r.Value), 32)])
		}
		want := bytes.Repeat([]byte{byte(i)}, size)
		copy(want, fmt.Sprintf("value-%d-", i))
		if !bytes.Equal(r.Value, want) {
			t.Fatalf("record %d: value corrupted", i)
		}
		seen[i] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct records, want %d", len(seen), n)
	}
}

// TestFetchVectorsKeepResponseOrder pipelines small responses (buffered)
// and large Fetch responses (writev) on one connection: they must arrive
// whole and in request order.
func TestFetchVectorsKeepResponseOrder(t *testing.T) {
	_, addr := startTestBroker(t)
	produceBig(t, addr, "ord", 3, 120, 6<<10)

	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("vec-test"))
	fetch := func(v int16, partMax int32) kmsg.Request {
		req := kmsg.NewPtrFetchRequest()
		req.Version = v
		req.ReplicaID = -1
		req.MaxBytes = 50 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "ord"
		for p := range int32(3) {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = p
			rp.PartitionMaxBytes = partMax
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		return req
	}
	apiVersions := func() kmsg.Request {
		r := kmsg.NewPtrApiVersionsRequest()
		r.Version = 0
		return r
	}
	reqs := []kmsg.Request{
		apiVersions(), fetch(12, 1<<20), apiVersions(), fetch(4, 1<<20),
		fetch(11, 100), // first batch only: may be small enough to buffer
		fetch(12, 1<<20), fetch(12, 1<<20), apiVersions(),
	}
	var out []byte
	for i, r := range reqs {
		// AppendRequest sizes the frame from dst[0]: encode each alone.
		out = append(out, f.AppendRequest(nil, r, int32(1000+i))...)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	var full [][]byte // records per partition of the full fetches
	for i, r := range reqs {
		buf := readResponseFrame(t, c, i, int32(1000+i))
		body := buf[4:]
		resp := r.ResponseKind()
		resp.SetVersion(r.GetVersion())
		if resp.IsFlexible() && r.Key() != kmsg.ApiVersions.Int16() {
			body = body[1:]
		}
		if err := resp.ReadFrom(body); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		fr, ok := resp.(*kmsg.FetchResponse)
		if !ok {
			continue
		}
		var got [][]byte
		total := 0
		for _, p := range fr.Topics[0].Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("response %d partition %d: error %d", i, p.Partition, p.ErrorCode)
			}
			got = append(got, p.RecordBatches)
			total += countRecords(t, p.RecordBatches)
		}
		if r.(*kmsg.FetchRequest).Topics[0].Partitions[0].PartitionMaxBytes == 100 {
			if total == 0 {
				t.Fatalf("response %d: no records", i)
			}
			continue
		}
		if total != 120 {
			t.Fatalf("response %d: %d records, want 120", i, total)
		}
		if full == nil {
			full = got
		}
		for p := range got {
			if !bytes.Equal(got[p], full[p]) {
				t.Fatalf("response %d partition %d: records differ from the first fetch", i, p)
			}
		}
	}
}

// readResponseFrame reads response i's frame from c and checks that it
// answers correlation id corr; it returns the frame after the size prefix.
func readResponseFrame(t *testing.T, c net.Conn, i int, corr int32) []byte {
	t.Helper()
	var size [4]byte
	if _, err := readFull(c, size[:]); err != nil {
		t.Fatalf("response %d: %v", i, err)
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := readFull(c, buf); err != nil {
		t.Fatalf("response %d: %v", i, err)
	}
	if got := int32(binary.BigEndian.Uint32(buf)); got != corr {
		t.Fatalf("response %d: correlation id %d, want %d", i, got, corr)
	}
	return buf
}

func countRecords(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for len(b) > 0 {
		var rb kmsg.RecordBatch
		if len(b) < 12 {
			t.Fatalf("truncated batch header")
		}
		l := 12 + int(binary.BigEndian.Uint32(b[8:]))
		if l > len(b) {
			t.Fatalf("truncated batch")
		}
		if err := rb.ReadFrom(b[:l]); err != nil {
			t.Fatal(err)
		}
		n += int(rb.NumRecords)
		b = b[l:]
	}
	return n
}

// TestFetchFileSlicesMatchTheLog: one response mixing partitions sent from
// the segment file (sendfile, at least fileSliceMin bytes) and partitions
// copied into the frame (small) carries, for each, exactly the bytes the log
// holds, at several starting offsets and on a connection that pipelines
// requests.
func TestFetchFileSlicesMatchTheLog(t *testing.T) {
	b, addr := startTestBroker(t)
	createTopic(t, addr, "mix", 3, nil)
	cl := newClient(t, addr, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t)
	// p0 and p2: ~300 KiB each (file slices); p1: a few small records.
	for i := range 300 {
		for _, p := range []int32{0, 2} {
			v := bytes.Repeat([]byte{byte(i), byte(p)}, 512)
			cl.Produce(ctx, &kgo.Record{Topic: "mix", Partition: p, Value: v}, nil)
		}
		if i%100 == 0 {
			cl.Produce(ctx, &kgo.Record{Topic: "mix", Partition: 1, Value: []byte(fmt.Sprintf("small-%d", i))}, nil)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	offsets := func(p int32, start int64) int64 {
		if p == 1 {
			return min(start, 2) // p1 has 3 records
		}
		return start
	}
	if sliced := fetchMatchesLog(t, b, addr, "mix", 3, []int64{0, 1, 150, 299}, offsets); sliced == 0 {
		t.Fatal("no partition was large enough to be sent from the file")
	}
}

// fetchFrom is a Fetch (v12) of partitions 0..parts-1 of topic, partition p
// from offset(p), up to 1 MiB of each and 50 MiB in all.
func fetchFrom(topic string, parts int32, offset func(p int32) int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID = -1
	req.MaxBytes = 50 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for p := range parts {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		rp.FetchOffset = offset(p)
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchMatchesLog sends one pipelined Fetch per start (partitions 0..parts-1
// of topic, from offset(p, start)) and checks that every partition carries
// exactly the bytes the log holds there. It returns how many partitions
// were at least fileSliceMin bytes.
func fetchMatchesLog(t *testing.T, b *Broker, addr, topic string, parts int32, starts []int64,
	offset func(p int32, start int64) int64) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("slice-test"))
	var out []byte
	for i, start := range starts {
		req := fetchFrom(topic, parts, func(p int32) int64 { return offset(p, start) })
		out = append(out, f.AppendRequest(nil, req, int32(i))...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	sliced := 0
	for i, start := range starts {
		buf := readResponseFrame(t, c, i, int32(i))
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 12
		if err := resp.ReadFrom(buf[5:]); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		for _, p := range resp.Topics[0].Partitions {
			off := offset(p.Partition, start)
			want, err := b.partition(topic, p.Partition).log.Read(off, 1<<20, -1, true)
			if err != nil {
				t.Fatal(err)
			}
			if p.ErrorCode != 0 || !bytes.Equal(p.RecordBatches, want.Records) {
				t.Fatalf("response %d partition %d (from %d): error %d, %d bytes, the log has %d",
					i, p.Partition, off, p.ErrorCode, len(p.RecordBatches), len(want.Records))
			}
			if len(want.Records) >= fileSliceMin {
				sliced++
			}
		}
	}
	return sliced
}

// TestFetchColdReadsMatchTheLog: with a 1 MiB page-cache hot window, reads
// of older data go past the cache (O_DIRECT, several partitions of one
// request at once) and still carry exactly the log's bytes, next to hot
// partitions in the same response.
func TestFetchColdReadsMatchTheLog(t *testing.T) {
	b, addr := startTestBroker(t, "log.cache.hot.bytes=1048576")
	produceBig(t, addr, "cold", 3, 3*6000, 1000) // ~6 MiB per partition
	// The trimmer runs in the background every 4 MiB appended.
	deadline := time.Now().Add(20 * time.Second)
	for p := int32(0); p < 3; p++ {
		for {
			fs, err := b.partition("cold", p).log.ReadSlice(0, 1<<20, -1, true)
			if err != nil {
				t.Fatal(err)
			}
			cold := fs.Cold()
			fs.Release()
			if cold {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("partition %d: the start of the log never went cold", p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	same := func(_ int32, start int64) int64 { return start }
	if n := fetchMatchesLog(t, b, addr, "cold", 3, []int64{0, 1, 777, 3000, 5990}, same); n == 0 {
		t.Fatal("no partition read was large")
	}
	// A consumer reading on from where it was: after the first read of
	// each segment, its cold slices come from the read-ahead of the read
	// before (no region of the request's buffer).
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("cold-consumer"))
	next := make([]int64, 3)
	for i := int32(0); ; i++ {
		req := fetchFrom("cold", 3, func(p int32) int64 { return next[p] })
		if _, err := c.Write(f.AppendRequest(nil, req, i)); err != nil {
			t.Fatal(err)
		}
		buf := readResponseFrame(t, c, int(i), i)
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 12
		if err := resp.ReadFrom(buf[5:]); err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		done := true
		for _, p := range resp.Topics[0].Partitions {
			l := b.partition("cold", p.Partition).log
			want, err := l.Read(next[p.Partition], 1<<20, -1, true)
			if err != nil {
				t.Fatal(err)
			}
			if p.ErrorCode != 0 || !bytes.Equal(p.RecordBatches, want.Records) {
				t.Fatalf("read %d partition %d (from %d): error %d, %d bytes, the log has %d",
					i, p.Partition, next[p.Partition], p.ErrorCode, len(p.RecordBatches), len(want.Records))
			}
			if len(want.Records) > 0 {
				next[p.Partition] = lastOffset(t, want.Records) + 1
			}
			if next[p.Partition] < l.HighWatermark() {
				done = false
			}
		}
		if done {
			break
		}
	}
}

// lastOffset returns the offset of the last record of the last batch in
// batches.
func lastOffset(t *testing.T, batches []byte) int64 {
	t.Helper()
	last := int64(-1)
	for len(batches) >= 27 {
		n := 12 + int(binary.BigEndian.Uint32(batches[8:]))
		if n > len(batches) {
			t.Fatalf("a batch of %d bytes in %d", n, len(batches))
		}
		last = int64(binary.BigEndian.Uint64(batches)) + int64(int32(binary.BigEndian.Uint32(batches[23:])))
		batches = batches[n:]
	}
	if last < 0 {
		t.Fatal("no batch")
	}
	return last
}
