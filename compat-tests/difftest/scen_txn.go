package difftest

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transaction scenarios: the transaction coordinator's answers
// (InitProducerID with a transactional id, AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit, EndTxn, DescribeTransactions,
// ListTransactions) and what transactions leave in the log (markers, the
// last stable offset, aborted transactions in read_committed fetches).

// txnProducer is one side's producer id and epoch for a transactional id.
type txnProducer struct {
	id    int64
	epoch int16
}

// txnInit allocates a producer id for txnID on both brokers (a set-up
// step, retried while a coordinator settles or a previous transaction of
// the id completes) and returns each side's id and epoch.
func (r *Run) txnInit(txnID string, timeoutMs int32) [2]txnProducer {
	resps := r.DoRetryCodes(func(s *Side) kmsg.Request {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = r.Max(kmsg.InitProducerID)
		req.TransactionalID = kmsg.StringPtr(txnID)
		req.TransactionTimeoutMillis = timeoutMs
		return req
	}, func(resp kmsg.Response) int16 { return resp.(*kmsg.InitProducerIDResponse).ErrorCode },
		kerr.ConcurrentTransactions.Code)
	var out [2]txnProducer
	for i, resp := range resps {
		ip := resp.(*kmsg.InitProducerIDResponse)
		if ip.ErrorCode != 0 {
			r.Fatalf("InitProducerID %s on %s: error %d", txnID, r.Sides[i].Name, ip.ErrorCode)
		}
		out[i] = txnProducer{ip.ProducerID, ip.ProducerEpoch}
	}
	return out
}

// DoRetryCodes is DoRetry that also resends on the given error codes.
func (r *Run) DoRetryCodes(build Builder, errOf func(kmsg.Response) int16, codes ...int16) [2]kmsg.Response {
	var out [2]kmsg.Response
	deadline := time.Now().Add(20 * time.Second)
	for i, s := range r.Sides {
		for {
			a := s.request("main", build(s))
			if a.Err != nil {
				r.Fatalf("set-up on %s: %v", s.Name, a.Err)
			}
			code := errOf(a.Resp)
			again := retriable(code)
			for _, c := range codes {
				again = again || code == c
			}
			if again && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			s.Norm.LearnTopicIDs(a.Resp)
			out[i] = a.Resp
			break
		}
	}
	return out
}

// addPartitionsReq is a client's AddPartitionsToTxn (v0-v3) or, from v4,
// a broker's batched one with one transaction.
func addPartitionsReq(v int16, txnID string, p txnProducer, verifyOnly bool, topic string, partitions ...int32) *kmsg.AddPartitionsToTxnRequest {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = v
	if v < 4 {
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = txnID, p.id, p.epoch
		t := kmsg.NewAddPartitionsToTxnRequestTopic()
		t.Topic, t.Partitions = topic, partitions
		req.Topics = append(req.Topics, t)
		return req
	}
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = txnID, p.id, p.epoch, verifyOnly
	t := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	t.Topic, t.Partitions = topic, partitions
	tx.Topics = append(tx.Topics, t)
	req.Transactions = append(req.Transactions, tx)
	return req
}

func endTxnReq(v int16, txnID string, p txnProducer, commit bool) *kmsg.EndTxnRequest {
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = v
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = txnID, p.id, p.epoch, commit
	return req
}

// txnBatch is a transactional batch of n records of producer p.
func txnBatch(p txnProducer, seq int32, prefix string, n int) []byte {
	return Batch(BatchOpts{ProducerID: p.id, ProducerEpoch: p.epoch, BaseSequence: seq, Transactional: true}, Values(prefix, n)...)
}

// txnProduceReq is a transactional Produce of one batch.
func txnProduceReq(s *Side, v int16, txnID, topic string, partition int32, batch []byte) *kmsg.ProduceRequest {
	req := produceReq(s, v, -1, topic, partition, batch)
	req.TransactionID = kmsg.StringPtr(txnID)
	return req
}

// txnAddAndProduce adds topic/partition to the transaction (Produce v12+
// adds it itself, transaction version 2; older ones go through
// AddPartitionsToTxn v3) and produces n records there: set-up, not diffed.
func (r *Run) txnAddAndProduce(txnID string, ps [2]txnProducer, topic string, partition int32, seq int32, prefix string, n int, tv2 bool) {
	pv := r.Max(kmsg.Produce)
	if !tv2 {
		pv = min(pv, 11)
		resps := r.DoRetryCodes(func(s *Side) kmsg.Request {
			return addPartitionsReq(3, txnID, ps[s.I], false, topic, partition)
		}, func(resp kmsg.Response) int16 {
			for _, t := range resp.(*kmsg.AddPartitionsToTxnResponse).Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 {
						return p.ErrorCode
					}
				}
			}
			return 0
		}, kerr.ConcurrentTransactions.Code)
		for i, resp := range resps {
			for _, t := range resp.(*kmsg.AddPartitionsToTxnResponse).Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 {
						r.Fatalf("AddPartitionsToTxn on %s: error %d", r.Sides[i].Name, p.ErrorCode)
					}
				}
			}
		}
	}
	resps := r.DoRetryCodes(func(s *Side) kmsg.Request {
		return txnProduceReq(s, pv, txnID, topic, partition, txnBatch(ps[s.I], seq, prefix, n))
	}, produceErr, kerr.ConcurrentTransactions.Code)
	for i, resp := range resps {
		if code := produceErr(resp); code != 0 {
			r.Fatalf("transactional Produce on %s: error %d", r.Sides[i].Name, code)
		}
	}
}

// txnEnd ends the transaction (set-up) and waits until both coordinators
// have written its markers.
func (r *Run) txnEnd(txnID string, ps [2]txnProducer, commit, tv2 bool) [2]txnProducer {
	v := r.Max(kmsg.EndTxn)
	if !tv2 {
		v = min(v, 4)
	}
	resps := r.Do(func(s *Side) kmsg.Request { return endTxnReq(v, txnID, ps[s.I], commit) })
	out := ps
	for i, resp := range resps {
		e := resp.(*kmsg.EndTxnResponse)
		if e.ErrorCode != 0 {
			r.Fatalf("EndTxn on %s: error %d", r.Sides[i].Name, e.ErrorCode)
		}
		if v >= 5 {
			out[i] = txnProducer{e.ProducerID, e.ProducerEpoch}
		}
	}
	r.waitTxnState(txnID, map[bool]string{true: "CompleteCommit", false: "CompleteAbort"}[commit])
	return out
}

// waitTxnState waits (up to 20 s) until both brokers describe txnID in
// state.
func (r *Run) waitTxnState(txnID, state string) {
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range r.Sides {
		for {
			req := kmsg.NewPtrDescribeTransactionsRequest()
			req.TransactionalIDs = []string{txnID}
			a := s.request("main", req)
			if a.Err != nil {
				r.Fatalf("DescribeTransactions on %s: %v", s.Name, a.Err)
			}
			d := a.Resp.(*kmsg.DescribeTransactionsResponse)
			if len(d.TransactionStates) == 1 && d.TransactionStates[0].State == state {
				break
			}
			if time.Now().After(deadline) {
				r.Fatalf("%s on %s: not %s after 20 s: %+v", txnID, s.Name, state, d.TransactionStates)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func describeTxnReq(v int16, ids ...string) *kmsg.DescribeTransactionsRequest {
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.Version = v
	req.TransactionalIDs = ids
	return req
}

// onlyTxnIDs keeps the ListTransactions entries whose id has prefix.
func onlyTxnIDs(prefix string) func(kmsg.Response) {
	return func(resp kmsg.Response) {
		l := resp.(*kmsg.ListTransactionsResponse)
		kept := l.TransactionStates[:0]
		for _, t := range l.TransactionStates {
			if len(t.TransactionalID) >= len(prefix) && t.TransactionalID[:len(prefix)] == prefix {
				kept = append(kept, t)
			}
		}
		l.TransactionStates = kept
	}
}

func txnScenarios() []Scenario {
	return []Scenario{
		{Name: "txn-initproducerid", API: kmsg.InitProducerID, Run: func(r *Run) {
			id := r.name("tx")
			init := func(timeout int32, p *[2]txnProducer) func(*Side) kmsg.Request {
				return func(s *Side) kmsg.Request {
					req := kmsg.NewPtrInitProducerIDRequest()
					req.Version = r.V
					req.TransactionalID = kmsg.StringPtr(id)
					req.TransactionTimeoutMillis = timeout
					if p != nil {
						req.ProducerID, req.ProducerEpoch = p[s.I].id, p[s.I].epoch
					}
					return req
				}
			}
			ps := r.txnInit(id, 60000)
			r.Check("again-bumps-epoch", init(60000, nil))
			if r.V >= 3 {
				ps = r.txnInit(id, 60000)
				// KIP-360: the producer's own id and epoch bump the epoch.
				r.Check("own-epoch", init(60000, &ps))
				stale := ps
				for i := range stale {
					stale[i].epoch -= 2
				}
				r.Check("stale-epoch", init(60000, &stale))
			}
			r.Check("timeout-over-max", init(900_001, nil))
			r.Check("timeout-zero", init(0, nil))
		}},

		{Name: "txn-addpartitions", API: kmsg.AddPartitionsToTxn, Run: func(r *Run) {
			topic := r.name("t")
			r.CreateTopic(topic, 2, nil)
			id := r.name("tx")
			ps := r.txnInit(id, 60000)
			add := func(p [2]txnProducer, verify bool, topic string, parts ...int32) func(*Side) kmsg.Request {
				return func(s *Side) kmsg.Request { return addPartitionsReq(r.V, id, p[s.I], verify, topic, parts...) }
			}
			if r.V >= 4 {
				// A broker verifying a partition the transaction does not
				// hold (KIP-890 part 1).
				r.Check("verify-not-added", add(ps, true, topic, 0))
			}
			r.Check("add", add(ps, false, topic, 0, 1))
			r.Check("add-again", add(ps, false, topic, 0))
			if r.V >= 4 {
				r.Check("verify-added", add(ps, true, topic, 0, 1))
			}
			r.Check("unknown-topic", add(ps, false, r.name("none"), 0))
			r.Check("unknown-partition", add(ps, false, topic, 7))
			stale := ps
			for i := range stale {
				stale[i].epoch--
			}
			r.Check("stale-epoch", add(stale, false, topic, 0))
			wrong := ps
			for i := range wrong {
				wrong[i].id += 1000
			}
			r.Check("wrong-producer-id", add(wrong, false, topic, 0))
			r.Check("unknown-transactional-id", func(s *Side) kmsg.Request {
				return addPartitionsReq(r.V, r.name("none"), ps[s.I], false, topic, 0)
			})
			r.txnEnd(id, ps, false, false)
		}},

		{Name: "txn-endtxn", API: kmsg.EndTxn, Run: func(r *Run) {
			topic := r.name("t")
			r.CreateTopic(topic, 2, nil)
			id := r.name("tx")
			tv2 := r.V >= 5
			ps := r.txnInit(id, 60000)
			end := func(p [2]txnProducer, commit bool) func(*Side) kmsg.Request {
				return func(s *Side) kmsg.Request { return endTxnReq(r.V, id, p[s.I], commit) }
			}
			if !tv2 {
				// Kafka answers an EndTxn of an empty transaction with
				// success from transaction version 2 only.
				r.Check("commit-empty", end(ps, true))
			}
			r.txnAddAndProduce(id, ps, topic, 0, 0, "c", 2, tv2)
			r.txnAddAndProduce(id, ps, topic, 1, 0, "c", 1, tv2)
			stale := ps
			for i := range stale {
				stale[i].epoch--
			}
			r.Check("stale-epoch", end(stale, true))
			r.Check("unknown-transactional-id", func(s *Side) kmsg.Request {
				return endTxnReq(r.V, r.name("none"), ps[s.I], true)
			})
			ans := r.Check("commit", end(ps, true))
			r.waitTxnState(id, "CompleteCommit")
			r.Check("commit-retried", end(ps, true))
			r.Check("abort-after-commit", end(ps, false))
			if tv2 {
				for i, a := range ans {
					if e, ok := a.Resp.(*kmsg.EndTxnResponse); ok && e.ErrorCode == 0 {
						ps[i] = txnProducer{e.ProducerID, e.ProducerEpoch}
					}
				}
			}
			seq := int32(2)
			if tv2 {
				seq = 0 // the commit bumped the epoch: sequences start again
			}
			r.txnAddAndProduce(id, ps, topic, 0, seq, "a", 2, tv2)
			r.Check("abort", end(ps, false))
			r.waitTxnState(id, "CompleteAbort")
			r.Check("describe-after", func(*Side) kmsg.Request { return describeTxnReq(r.Max(kmsg.DescribeTransactions), id) })
		}},

		{Name: "txn-produce-unadded", API: kmsg.Produce, MinV: 3, Run: func(r *Run) {
			topic := r.name("t")
			r.CreateTopic(topic, 2, nil)
			id := r.name("tx")
			ps := r.txnInit(id, 60000)
			r.txnAddAndProduce(id, ps, topic, 0, 0, "in", 1, false)
			// Partition 1 was never added; before v12 a Produce does not
			// add it (KIP-890 part 1 verification).
			r.Check("unadded-partition", func(s *Side) kmsg.Request {
				return txnProduceReq(s, r.V, id, topic, 1, txnBatch(ps[s.I], 0, "out", 1))
			})
			stale := ps
			for i := range stale {
				stale[i].epoch--
			}
			r.Check("stale-epoch", func(s *Side) kmsg.Request {
				return txnProduceReq(s, r.V, id, topic, 0, txnBatch(stale[s.I], 1, "old", 1))
			})
			r.Check("non-transactional-batch-in-txn", func(s *Side) kmsg.Request {
				b := Batch(BatchOpts{ProducerID: ps[s.I].id, ProducerEpoch: ps[s.I].epoch, BaseSequence: 1}, Values("plain", 1)...)
				return txnProduceReq(s, r.V, id, topic, 0, b)
			})
			r.txnEnd(id, ps, false, false)
		}},

		{Name: "txn-writetxnmarkers", API: kmsg.WriteTxnMarkers, Run: func(r *Run) {
			topic := r.name("t")
			r.CreateTopic(topic, 1, nil)
			id := r.name("tx")
			ps := r.txnInit(id, 60000)
			r.txnAddAndProduce(id, ps, topic, 0, 0, "m", 2, false)
			markers := func(p [2]txnProducer, topic string, partition int32) func(*Side) kmsg.Request {
				return func(s *Side) kmsg.Request {
					req := kmsg.NewPtrWriteTxnMarkersRequest()
					req.Version = r.V
					m := kmsg.NewWriteTxnMarkersRequestMarker()
					m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = p[s.I].id, p[s.I].epoch, false, 0
					if r.V >= 2 {
						m.TransactionVersion = 1
					}
					mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
					mt.Topic, mt.Partitions = topic, []int32{partition}
					m.Topics = append(m.Topics, mt)
					req.Markers = append(req.Markers, m)
					return req
				}
			}
			r.Check("unknown-topic", markers(ps, r.name("none"), 0))
			r.Check("unknown-partition", markers(ps, topic, 5))
			stale := ps
			for i := range stale {
				stale[i].epoch--
			}
			r.Check("stale-epoch", markers(stale, topic, 0))
			// A broker's abort marker for the open transaction closes it
			// on the partition (the coordinator's own comes later).
			r.Check("abort", markers(ps, topic, 0))
			r.Check("read-committed-after-marker", func(s *Side) kmsg.Request {
				req := fetchReq(s, r.Max(kmsg.Fetch), topic, 0, 0)
				req.IsolationLevel = 1
				return req
			})
			r.txnEnd(id, ps, false, false)
		}},

		{Name: "txn-log", API: kmsg.Fetch, MinV: 4, Run: func(r *Run) {
			topic := r.name("t")
			r.CreateTopic(topic, 1, nil)
			id := r.name("tx")
			ps := r.txnInit(id, 60000)
			tv2 := r.Max(kmsg.EndTxn) >= 5
			seq := int32(0)
			produce := func(prefix string, n int) {
				r.txnAddAndProduce(id, ps, topic, 0, seq, prefix, n, tv2)
				seq += int32(n)
			}
			produce("c", 2)
			ps = r.txnEnd(id, ps, true, tv2)
			if tv2 {
				seq = 0 // a new epoch starts its sequences again
			}
			produce("a", 3)
			ps = r.txnEnd(id, ps, false, tv2)
			if tv2 {
				seq = 0
			}
			r.Produce(topic, 0, Batch(NoProducer, Values("plain", 1)...))
			produce("open", 2)
			fetch := func(isolation int8) func(*Side) kmsg.Request {
				return func(s *Side) kmsg.Request {
					req := fetchReq(s, r.V, topic, 0, 0)
					req.IsolationLevel = isolation
					return req
				}
			}
			r.Check("read-uncommitted", fetch(0))
			r.Check("read-committed", fetch(1))
			r.Check("list-offsets-read-committed", func(s *Side) kmsg.Request {
				req := listOffsetsReq(s, r.Max(kmsg.ListOffsets), topic, 0, -1, -1)
				req.IsolationLevel = 1
				return req
			})
			r.Check("describe-producers", func(*Side) kmsg.Request {
				req := kmsg.NewPtrDescribeProducersRequest()
				rt := kmsg.NewDescribeProducersRequestTopic()
				rt.Topic, rt.Partitions = topic, []int32{0}
				req.Topics = append(req.Topics, rt)
				return req
			})
			ps = r.txnEnd(id, ps, true, tv2)
			r.Check("read-committed-after-commit", fetch(1))
		}},

		{Name: "txn-offsets", API: kmsg.TxnOffsetCommit, Run: func(r *Run) {
			writeData(r)
			group := r.name("g")
			id := r.name("tx")
			ps := r.txnInit(id, 60000)
			addOffsets := func(p [2]txnProducer, group string) func(*Side) kmsg.Request {
				return func(s *Side) kmsg.Request {
					req := kmsg.NewPtrAddOffsetsToTxnRequest()
					req.Version = r.Max(kmsg.AddOffsetsToTxn)
					req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = id, p[s.I].id, p[s.I].epoch, group
					return req
				}
			}
			commit := func(p [2]txnProducer, group string, offset int64) func(*Side) kmsg.Request {
				return func(s *Side) kmsg.Request {
					req := kmsg.NewPtrTxnOffsetCommitRequest()
					req.Version = r.V
					req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = id, group, p[s.I].id, p[s.I].epoch
					req.Generation = -1
					rt := kmsg.NewTxnOffsetCommitRequestTopic()
					rt.Topic = dataTopic
					rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch = 0, offset, -1
					rt.Partitions = append(rt.Partitions, rp)
					req.Topics = append(req.Topics, rt)
					return req
				}
			}
			fetchOffsets := func(stable bool) func(*Side) kmsg.Request {
				return func(*Side) kmsg.Request {
					req := kmsg.NewPtrOffsetFetchRequest()
					req.Version = r.Max(kmsg.OffsetFetch)
					req.RequireStable = stable
					g := kmsg.NewOffsetFetchRequestGroup()
					g.Group = group
					req.Groups = append(req.Groups, g)
					return req
				}
			}
			if r.V < 5 || r.Max(kmsg.AddOffsetsToTxn) < 5 {
				// Before transaction version 2 the group must be added
				// first.
				r.Check("commit-before-add-offsets", commit(ps, group, 3))
			}
			r.Check("add-offsets", addOffsets(ps, group))
			r.Check("commit", commit(ps, group, 3))
			r.Check("other-group", commit(ps, r.name("g2"), 3))
			stale := ps
			for i := range stale {
				stale[i].epoch--
			}
			r.Check("stale-epoch", commit(stale, group, 4))
			r.Check("offset-fetch-require-stable", fetchOffsets(true))
			r.Check("offset-fetch", fetchOffsets(false))
			r.txnEnd(id, ps, true, false)
			r.Check("offset-fetch-after-commit", fetchOffsets(true))
		}},

		{Name: "txn-describe-list", API: kmsg.ListTransactions, Run: func(r *Run) {
			topic := r.name("t")
			r.CreateTopic(topic, 1, nil)
			prefix := r.name("")
			open, done := r.name("open"), r.name("done")
			po := r.txnInit(open, 60000)
			r.txnAddAndProduce(open, po, topic, 0, 0, "o", 1, false)
			pd := r.txnInit(done, 60000)
			r.txnAddAndProduce(done, pd, topic, 0, 0, "d", 1, false)
			r.txnEnd(done, pd, true, false)
			list := func(states []string, pids func(*Side) []int64, pattern string, durationMs int64) func(*Side) kmsg.Request {
				return func(s *Side) kmsg.Request {
					req := kmsg.NewPtrListTransactionsRequest()
					req.Version = r.V
					req.StateFilters = states
					if pids != nil {
						req.ProducerIDFilters = pids(s)
					}
					req.DurationFilterMillis = -1
					if r.V >= 1 {
						req.DurationFilterMillis = durationMs
					}
					if r.V >= 2 && pattern != "" {
						req.TransactionalIDPattern = kmsg.StringPtr(pattern)
					}
					return req
				}
			}
			only := onlyTxnIDs(prefix)
			r.CheckFiltered("all", list(nil, nil, "", -1), only)
			r.CheckFiltered("ongoing", list([]string{"Ongoing"}, nil, "", -1), only)
			r.CheckFiltered("complete-commit", list([]string{"CompleteCommit"}, nil, "", -1), only)
			r.CheckFiltered("bad-state", list([]string{"Sleeping"}, nil, "", -1), only)
			r.CheckFiltered("by-producer-id", list(nil, func(s *Side) []int64 { return []int64{po[s.I].id} }, "", -1), only)
			if r.V >= 1 {
				r.CheckFiltered("duration-long", list(nil, nil, "", 3_600_000), only)
			}
			if r.V >= 2 {
				r.CheckFiltered("pattern", list(nil, nil, ".*open.*", -1), only)
				r.CheckFiltered("bad-pattern", list(nil, nil, "(", -1), only)
			}
			dv := r.Max(kmsg.DescribeTransactions)
			r.Check("describe", func(*Side) kmsg.Request { return describeTxnReq(dv, open, done, r.name("none")) })
			r.txnEnd(open, po, false, false)
		}},
	}
}
