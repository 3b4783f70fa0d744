package broker

import (
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestGroupStatesAndTypesAsKafka pins what Kafka 4.4 answers (checked
// against it): a group with only committed offsets is a classic group in
// state Empty; a KIP-848 group is type consumer, Stable with a member and
// Empty once it left, and DescribeGroups answers it as Dead (from v6 with
// GROUP_ID_NOT_FOUND, "not a classic group"); ListGroups v5 filters by type,
// case-insensitively.
func TestGroupStatesAndTypesAsKafka(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	createTopic(t, addr, "lg", 1, nil)
	v := kversion.Stable()
	v.SetMaxKeyVersion(kmsg.OffsetCommit.Int16(), 8)
	cl := newClient(t, addr, kgo.MaxVersions(v))

	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.Generation = "lg-offsets", -1
	ot := kmsg.NewOffsetCommitRequestTopic()
	ot.Topic = "lg"
	ot.Partitions = []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 0, LeaderEpoch: -1}}
	oc.Topics = append(oc.Topics, ot)
	if r, err := oc.RequestWith(testCtx(t), cl); err != nil || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("commit: %v %+v", err, r)
	}
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Group, hb.MemberID, hb.RebalanceTimeoutMillis = "lg-consumer", "m1", 30000
	hb.SubscribedTopicNames = []string{"lg"}
	hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if r, err := hb.RequestWith(testCtx(t), cl); err != nil || r.ErrorCode != 0 {
		t.Fatalf("join: %v %+v", err, r)
	}

	list := func(types ...string) map[string][2]string {
		t.Helper()
		req := kmsg.NewPtrListGroupsRequest()
		req.TypesFilter = types
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("list: %v %+v", err, resp)
		}
		out := map[string][2]string{}
		for _, g := range resp.Groups {
			out[g.Group] = [2]string{g.GroupState, g.GroupType}
		}
		return out
	}
	got := list()
	if got["lg-offsets"] != [2]string{"Empty", "classic"} || got["lg-consumer"] != [2]string{"Stable", "consumer"} {
		t.Fatalf("listed %v", got)
	}
	names := func(m map[string][2]string) []string {
		var out []string
		for n := range m {
			out = append(out, n)
		}
		sort.Strings(out)
		return out
	}
	if g := names(list("CONSUMER")); len(g) != 1 || g[0] != "lg-consumer" {
		t.Fatalf("types CONSUMER: %v", g)
	}
	if g := names(list("classic")); len(g) != 1 || g[0] != "lg-offsets" {
		t.Fatalf("types classic: %v", g)
	}
	if g := list("bogus"); len(g) != 0 {
		t.Fatalf("types bogus: %v", g)
	}

	for _, ver := range []int16{5, 6} {
		dg := kmsg.NewPtrDescribeGroupsRequest()
		dg.Version = ver
		dg.Groups = []string{"lg-consumer", "lg-offsets"}
		resp := rawAt[*kmsg.DescribeGroupsResponse](t, addr, dg)
		for _, g := range resp.Groups {
			switch g.Group {
			case "lg-consumer":
				// KIP-1043: GROUP_ID_NOT_FOUND from v6; state Dead before.
				want := int16(0)
				if ver >= 6 {
					want = kerr.GroupIDNotFound.Code
				}
				if g.ErrorCode != want || g.State != "Dead" {
					t.Errorf("v%d consumer group: %+v", ver, g)
				}
			case "lg-offsets":
				if g.ErrorCode != 0 || g.State != "Empty" {
					t.Errorf("v%d offsets-only group: %+v", ver, g)
				}
			}
		}
	}

	leave := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	leave.Group, leave.MemberID, leave.MemberEpoch = "lg-consumer", "m1", -1
	if r, err := leave.RequestWith(testCtx(t), cl); err != nil || r.ErrorCode != 0 {
		t.Fatalf("leave: %v %+v", err, r)
	}
	if got := list(); got["lg-consumer"] != [2]string{"Empty", "consumer"} {
		t.Fatalf("after leaving: %v", got)
	}
}
