package compat

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFirstProduceAfterAutoCreate: clients that do not retry
// NOT_LEADER_OR_FOLLOWER (raw kmsg requests) produce to topics the moment
// Metadata names a leader: one client auto-creates the topics with
// Metadata while others poll Metadata for them (no auto-create, so they
// see the topic as soon as the broker's snapshot has it, possibly before
// the broker has opened the partition logs). Every first produce must
// succeed: Metadata names a leader only once the broker has opened the
// partition's log (03_metadata.go servesAsLeader).
func TestFirstProduceAfterAutoCreate(t *testing.T) {
	s := StartSamsa(t, "--override", "num.partitions=4")
	newClient := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	creator := newClient()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	const topics, pollers = 60, 4
	var (
		mu                              sync.Mutex
		notLeader, leaderless, produced int
		failures                        []string
	)
	for i := range topics {
		topic := fmt.Sprintf("autocreate-%02d", i)
		var wg sync.WaitGroup
		for range pollers {
			cl := newClient()
			wg.Add(1)
			go func() {
				defer wg.Done()
				nl, ll, n, err := produceOnceLeader(ctx, cl, topic)
				mu.Lock()
				defer mu.Unlock()
				notLeader, leaderless, produced = notLeader+nl, leaderless+ll, produced+n
				if err != nil {
					failures = append(failures, err.Error())
				}
			}()
		}
		time.Sleep(time.Millisecond) // the pollers are asking already
		if _, err := metadataFor(ctx, creator, topic, true); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
	if len(failures) > 0 {
		t.Fatalf("%d failures, first: %s", len(failures), failures[0])
	}
	if notLeader > 0 {
		t.Fatalf("%d of %d first produces got NOT_LEADER_OR_FOLLOWER after Metadata named this broker the leader", notLeader, produced)
	}
	t.Logf("%d topics, %d first produces: %d Metadata answers without the topic or its leader yet (retried), no NOT_LEADER_OR_FOLLOWER", topics, produced, leaderless)
}

func metadataFor(ctx context.Context, cl *kgo.Client, topic string, autoCreate bool) (*kmsg.MetadataResponse, error) {
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	md.Topics = append(md.Topics, mt)
	md.AllowAutoTopicCreation = autoCreate
	return md.RequestWith(ctx, cl)
}

// produceOnceLeader polls Metadata (without auto-creating) until it names
// a leader for some partition of topic, then produces one batch to each
// such partition, once, without retrying.
func produceOnceLeader(ctx context.Context, cl *kgo.Client, topic string) (notLeader, leaderless, produced int, err error) {
	var leaders []int32
	var id [16]byte
	for attempt := 0; len(leaders) == 0; attempt++ {
		if attempt == 2000 {
			return 0, 0, 0, fmt.Errorf("%s: no partition with a leader after %d Metadata requests", topic, attempt)
		}
		resp, err := metadataFor(ctx, cl, topic, false)
		if err != nil {
			return 0, 0, 0, err
		}
		id = resp.Topics[0].TopicID
		for _, p := range resp.Topics[0].Partitions {
			if resp.Topics[0].ErrorCode == 0 && p.ErrorCode == 0 && p.Leader >= 0 {
				leaders = append(leaders, p.Partition)
			}
		}
		if len(leaders) == 0 {
			leaderless++
			time.Sleep(200 * time.Microsecond)
		}
	}
	for _, p := range leaders {
		pr := kmsg.NewPtrProduceRequest()
		pr.Acks, pr.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic, rt.TopicID = topic, id // v13+ names the topic by id
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rp.Records = oneRecordBatch(time.Now())
		rt.Partitions = append(rt.Partitions, rp)
		pr.Topics = append(pr.Topics, rt)
		resp, err := cl.Request(ctx, pr)
		if err != nil {
			return notLeader, leaderless, produced, err
		}
		produced++
		switch code := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code {
		case 0:
		case kerr.NotLeaderForPartition.Code:
			notLeader++
		default:
			return notLeader, leaderless, produced, fmt.Errorf("%s-%d: first produce failed: %v", topic, p, kerr.ErrorForCode(code))
		}
	}
	return notLeader, leaderless, produced, nil
}

// oneRecordBatch is a one-record v2 batch written by kgo's own encoder.
func oneRecordBatch(ts time.Time) []byte {
	r := kmsg.NewRecord()
	r.Value = []byte("first")
	r.Length = int32(len(r.AppendTo(nil)) - 1)
	recs := r.AppendTo(nil)
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, FirstTimestamp: ts.UnixMilli(), MaxTimestamp: ts.UnixMilli(),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: recs,
	}
	b.Length = int32(49 + len(recs))
	out := b.AppendTo(nil)
	binaryPutCRC(out)
	return out
}

// binaryPutCRC writes a v2 batch's CRC-32C (over the bytes after the CRC
// field, from attributes on) into its place.
func binaryPutCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:21], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}
