package admin

// The message browser and the test producer.
//
// A browse reads at most maxBrowse records to show, and when it searches
// (a substring of the key or value) it scans at most maxScan records per
// partition from where it starts: bounded work for every request, whatever
// the topic holds.

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	maxBrowse     = 500
	maxScan       = 10000
	maxShownValue = 256 << 10
	browseWait    = 5 * time.Second
)

type headerJSON struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

type recordJSON struct {
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Timestamp int64        `json:"timestamp"` // unix ms
	Key       []byte       `json:"key"`       // base64 in JSON; null when absent
	Value     []byte       `json:"value"`
	ValueSize int          `json:"valueSize"`
	Truncated bool         `json:"truncated,omitempty"`
	Headers   []headerJSON `json:"headers"`
}

// browseRange is what one partition's read covers: [from, to).
type browseRange struct{ from, to int64 }

func (s *Server) apiBrowse(a *attached, w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	q := r.URL.Query()
	tm := a.b.Snapshot().Topic(topic)
	if tm == nil {
		writeError(w, http.StatusNotFound, "UNKNOWN_TOPIC_OR_PARTITION: topic "+topic+" does not exist")
		return
	}
	limit := maxBrowse / 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "limit must be a positive number")
			return
		}
		limit = min(n, maxBrowse)
	}
	var parts []int32
	switch v := q.Get("partition"); v {
	case "", "all", "-1":
		for i := range tm.Partitions {
			parts = append(parts, int32(i))
		}
	default:
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p >= len(tm.Partitions) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("topic %s has no partition %q", topic, v))
			return
		}
		parts = []int32{int32(p)}
	}
	search := []byte(q.Get("search"))
	window := int64(limit)
	if len(search) > 0 {
		window = maxScan
	}

	ctx, cancel := apiCtx(r)
	defer cancel()
	start, end, err := offsetsRange(ctx, a.adm, topic)
	if err != nil {
		kafkaError(w, err, "list offsets")
		return
	}
	var atTime kadm.ListedOffsets
	from := q.Get("from")
	if from == "" {
		from = "end"
	}
	switch from {
	case "end", "start":
	case "offset":
		if _, err := strconv.ParseInt(q.Get("offset"), 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, "from=offset needs offset=N")
			return
		}
	case "timestamp":
		ms, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "from=timestamp needs timestamp=<unix ms>")
			return
		}
		if atTime, err = a.adm.ListOffsetsAfterMilli(ctx, ms, topic); err != nil {
			kafkaError(w, err, "list offsets by time")
			return
		}
	default:
		writeError(w, http.StatusBadRequest, "from must be end, start, offset or timestamp")
		return
	}
	ranges := map[int32]browseRange{}
	for _, p := range parts {
		so, ok1 := start.Lookup(topic, p)
		eo, ok2 := end.Lookup(topic, p)
		if !ok1 || !ok2 || so.Err != nil || eo.Err != nil {
			continue
		}
		lo, hi := so.Offset, eo.Offset
		var f int64
		switch from {
		case "end":
			f = max(lo, hi-window)
		case "start":
			f = lo
		case "offset":
			f, _ = strconv.ParseInt(q.Get("offset"), 10, 64)
			f = min(max(f, lo), hi)
		case "timestamp":
			f = hi
			if t, ok := atTime.Lookup(topic, p); ok && t.Err == nil && t.Offset >= 0 {
				f = min(max(t.Offset, lo), hi)
			}
		}
		if to := min(hi, f+window); to > f {
			ranges[p] = browseRange{from: f, to: to}
		}
	}
	recs, err := s.readRanges(ctx, a, topic, ranges)
	if err != nil {
		kafkaError(w, err, "fetch")
		return
	}
	if len(search) > 0 {
		kept := recs[:0]
		for _, rec := range recs {
			if bytes.Contains(rec.Key, search) || bytes.Contains(rec.Value, search) {
				kept = append(kept, rec)
			}
		}
		recs = kept
	}
	// The newest first when reading the end, else in log order; by
	// timestamp across partitions.
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].Timestamp.Equal(recs[j].Timestamp) {
			return recs[i].Timestamp.Before(recs[j].Timestamp)
		}
		if recs[i].Partition != recs[j].Partition {
			return recs[i].Partition < recs[j].Partition
		}
		return recs[i].Offset < recs[j].Offset
	})
	if from == "end" {
		if len(recs) > limit {
			recs = recs[len(recs)-limit:]
		}
		for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
			recs[i], recs[j] = recs[j], recs[i]
		}
	} else if len(recs) > limit {
		recs = recs[:limit]
	}
	out := make([]recordJSON, 0, len(recs))
	for _, rec := range recs {
		rj := recordJSON{Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp.UnixMilli(),
			Key: rec.Key, Value: rec.Value, ValueSize: len(rec.Value), Headers: []headerJSON{}}
		if len(rj.Value) > maxShownValue {
			rj.Value, rj.Truncated = rj.Value[:maxShownValue], true
		}
		for _, h := range rec.Headers {
			rj.Headers = append(rj.Headers, headerJSON{Key: h.Key, Value: h.Value})
		}
		out = append(out, rj)
	}
	scanned := int64(0)
	for _, rg := range ranges {
		scanned += rg.to - rg.from
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out, "scanned": scanned})
}

// readRanges consumes each partition's range with a client of its own and
// returns the records (ends early at browseWait).
func (s *Server) readRanges(ctx context.Context, a *attached, topic string, ranges map[int32]browseRange) ([]*kgo.Record, error) {
	if len(ranges) == 0 {
		return nil, nil
	}
	offs := map[int32]kgo.Offset{}
	for p, rg := range ranges {
		offs[p] = kgo.NewOffset().At(rg.from)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.b.KafkaAddr()), kgo.ClientID("samsa-console"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchMaxPartitionBytes(4<<20))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, browseWait)
	defer cancel()
	pending := len(ranges)
	done := map[int32]bool{}
	var out []*kgo.Record
	for pending > 0 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if ctx.Err() == nil && ferr == nil {
				ferr = err
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(rec *kgo.Record) {
			rg := ranges[rec.Partition]
			if done[rec.Partition] || rec.Offset >= rg.to {
				if !done[rec.Partition] {
					done[rec.Partition] = true
					pending--
				}
				return
			}
			out = append(out, rec)
			if rec.Offset+1 >= rg.to {
				done[rec.Partition] = true
				pending--
			}
		})
	}
	return out, nil
}

func (s *Server) apiProduce(a *attached, w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	var req struct {
		Partition *int32            `json:"partition"` // nil or -1: by key (or any without one)
		Key       *string           `json:"key"`
		Value     string            `json:"value"`
		Headers   map[string]string `json:"headers"`
	}
	if !readBody(w, r, &req) {
		return
	}
	rec := &kgo.Record{Topic: topic, Value: []byte(req.Value), Partition: -1}
	if req.Key != nil {
		rec.Key = []byte(*req.Key)
	}
	if req.Partition != nil {
		rec.Partition = *req.Partition
	}
	for k, v := range req.Headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	sort.Slice(rec.Headers, func(i, j int) bool { return rec.Headers[i].Key < rec.Headers[j].Key })
	tm := a.b.Snapshot().Topic(topic)
	if tm == nil {
		writeError(w, http.StatusNotFound, "UNKNOWN_TOPIC_OR_PARTITION: topic "+topic+" does not exist")
		return
	}
	if rec.Partition >= int32(len(tm.Partitions)) || rec.Partition < -1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("topic %s has no partition %d", topic, rec.Partition))
		return
	}
	ctx, cancel := apiCtx(r)
	defer cancel()
	if err := a.prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
		kafkaError(w, err, "produce")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"partition": rec.Partition, "offset": rec.Offset,
		"timestamp": rec.Timestamp.UnixMilli()})
}

// consolePartitioner sends a record to the partition it names, else by
// key as Kafka's default partitioner does, else to a random partition.
func consolePartitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		keyed := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if r.Partition >= 0 && int(r.Partition) < n {
				return int(r.Partition)
			}
			if r.Key != nil {
				return keyed.Partition(r, n)
			}
			return rand.IntN(n)
		}
	})
}
