package broker

// DescribeQuorum (key 55), v0-v2: kafka-metadata-quorum.sh describe
// --status / --replication and the admin client's describeMetadataQuorum.
//
//	v0: the quorum's leader, epoch, high watermark, voters and observers
//	    with their log end offsets.
//	v1: each replica's last fetch and last caught-up times.
//	v2: replica directory ids, the voters' endpoints (Nodes), an error
//	    message.
//
// samsa's metadata quorum is etcd (there is no __cluster_metadata log), so
// the answer for partition __cluster_metadata-0 is etcd's own state
// (coordinator.Quorum): its voting members are the voters and its learners
// the observers; the etcd leader is the leader; the raft term is the epoch;
// a member's raft index is its log end offset and the leader's the high
// watermark. A member's replica id is this broker's id for the embedded
// single-node etcd, the member name when it is a number, else the low 31
// bits of the etcd member id. A member that answered its status request
// has both times set to now, one that did not -1 (and log end offset -1).
// Endpoints are the members' client URLs, as listener "ETCD". Any other
// partition is UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers it.

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.DescribeQuorum, 0, 2, handleDescribeQuorum) }

const clusterMetadataTopic = "__cluster_metadata"

func handleDescribeQuorum(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeQuorumRequest)
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	var q *coordinator.Quorum
	var qerr error
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeQuorumResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDescribeQuorumResponseTopicPartition()
			sp.Partition = rp.Partition
			if rt.Topic != clusterMetadataTopic || rp.Partition != 0 {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sp.ErrorMessage = strPtr("This server does not host this topic-partition.")
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if q == nil && qerr == nil {
				ctx, cancel := context.WithTimeout(rc.ctx, 5*time.Second)
				qq, err := b.store.Quorum(ctx)
				cancel()
				q, qerr = &qq, err
			}
			if qerr != nil {
				sp.ErrorCode = kerr.UnknownServerError.Code
				if errors.Is(qerr, context.DeadlineExceeded) {
					sp.ErrorCode = kerr.RequestTimedOut.Code
				}
				sp.ErrorMessage = strPtr(qerr.Error())
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			b.fillQuorum(&sp, q, resp)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// fillQuorum describes the etcd quorum in sp, and its voters in resp.Nodes.
func (b *Broker) fillQuorum(sp *kmsg.DescribeQuorumResponseTopicPartition, q *coordinator.Quorum, resp *kmsg.DescribeQuorumResponse) {
	now := time.Now().UnixMilli()
	ids := make(map[uint64]int32, len(q.Members))
	for _, m := range q.Members {
		ids[m.ID] = b.quorumReplicaID(m, len(q.Members))
	}
	sp.LeaderID = -1
	if id, ok := ids[q.LeaderID]; ok {
		sp.LeaderID = id
	}
	sp.LeaderEpoch = int32(q.RaftTerm)
	sp.HighWatermark = int64(q.CommitIndex)
	for _, m := range q.Members {
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID = ids[m.ID]
		rs.LogEndOffset, rs.LastFetchTimestamp, rs.LastCaughtUpTimestamp = -1, -1, -1
		if m.Reachable {
			rs.LogEndOffset = int64(m.RaftIndex)
			rs.LastFetchTimestamp, rs.LastCaughtUpTimestamp = now, now
		}
		if m.Learner {
			sp.Observers = append(sp.Observers, rs)
			continue
		}
		sp.CurrentVoters = append(sp.CurrentVoters, rs)
		node := kmsg.NewDescribeQuorumResponseNode()
		node.NodeID = rs.ReplicaID
		for _, u := range m.ClientURLs {
			if l, ok := etcdListener(u); ok {
				node.Listeners = append(node.Listeners, l)
			}
		}
		resp.Nodes = append(resp.Nodes, node)
	}
}

// quorumReplicaID is the replica id DescribeQuorum gives an etcd member.
func (b *Broker) quorumReplicaID(m coordinator.QuorumMember, members int) int32 {
	if members == 1 && b.store.EmbeddedEndpoint() != "" {
		return b.cfg.BrokerID // the embedded etcd is this broker's own
	}
	if n, err := strconv.ParseInt(m.Name, 10, 32); err == nil && n >= 0 {
		return int32(n)
	}
	return int32(m.ID & 0x7fffffff)
}

// etcdListener turns a member's client URL into a listener endpoint.
func etcdListener(raw string) (kmsg.DescribeQuorumResponseNodeListener, bool) {
	l := kmsg.NewDescribeQuorumResponseNodeListener()
	u, err := url.Parse(raw)
	if err != nil {
		return l, false
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return l, false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return l, false
	}
	l.Name, l.Host, l.Port = "ETCD", host, uint16(p)
	return l, true
}
