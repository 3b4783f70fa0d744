package txn

// ListTransactions and DescribeTransactions data.

import (
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ListFilter selects transactions (ListTransactions). Zero values select
// everything.
type ListFilter struct {
	States      []string // state names (State.String); unknown names are returned, not matched
	ProducerIDs []int64
	// MinDurationMs (v1, KIP-994): only transactions that started more
	// than this long ago; < 0 (or 0 with HasDuration false) for all.
	MinDurationMs int64
	HasDuration   bool
	Pattern       *regexp.Regexp // v2 (KIP-1152): transactional ids matching it
}

// Listed is one transaction of ListTransactions.
type Listed struct {
	TransactionalID string
	ProducerID      int64
	State           State
}

// ListTransactions returns the transactions of the loaded partitions that
// match f, sorted by id, and the state names f holds that are not states.
// The code is COORDINATOR_LOAD_IN_PROGRESS while a held partition loads
// (Kafka answers so), COORDINATOR_NOT_AVAILABLE once closed.
func (c *Coordinator) ListTransactions(f ListFilter) ([]Listed, []string, int16) {
	var states []State
	var unknown []string
	for _, name := range f.States {
		if st, ok := ParseState(name); ok {
			states = append(states, st)
		} else {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 && len(states) == 0 {
		return nil, unknown, 0 // nothing can match
	}
	c.mu.Lock()
	closed := c.closed
	loading := false
	for _, p := range c.parts {
		loading = loading || !p.loaded
	}
	c.mu.Unlock()
	switch {
	case closed:
		return nil, unknown, kerr.CoordinatorNotAvailable.Code
	case loading:
		return nil, unknown, kerr.CoordinatorLoadInProgress.Code
	}
	now := c.nowMs()
	var out []Listed
	for _, ts := range c.held() {
		ts.mu.Lock()
		m, gone := ts.m, ts.gone
		ts.mu.Unlock()
		switch {
		case m == nil || gone:
		case len(states) > 0 && !slices.Contains(states, m.state):
		case len(f.ProducerIDs) > 0 && !slices.Contains(f.ProducerIDs, m.producerID):
		case f.HasDuration && f.MinDurationMs >= 0 && (m.startMs < 0 || now-m.startMs <= f.MinDurationMs):
		case f.Pattern != nil && !f.Pattern.MatchString(ts.id):
		default:
			out = append(out, Listed{TransactionalID: ts.id, ProducerID: m.producerID, State: m.state})
		}
	}
	slices.SortFunc(out, func(a, b Listed) int { return strings.Compare(a.TransactionalID, b.TransactionalID) })
	return out, unknown, 0
}

// DescribeTransaction returns id's state (DescribeTransactions), or
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, TRANSACTIONAL_ID_NOT_FOUND.
func (c *Coordinator) DescribeTransaction(id string) (Metadata, int16) {
	ts, code := c.lookup(id, false)
	if code != 0 {
		return Metadata{}, code
	}
	if ts == nil {
		return Metadata{}, kerr.TransactionalIDNotFound.Code
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	switch {
	case ts.gone:
		return Metadata{}, kerr.NotCoordinator.Code
	case ts.m == nil:
		return Metadata{}, kerr.TransactionalIDNotFound.Code
	}
	return ts.m.export(id), 0
}
