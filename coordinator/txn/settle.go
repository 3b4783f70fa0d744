package txn

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// SettleWait, the default of Config.SettleWait, bounds how long InitProducerId, AddPartitionsToTxn,
// AddOffsetsToTxn and EndTxn wait, when they meet another change of
// their transactional id in flight (a pending etcd write, or the markers
// of the transaction that just ended), for it to settle before they
// answer CONCURRENT_TRANSACTIONS. Kafka answers at once and the client
// backs off (franz-go 20 ms, librdkafka and the Java client their retry
// backoffs) and asks again, so a producer that begins its next
// transaction right after a commit pays that backoff on every small
// transaction; waiting here answers it as soon as the markers are
// written. The answer is the same the client's retry would get.
const SettleWait = 100 * time.Millisecond

// changedLocked wakes the requests waiting for ts to change. ts.mu held.
func (ts *txnState) changedLocked() {
	if ts.settled != nil {
		close(ts.settled)
		ts.settled = nil
	}
}

// changes returns a channel closed at id's next change, nil when id has
// no state here.
func (c *Coordinator) changes(id string) <-chan struct{} {
	if id == "" {
		return nil
	}
	ts, code := c.lookup(id, false)
	if code != 0 || ts == nil {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.gone {
		return nil
	}
	if ts.settled == nil {
		ts.settled = make(chan struct{})
	}
	return ts.settled
}

// settling runs op, and again after each change of id while it answers
// CONCURRENT_TRANSACTIONS, for up to SettleWait. The channel is taken
// before op looks at the state, so a change between op's answer and the
// wait is not missed.
func (c *Coordinator) settling(ctx context.Context, id string, op func() int16) int16 {
	var deadline <-chan time.Time
	for {
		ch := c.changes(id)
		code := op()
		if code != kerr.ConcurrentTransactions.Code || ch == nil {
			return code
		}
		if deadline == nil {
			t := time.NewTimer(c.cfg.SettleWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ch:
		case <-deadline:
			return code
		case <-ctx.Done():
			return code
		}
	}
}
