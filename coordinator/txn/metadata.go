package txn

import (
	"math"
	"slices"
	"strings"
)

// State is a transaction's state, Kafka's TransactionState. Its String is
// the name ListTransactions and DescribeTransactions answer with.
type State int8

const (
	Empty State = iota
	Ongoing
	PrepareCommit
	PrepareAbort
	CompleteCommit
	CompleteAbort
	// Dead: the transactional id is being removed (expiration); never
	// stored, never listed.
	Dead
	// PrepareEpochFence: an ongoing transaction is being aborted by the
	// coordinator (a new producer's InitProducerId, a timeout). samsa goes
	// from Ongoing straight to PrepareAbort with the fencing epoch, as
	// Kafka does in the log; the state exists for filters and names.
	PrepareEpochFence
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

func (s State) String() string {
	if int(s) < len(stateNames) && s >= 0 {
		return stateNames[s]
	}
	return "Unknown"
}

// ParseState is the state of a name (ListTransactions' state filters).
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// complete reports whether no transaction is in flight: a new one may
// start, the id may expire.
func (s State) complete() bool { return s == Empty || s == CompleteCommit || s == CompleteAbort }

// TransactionVersion is the client's transaction protocol (Kafka's
// TransactionVersion feature as the client uses it): 0 and 1 keep one
// producer epoch across transactions; 2 (KIP-890 part 2: EndTxn v5+,
// Produce v12+ adding partitions implicitly) bumps the epoch at every
// transaction's end.
type TransactionVersion int16

const (
	TV0 TransactionVersion = 0
	TV1 TransactionVersion = 1
	TV2 TransactionVersion = 2
)

// SupportsEpochBump reports whether the version bumps the epoch at every
// EndTxn.
func (v TransactionVersion) SupportsEpochBump() bool { return v >= TV2 }

// NoProducerID and NoProducerEpoch are Kafka's RecordBatch.NO_PRODUCER_ID
// and NO_PRODUCER_EPOCH.
const (
	NoProducerID    int64 = -1
	NoProducerEpoch int16 = -1
)

// epochExhausted is Kafka's TransactionMetadata.isEpochExhausted: the
// last epoch a producer may be given is MaxInt16-1, so that the
// coordinator can still fence it with MaxInt16.
func epochExhausted(e int16) bool { return e >= math.MaxInt16-1 }

// TopicPartition names one partition of a transaction.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func compareTP(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// Metadata is one transactional id's state, Kafka's TransactionMetadata,
// as DescribeTransaction returns it (a copy).
type Metadata struct {
	TransactionalID string
	ProducerID      int64
	// PrevProducerID is the producer id before the last rotation (epoch
	// exhaustion), so that a retry with the old id is recognised;
	// NextProducerID is the id a TV2 EndTxn at an exhausted epoch
	// rotates to once the transaction completes. NoProducerID when none.
	PrevProducerID    int64
	NextProducerID    int64
	ProducerEpoch     int16
	LastProducerEpoch int16 // the epoch before the last bump (KIP-360 retries)
	TxnTimeoutMs      int32
	State             State
	Partitions        []TopicPartition // sorted; the ongoing (or preparing) transaction's
	// TxnStartTimestamp is when the current transaction started (its first
	// partition), -1 when none; TxnLastUpdateTimestamp the last change
	// (ms since the epoch).
	TxnStartTimestamp        int64
	TxnLastUpdateTimestamp   int64
	ClientTransactionVersion TransactionVersion
	// CoordinatorEpoch is the coordinator tenure (the __transaction_state
	// partition's leader epoch) that last wrote the state.
	CoordinatorEpoch int32
}

// meta is the coordinator's immutable value of a transaction's state: a
// transition builds a new one (next), which replaces the old once etcd
// holds it. parts is shared between values that do not change it.
type meta struct {
	producerID, prevProducerID, nextProducerID int64
	producerEpoch, lastProducerEpoch           int16
	timeoutMs                                  int32
	state                                      State
	parts                                      map[TopicPartition]struct{}
	startMs, lastUpdateMs                      int64
	tv                                         TransactionVersion
	coordinatorEpoch                           int32
}

// next copies m for a transition.
func (m *meta) next() *meta {
	n := *m
	return &n
}

func (m *meta) sortedParts() []TopicPartition {
	out := make([]TopicPartition, 0, len(m.parts))
	for tp := range m.parts {
		out = append(out, tp)
	}
	slices.SortFunc(out, compareTP)
	return out
}

func (m *meta) hasAll(tps []TopicPartition) bool {
	for _, tp := range tps {
		if _, ok := m.parts[tp]; !ok {
			return false
		}
	}
	return true
}

func (m *meta) export(id string) Metadata {
	return Metadata{
		TransactionalID: id, ProducerID: m.producerID, PrevProducerID: m.prevProducerID,
		NextProducerID: m.nextProducerID, ProducerEpoch: m.producerEpoch, LastProducerEpoch: m.lastProducerEpoch,
		TxnTimeoutMs: m.timeoutMs, State: m.state, Partitions: m.sortedParts(),
		TxnStartTimestamp: m.startMs, TxnLastUpdateTimestamp: m.lastUpdateMs,
		ClientTransactionVersion: m.tv, CoordinatorEpoch: m.coordinatorEpoch,
	}
}

// record is meta's JSON in etcd (transactions/<id>). Topics is absent when
// the partition set is chunked (Chunks).
type record struct {
	TransactionalID   string             `json:"transactional_id"`
	ProducerID        int64              `json:"producer_id"`
	PrevProducerID    int64              `json:"prev_producer_id"`
	NextProducerID    int64              `json:"next_producer_id"`
	ProducerEpoch     int16              `json:"producer_epoch"`
	LastProducerEpoch int16              `json:"last_producer_epoch"`
	TimeoutMs         int32              `json:"txn_timeout_ms"`
	State             string             `json:"state"`
	Topics            map[string][]int32 `json:"topics,omitempty"`
	Chunks            *chunkRef          `json:"chunks,omitempty"`
	StartMs           int64              `json:"txn_start_timestamp"`
	LastUpdateMs      int64              `json:"txn_last_update_timestamp"`
	TV                int16              `json:"client_transaction_version"`
	CoordinatorEpoch  int32              `json:"coordinator_epoch"`
}

func (m *meta) record(id string) record {
	r := record{
		TransactionalID: id, ProducerID: m.producerID, PrevProducerID: m.prevProducerID, NextProducerID: m.nextProducerID,
		ProducerEpoch: m.producerEpoch, LastProducerEpoch: m.lastProducerEpoch, TimeoutMs: m.timeoutMs,
		State: m.state.String(), StartMs: m.startMs, LastUpdateMs: m.lastUpdateMs, TV: int16(m.tv),
		CoordinatorEpoch: m.coordinatorEpoch,
	}
	r.Topics = topicsOf(m.parts)
	return r
}

func topicsOf(parts map[TopicPartition]struct{}) map[string][]int32 {
	if len(parts) == 0 {
		return nil
	}
	out := make(map[string][]int32)
	for tp := range parts {
		out[tp.Topic] = append(out[tp.Topic], tp.Partition)
	}
	for _, ps := range out {
		slices.Sort(ps)
	}
	return out
}

func partsOf(topics map[string][]int32) map[TopicPartition]struct{} {
	out := make(map[TopicPartition]struct{})
	for t, ps := range topics {
		for _, p := range ps {
			out[TopicPartition{t, p}] = struct{}{}
		}
	}
	return out
}

// meta decodes r (its topics already assembled from chunks); false for a
// state samsa does not know.
func (r *record) meta() (*meta, bool) {
	st, ok := ParseState(r.State)
	if !ok || st == Dead || st == PrepareEpochFence {
		return nil, false
	}
	return &meta{
		producerID: r.ProducerID, prevProducerID: r.PrevProducerID, nextProducerID: r.NextProducerID,
		producerEpoch: r.ProducerEpoch, lastProducerEpoch: r.LastProducerEpoch, timeoutMs: r.TimeoutMs,
		state: st, parts: partsOf(r.Topics), startMs: r.StartMs, lastUpdateMs: r.LastUpdateMs,
		tv: TransactionVersion(r.TV), coordinatorEpoch: r.CoordinatorEpoch,
	}, true
}
