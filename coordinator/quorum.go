package coordinator

// The metadata quorum as Kafka's DescribeQuorum shows it: samsa's metadata
// quorum is etcd, so its members are the voters (learners the observers),
// the etcd leader is the leader, the raft term is the epoch and raft
// indexes are the offsets.

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// QuorumMember is one etcd member.
type QuorumMember struct {
	ID         uint64
	Name       string
	ClientURLs []string
	Learner    bool
	// Reachable: the member answered a status request; RaftIndex is then
	// its raft log's last committed index.
	Reachable bool
	RaftIndex uint64
}

// Quorum is the etcd cluster's state.
type Quorum struct {
	LeaderID uint64 // 0 when no member names a leader
	RaftTerm uint64
	// CommitIndex is the leader's raft index (the quorum's high
	// watermark), 0 when the leader did not answer.
	CommitIndex uint64
	Members     []QuorumMember // sorted by ID
}

// quorumStatusTimeout bounds each member's status request.
const quorumStatusTimeout = 2 * time.Second

// Quorum reads the member list and asks every member with a client URL for
// its status, in parallel, each within quorumStatusTimeout. A member that
// does not answer is listed unreachable; an error is returned only when the
// member list cannot be read.
func (s *Store) Quorum(ctx context.Context) (Quorum, error) {
	if err := s.checkOpen(); err != nil {
		return Quorum{}, err
	}
	list, err := s.client.MemberList(ctx)
	if err != nil {
		return Quorum{}, fmt.Errorf("coordinator: etcd member list: %w", err)
	}
	q := Quorum{Members: make([]QuorumMember, len(list.Members))}
	var mu sync.Mutex // guards q's leader and term
	var wg sync.WaitGroup
	for i, m := range list.Members {
		q.Members[i] = QuorumMember{ID: m.ID, Name: m.Name, ClientURLs: m.ClientURLs, Learner: m.IsLearner}
		if len(m.ClientURLs) == 0 {
			continue // not started yet
		}
		wg.Add(1)
		go func(qm *QuorumMember) {
			defer wg.Done()
			sctx, cancel := context.WithTimeout(ctx, quorumStatusTimeout)
			defer cancel()
			st, err := s.client.Status(sctx, qm.ClientURLs[0])
			if err != nil {
				s.log.Debug().Err(err).Uint64("member", qm.ID).Msg("etcd member status unavailable")
				return
			}
			qm.Reachable, qm.RaftIndex = true, st.RaftIndex
			mu.Lock()
			defer mu.Unlock()
			if st.RaftTerm >= q.RaftTerm {
				q.RaftTerm, q.LeaderID = st.RaftTerm, st.Leader
			}
		}(&q.Members[i])
	}
	wg.Wait()
	for _, m := range q.Members {
		if m.ID == q.LeaderID && m.Reachable {
			q.CommitIndex = m.RaftIndex
		}
	}
	sort.Slice(q.Members, func(i, j int) bool { return q.Members[i].ID < q.Members[j].ID })
	return q, nil
}
