package broker

// TxnOffsetCommit (key 28), served v0-v5 with samsa.transactions.enable.
//
//	v0: a transactional producer's offsets for a group, pending until its
//	    transaction ends (coordinator/group/txn_offsets.go): its COMMIT
//	    marker makes them the group's committed offsets, ABORT drops them.
//	v1: same as v0.
//	v2: committed leader epoch.
//	v3: flexible; member id, generation and group instance id (KIP-447),
//	    checked against the group as the group coordinator checks them
//	    (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION); a
//	    commit without member and generation is not checked.
//	v4: TRANSACTION_ABORTABLE may be returned (KIP-890 part 1); below it
//	    is answered INVALID_TXN_STATE.
//	v5: transaction version 2 (KIP-890 part 2): the group's
//	    __consumer_offsets partition is added to the transaction by the
//	    coordinator here (the client sends no AddOffsetsToTxn).
//	v6: topics by id, not served.
//
// Kafka's checks, in its order: WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the group
// (GROUP_AUTHORIZATION_FAILED), then per topic READ
// (TOPIC_AUTHORIZATION_FAILED) and existence (UNKNOWN_TOPIC_OR_PARTITION);
// then this broker must coordinate the group, and the transaction
// coordinator must know the group's __consumer_offsets partition as part
// of the producer's ongoing transaction (txnVerifyPartition; PRODUCER_FENCED
// is answered INVALID_PRODUCER_EPOCH, as Kafka's verification does, and a
// coordinator not usable now COORDINATOR_NOT_AVAILABLE).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator/group"
)

func init() { register(kmsg.TxnOffsetCommit, 0, 5, handleTxnOffsetCommit).txn() }

func handleTxnOffsetCommit(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	resp.Topics = make([]kmsg.TxnOffsetCommitResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.TxnOffsetCommitResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			st.Partitions[j] = kmsg.NewTxnOffsetCommitResponseTopicPartition()
			st.Partitions[j].Partition = rp.Partition
		}
	}
	failAll := func(code int16) kmsg.Response {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
		return resp
	}
	if !b.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTransactionalId, req.TransactionalID) { // acl.go
		return failAll(kerr.TransactionalIDAuthorizationFailed.Code)
	}
	if !b.authorize(rc, kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, req.Group) {
		return failAll(kerr.GroupAuthorizationFailed.Code)
	}
	snap := b.store.Snapshot()
	type ref struct{ i, j int }
	var commits []group.Commit
	var refs []ref
	for i, rt := range req.Topics {
		for j, rp := range rt.Partitions {
			sp := &resp.Topics[i].Partitions[j]
			if !b.authorize(rc, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, rt.Topic) {
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			if _, ok := snap.Partition(rt.Topic, rp.Partition); !ok {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			}
			commits = append(commits, group.Commit{
				Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset,
				LeaderEpoch: rp.LeaderEpoch, Metadata: rp.Metadata,
			})
			refs = append(refs, ref{i, j})
		}
	}
	if len(commits) == 0 {
		return resp
	}
	setAll := func(code int16) kmsg.Response {
		for _, r := range refs {
			resp.Topics[r.i].Partitions[r.j].ErrorCode = code
		}
		return resp
	}
	if e := b.groupError(req.Group); e != nil { // groups.go
		return setAll(e.Code)
	}
	ctx, cancel := context.WithTimeout(rc.ctx, adminWriteTimeout) // no timeout field
	defer cancel()
	if e := b.verifyTxnOffsets(ctx, req); e != nil {
		return setAll(e.Code)
	}
	codes := b.groups.TxnCommitOffsets(ctx, group.TxnCommitArgs{
		Group: req.Group, TransactionalID: req.TransactionalID,
		ProducerID: req.ProducerID, ProducerEpoch: req.ProducerEpoch,
		MemberID: req.MemberID, InstanceID: req.InstanceID, Generation: req.Generation,
	}, commits)
	for k, r := range refs {
		resp.Topics[r.i].Partitions[r.j].ErrorCode = codes[k]
	}
	return resp
}

// verifyTxnOffsets asks the producer's transaction coordinator whether the
// group's __consumer_offsets partition is in its ongoing transaction (v5+:
// adds it), and maps the answer as Kafka maps it for TxnOffsetCommit.
func (b *Broker) verifyTxnOffsets(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) *kerr.Error {
	tm := b.store.Snapshot().Topic(offsetsTopic)
	if tm == nil || len(tm.Partitions) == 0 {
		return kerr.CoordinatorNotAvailable
	}
	part := coordinatorPartition(req.Group, int32(len(tm.Partitions)))
	e := b.txnVerifyPartition(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, offsetsTopic, part, req.Version >= 5)
	switch {
	case e == kerr.ProducerFenced:
		return kerr.InvalidProducerEpoch
	case e == kerr.TransactionAbortable && req.Version < 4:
		return kerr.InvalidTxnState
	case e == kerr.NotEnoughReplicas:
		// The bridge's produce-path answer for a coordinator it cannot
		// use now; a committer retries COORDINATOR_NOT_AVAILABLE (Kafka's
		// group coordinator normalizes it so).
		return kerr.CoordinatorNotAvailable
	}
	return e
}
