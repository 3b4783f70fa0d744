package compat

// Load for the cluster scenarios: an idempotent acks=all producer writing
// continuously, a consumer group reading throughout, a raw Produce to one
// broker, and a reader of a replica's segment files.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// loadProducer produces keyed records continuously (idempotent, acks=all)
// at a bounded rate and up to a bounded count, and keeps every record with
// its ack.
type loadProducer struct {
	t     testing.TB
	cl    *kgo.Client
	topic string

	ctx    context.Context // bounds every Produce and the final Flush
	cancel context.CancelFunc
	stop   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	records []*ackedRecord // guarded by mu; in produce order
	acked   int            // guarded by mu
	errs    []error        // guarded by mu; every error a promise got
}

const (
	// loadProducerMaxRun bounds a load producer's whole life.
	loadProducerMaxRun = 3 * time.Minute
	// loadFlushTimeout bounds Stop's wait for the records in flight.
	loadFlushTimeout = 45 * time.Second
	// loadMaxBuffered bounds the records in flight; the producer waits
	// (instead of blocking in Produce, where Stop could not reach it)
	// while that many are unacknowledged.
	loadMaxBuffered = 5000
)

// startLoadProducer produces up to limit records to topic at about rate
// records per second through the cluster's client links, until Stop.
func startLoadProducer(t testing.TB, bootstrap []string, topic string, limit, rate int, seed int64) *loadProducer {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(2*time.Millisecond),
		kgo.MetadataMinAge(200*time.Millisecond),
		kgo.MaxBufferedRecords(loadMaxBuffered),
		kgo.DialTimeout(2*time.Second),
	)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadProducerMaxRun)
	p := &loadProducer{t: t, cl: cl, topic: topic, ctx: ctx, cancel: cancel, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() {
		cancel()
		p.halt()
		cl.Close()
	})
	go p.run(limit, rate, seed)
	return p
}

func (p *loadProducer) run(limit, rate int, seed int64) {
	defer close(p.done)
	rng := rand.New(rand.NewSource(seed))
	const tick = 10 * time.Millisecond
	perTick := max(1, rate*int(tick)/int(time.Second))
	next := time.Now()
	for i := 0; i < limit; i++ {
		if i%perTick == 0 {
			next = next.Add(tick)
			select {
			case <-p.stop:
				return
			case <-time.After(time.Until(next)):
			}
		}
		for p.cl.BufferedProduceRecords() >= loadMaxBuffered-1 {
			select {
			case <-p.stop:
				return
			case <-time.After(tick):
			}
			next = time.Now()
		}
		value := make([]byte, 40+rng.Intn(200))
		rng.Read(value)
		copy(value, fmt.Sprintf("seq=%08d|", i))
		ar := &ackedRecord{
			seq:       i,
			key:       []byte(fmt.Sprintf("key-%d", rng.Intn(64))),
			value:     value,
			headers:   []kgo.RecordHeader{{Key: "seq", Value: []byte(fmt.Sprint(i))}},
			tsMillis:  time.Now().UnixMilli(),
			partition: -1,
			offset:    -1,
		}
		p.mu.Lock()
		p.records = append(p.records, ar)
		p.mu.Unlock()
		r := &kgo.Record{Key: ar.key, Value: ar.value, Headers: ar.headers, Timestamp: time.UnixMilli(ar.tsMillis)}
		p.cl.Produce(p.ctx, r, func(r *kgo.Record, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				ar.err = err
				p.errs = append(p.errs, err)
				return
			}
			ar.partition, ar.offset = r.Partition, r.Offset
			p.acked++
		})
	}
}

// Acked is how many records were acknowledged so far.
func (p *loadProducer) Acked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acked
}

// Errors returns the errors the producer's callbacks got so far.
func (p *loadProducer) Errors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.errs...)
}

// WaitProgress waits until at least n more records than now are acked:
// writes go through.
func (p *loadProducer) WaitProgress(n int, timeout time.Duration, what string) {
	p.t.Helper()
	from := p.Acked()
	waitFor(p.t, timeout, fmt.Sprintf("%d more acknowledged records (%s)", n, what), func() (bool, string) {
		got := p.Acked() - from
		return got >= n, fmt.Sprintf("%d acked since; producer errors so far: %v", got, firstErrors(p.Errors(), 3))
	})
}

func (p *loadProducer) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// Stop stops producing, waits for every record in flight (bounded by the
// producer's context) and returns the records in produce order. It fails
// the test unless every record was acknowledged.
func (p *loadProducer) Stop() []*ackedRecord {
	p.t.Helper()
	p.halt()
	ctx, cancel := context.WithTimeout(p.ctx, loadFlushTimeout)
	defer cancel()
	if err := p.cl.Flush(ctx); err != nil {
		p.t.Fatalf("producer: %d of %d records acknowledged %v after the last was produced (%v); errors: %v",
			p.Acked(), len(p.records), loadFlushTimeout, err, firstErrors(p.Errors(), 3))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) > 0 {
		p.t.Fatalf("%d of %d records failed to produce; first errors: %v", len(p.errs), len(p.records), firstErrors(p.errs, 5))
	}
	if p.acked != len(p.records) {
		p.t.Fatalf("%d of %d records acknowledged", p.acked, len(p.records))
	}
	p.t.Logf("producer: %d records, all acknowledged", len(p.records))
	return append([]*ackedRecord(nil), p.records...)
}

func firstErrors(errs []error, n int) []error {
	if len(errs) > n {
		return errs[:n]
	}
	return errs
}

// groupConsumer is one member of a consumer group reading a topic
// throughout a scenario (autocommit), keeping what it read.
type groupConsumer struct {
	t    testing.TB
	cl   *kgo.Client
	stop context.CancelFunc
	done chan struct{}

	mu   sync.Mutex
	seen map[string]int // guarded by mu; value prefix "seq=N|" -> times read
	errs []error        // guarded by mu
}

func startGroupConsumer(t testing.TB, bootstrap []string, group, topic string) *groupConsumer {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.AutoCommitInterval(500*time.Millisecond),
		kgo.MetadataMinAge(200*time.Millisecond),
		kgo.DialTimeout(2*time.Second),
	)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadProducerMaxRun)
	g := &groupConsumer{t: t, cl: cl, stop: cancel, done: make(chan struct{}), seen: make(map[string]int)}
	go func() {
		defer close(g.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			g.mu.Lock()
			fs.EachError(func(tp string, p int32, err error) {
				g.errs = append(g.errs, fmt.Errorf("%s/%d: %w", tp, p, err))
			})
			fs.EachRecord(func(r *kgo.Record) {
				if i := bytes.IndexByte(r.Value, '|'); i > 0 {
					g.seen[string(r.Value[:i])]++
				}
			})
			g.mu.Unlock()
		}
	}()
	t.Cleanup(g.Close)
	return g
}

// Close stops the member (it leaves the group).
func (g *groupConsumer) Close() {
	g.stop()
	<-g.done
	g.cl.Close()
}

// Errors returns the fetch errors the member got.
func (g *groupConsumer) Errors() []error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]error(nil), g.errs...)
}

// WaitAll waits until the member has read every record of recs.
func (g *groupConsumer) WaitAll(recs []*ackedRecord, timeout time.Duration) {
	g.t.Helper()
	waitFor(g.t, timeout, "the consumer group to read every acknowledged record", func() (bool, string) {
		g.mu.Lock()
		defer g.mu.Unlock()
		missing := 0
		first := ""
		for _, ar := range recs {
			if g.seen[fmt.Sprintf("seq=%08d", ar.seq)] == 0 {
				if missing == 0 {
					first = fmt.Sprintf("#%d at %d/%d", ar.seq, ar.partition, ar.offset)
				}
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d not read yet (first: %s); fetch errors: %v", missing, len(recs), first, firstErrors(g.errs, 3))
	})
}

// ---- raw Produce ---------------------------------------------------------------

// rawProduce sends one Produce of one uncompressed, non-idempotent record
// with value to a partition on broker b (directly, not through its client
// link), and returns the partition's error (nil on success) and base offset.
// A transport error (no answer within timeout plus a margin) is returned as
// transportErr.
func rawProduce(b *ClusterBroker, topic string, partition int32, acks int16, timeout time.Duration, value []byte) (partErr error, baseOffset int64, transportErr error) {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = int32(timeout.Milliseconds())
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	// Produce v13 names topics by id.
	m, err := b.Metadata([]string{topic})
	if err != nil {
		return nil, 0, err
	}
	for _, mt := range m.Topics {
		rt.TopicID = mt.TopicID
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = encodeBatch(value, time.Now())
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	cl, err := b.adminClient()
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	resp, err := cl.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	for _, t := range resp.(*kmsg.ProduceResponse).Topics {
		for _, p := range t.Partitions {
			return kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, nil
		}
	}
	return nil, 0, fmt.Errorf("produce response without the partition")
}

// encodeBatch is a v2 RecordBatch of one record (no key, no headers), no
// producer id, uncompressed.
func encodeBatch(value []byte, ts time.Time) []byte {
	var rec []byte
	rec = append(rec, 0)               // attributes
	rec = binary.AppendVarint(rec, 0)  // timestamp delta
	rec = binary.AppendVarint(rec, 0)  // offset delta
	rec = binary.AppendVarint(rec, -1) // key: null
	rec = binary.AppendVarint(rec, int64(len(value)))
	rec = append(rec, value...)
	rec = binary.AppendVarint(rec, 0) // headers
	records := binary.AppendVarint(nil, int64(len(rec)))
	records = append(records, rec...)

	ms := ts.UnixMilli()
	var body []byte                                        // from attributes on: what the CRC covers
	body = binary.BigEndian.AppendUint16(body, 0)          // attributes
	body = binary.BigEndian.AppendUint32(body, 0)          // last offset delta
	body = binary.BigEndian.AppendUint64(body, uint64(ms)) // first timestamp
	body = binary.BigEndian.AppendUint64(body, uint64(ms)) // max timestamp
	body = binary.BigEndian.AppendUint64(body, ^uint64(0)) // producer id -1
	body = binary.BigEndian.AppendUint16(body, ^uint16(0)) // producer epoch -1
	body = binary.BigEndian.AppendUint32(body, ^uint32(0)) // base sequence -1
	body = binary.BigEndian.AppendUint32(body, 1)          // records
	body = append(body, records...)

	var b []byte
	b = binary.BigEndian.AppendUint64(b, 0)                       // base offset
	b = binary.BigEndian.AppendUint32(b, uint32(4+1+4+len(body))) // batch length
	b = binary.BigEndian.AppendUint32(b, ^uint32(0))              // partition leader epoch -1
	b = append(b, 2)                                              // magic
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	return append(b, body...)
}

// ---- a replica's log on disk -------------------------------------------------

// diskBatch is one record batch read from a segment file.
type diskBatch struct {
	BaseOffset int64
	LastOffset int64
	Epoch      int32 // partition leader epoch
	Raw        []byte
}

// readReplicaLog reads every batch of topic/partition in a broker's data
// dir, in offset order, stopping at a torn tail (a batch not fully written).
func readReplicaLog(dataDir, topic string, partition int32) ([]diskBatch, error) {
	dir := filepath.Join(dataDir, fmt.Sprintf("%s-%d", topic, partition))
	segs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, err
		}
	}
	sort.Strings(segs) // names are zero-padded base offsets
	var out []diskBatch
	for _, seg := range segs {
		data, err := os.ReadFile(seg)
		if err != nil {
			return nil, err
		}
		for len(data) >= 12 {
			n := int(binary.BigEndian.Uint32(data[8:12]))
			if n < 49 || len(data) < 12+n {
				break
			}
			raw := data[:12+n]
			out = append(out, diskBatch{
				BaseOffset: int64(binary.BigEndian.Uint64(raw[0:8])),
				LastOffset: int64(binary.BigEndian.Uint64(raw[0:8])) + int64(binary.BigEndian.Uint32(raw[23:27])),
				Epoch:      int32(binary.BigEndian.Uint32(raw[12:16])),
				Raw:        raw,
			})
			data = data[12+n:]
		}
	}
	return out, nil
}

// compareReplicaLogs reports how two replicas' batch lists differ ("" when
// they hold the same batches, byte for byte).
func compareReplicaLogs(a, b []diskBatch) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].BaseOffset != b[i].BaseOffset || !bytes.Equal(a[i].Raw, b[i].Raw) {
			return fmt.Sprintf("batch %d differs: offsets %d-%d epoch %d vs %d-%d epoch %d", i,
				a[i].BaseOffset, a[i].LastOffset, a[i].Epoch, b[i].BaseOffset, b[i].LastOffset, b[i].Epoch)
		}
	}
	if len(a) != len(b) {
		end := func(bs []diskBatch) int64 {
			if len(bs) == 0 {
				return 0
			}
			return bs[len(bs)-1].LastOffset + 1
		}
		return fmt.Sprintf("%d batches (end offset %d) vs %d batches (end offset %d)", len(a), end(a), len(b), end(b))
	}
	return ""
}

// logContains reports whether any batch holds marker (uncompressed data).
func logContains(bs []diskBatch, marker []byte) bool {
	for _, b := range bs {
		if bytes.Contains(b.Raw, marker) {
			return true
		}
	}
	return false
}

func errorsString(errs []error) string {
	var s []string
	for _, e := range errs {
		s = append(s, e.Error())
	}
	return strings.Join(s, "; ")
}
