package coordinator

import "testing"

// TestQuorumEmbedded: the embedded single-node etcd is one reachable
// voter, its own leader, with a term and an index.
func TestQuorumEmbedded(t *testing.T) {
	s := openEmbedded(t, "")
	defer closeStore(t, s)
	q, err := s.Quorum(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Members) != 1 {
		t.Fatalf("members %+v", q.Members)
	}
	m := q.Members[0]
	if !m.Reachable || m.Learner || m.ID == 0 || q.LeaderID != m.ID || q.RaftTerm == 0 || q.CommitIndex == 0 || m.RaftIndex != q.CommitIndex {
		t.Fatalf("quorum %+v", q)
	}
}
