package broker

// Answers that must be Kafka 4.4's, found by the differential tester
// (compat-tests/difftest), one small case each.

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawAt sends req at its own version on a fresh connection and decodes the
// answer (kgo would pick its own version).
func rawAt[T kmsg.Response](t *testing.T, addr string, req kmsg.Request) T {
	t.Helper()
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("conformance")).AppendRequest(nil, req, 1)
	raw, err := rawRequest(t, addr, frame)
	if err != nil {
		t.Fatal(err)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	body := raw[4:]
	if resp.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		body = body[1:] // the response header's tag buffer
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp.(T)
}

func TestMetadataConformance(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "md", 1, nil)
	topics := func(names ...string) []kmsg.MetadataRequestTopic {
		var out []kmsg.MetadataRequestTopic
		for _, n := range names {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(n)
			out = append(out, rt)
		}
		return out
	}

	// A topic named twice is answered once.
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 9
	req.Topics = topics("md", "md")
	if resp := rawAt[*kmsg.MetadataResponse](t, addr, req); len(resp.Topics) != 1 {
		t.Fatalf("md twice: %d topics in the answer", len(resp.Topics))
	}

	// v8-v10: the cluster's operations when asked (no authorizer: all).
	req.Version = 10
	req.IncludeClusterAuthorizedOperations = true
	req.Topics = topics("md")
	if resp := rawAt[*kmsg.MetadataResponse](t, addr, req); resp.AuthorizedOperations != clusterAuthorizedOps {
		t.Fatalf("cluster authorized operations %d, want %d", resp.AuthorizedOperations, clusterAuthorizedOps)
	}

	// v10-v11 look topics up by name only: an id fails the request.
	md := rawAt[*kmsg.MetadataResponse](t, addr, req)
	byID := kmsg.NewMetadataRequestTopic()
	byID.Topic = kmsg.StringPtr("")
	byID.TopicID = md.Topics[0].TopicID
	for _, v := range []int16{10, 11} {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = v
		req.Topics = []kmsg.MetadataRequestTopic{byID}
		resp := rawAt[*kmsg.MetadataResponse](t, addr, req)
		if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code || len(resp.Brokers) != 0 || resp.ClusterID != nil {
			t.Fatalf("v%d by id: %+v", v, resp)
		}
	}
	req = kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.Topics = []kmsg.MetadataRequestTopic{{TopicID: md.Topics[0].TopicID}}
	if resp := rawAt[*kmsg.MetadataResponse](t, addr, req); len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || *resp.Topics[0].Topic != "md" {
		t.Fatalf("v12 by id: %+v", resp.Topics)
	}
}

func TestAdminDuplicatesAnsweredOnce(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "cp", 1, nil)

	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 7
	ct.TimeoutMillis = 5000
	for range 2 {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "twice", 1, 1
		ct.Topics = append(ct.Topics, rt)
	}
	if resp := rawAt[*kmsg.CreateTopicsResponse](t, addr, ct); len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("CreateTopics twice: %+v", resp.Topics)
	}

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.Version = 3
	cp.TimeoutMillis = 5000
	for range 2 {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "cp", 2
		cp.Topics = append(cp.Topics, rt)
	}
	if resp := rawAt[*kmsg.CreatePartitionsResponse](t, addr, cp); len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("CreatePartitions twice: %+v", resp.Topics)
	}

	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version = 7
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "cp"
	for range 2 {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	lo.Topics = append(lo.Topics, rt)
	if resp := rawAt[*kmsg.ListOffsetsResponse](t, addr, lo); len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("ListOffsets twice: %+v", resp.Topics)
	}

	ac := kmsg.NewPtrAlterConfigsRequest()
	ac.Version = 2
	res := kmsg.NewAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "cp"
	for _, v := range []string{"1000", "2000"} {
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "retention.ms", kmsg.StringPtr(v)
		res.Configs = append(res.Configs, c)
	}
	ac.Resources = append(ac.Resources, res)
	if resp := rawAt[*kmsg.AlterConfigsResponse](t, addr, ac); resp.Resources[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("AlterConfigs with a key twice: %+v", resp.Resources)
	}
}

// TestLeaderEpochOfEmptyPartition: Kafka's leader holds its epoch in the
// epoch cache from the moment it leads, so an empty partition at epoch 0
// answers epoch 0 (ListOffsets latest, OffsetForLeaderEpoch) and not -1.
func TestLeaderEpochOfEmptyPartition(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "empty", 1, nil)

	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version = 7
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "empty"
	for _, ts := range []int64{-1, -2, -7} {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = ts
		rt.Partitions = []kmsg.ListOffsetsRequestTopicPartition{rp}
		lo.Topics = []kmsg.ListOffsetsRequestTopic{rt}
		sp := rawAt[*kmsg.ListOffsetsResponse](t, addr, lo).Topics[0].Partitions[0]
		switch ts {
		case -7:
			if sp.ErrorCode != kerr.UnsupportedVersion.Code {
				t.Errorf("timestamp -7: error %d, want UNSUPPORTED_VERSION", sp.ErrorCode)
			}
		default:
			if sp.ErrorCode != 0 || sp.Offset != 0 || sp.LeaderEpoch != 0 {
				t.Errorf("timestamp %d: %+v, want offset 0 at epoch 0", ts, sp)
			}
		}
	}

	ofle := kmsg.NewPtrOffsetForLeaderEpochRequest()
	ofle.Version = 4
	ot := kmsg.NewOffsetForLeaderEpochRequestTopic()
	ot.Topic = "empty"
	op := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	op.CurrentLeaderEpoch, op.LeaderEpoch = 0, 0
	ot.Partitions = append(ot.Partitions, op)
	ofle.Topics = append(ofle.Topics, ot)
	if sp := rawAt[*kmsg.OffsetForLeaderEpochResponse](t, addr, ofle).Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.LeaderEpoch != 0 || sp.EndOffset != 0 {
		t.Fatalf("OffsetForLeaderEpoch on an empty partition: %+v, want epoch 0 ending at 0", sp)
	}
}

func TestGroupDescribeConformance(t *testing.T) {
	_, addr := startTestBroker(t, groupOverrides...)
	createTopic(t, addr, "gd", 1, nil)
	cl := newClient(t, addr)
	hb := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	hb.Group, hb.MemberID, hb.MemberEpoch, hb.RebalanceTimeoutMillis = "gd-g", "m", 0, 10000
	hb.SubscribedTopicNames = []string{"gd"}
	hb.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if r, err := hb.RequestWith(testCtx(t), cl); err != nil || r.ErrorCode != 0 {
		t.Fatalf("join: %v %+v", err, r)
	}

	cgd := kmsg.NewPtrConsumerGroupDescribeRequest()
	cgd.Groups = []string{"gd-g", ""}
	cgd.IncludeAuthorizedOperations = true
	resp, err := cgd.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range resp.Groups {
		switch g.Group {
		case "gd-g":
			if g.ErrorCode != 0 || g.AuthorizedOperations != groupAllOps || len(g.Members) != 1 ||
				g.Members[0].SubscribedTopicRegex == nil || *g.Members[0].SubscribedTopicRegex != "" {
				t.Errorf("described: %+v", g)
			}
		case "":
			if g.ErrorCode != kerr.InvalidGroupID.Code {
				t.Errorf("empty id: error %d, want INVALID_GROUP_ID", g.ErrorCode)
			}
		}
	}

	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Version = 5
	dg.Groups = []string{"gd-classic"}
	dg.IncludeAuthorizedOperations = true
	if r := rawAt[*kmsg.DescribeGroupsResponse](t, addr, dg); r.Groups[0].AuthorizedOperations != groupAllOps {
		t.Errorf("DescribeGroups authorized operations %d, want %d", r.Groups[0].AuthorizedOperations, groupAllOps)
	}
}

func TestSmallErrorConformance(t *testing.T) {
	_, addr := startTestBroker(t)
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.Version = 1
	dc.EndpointType = 9
	if r := rawAt[*kmsg.DescribeClusterResponse](t, addr, dc); r.ErrorCode != kerr.UnsupportedEndpointType.Code {
		t.Errorf("endpoint type 9: error %d, want UNSUPPORTED_ENDPOINT_TYPE", r.ErrorCode)
	}
	dc.EndpointType = 2
	if r := rawAt[*kmsg.DescribeClusterResponse](t, addr, dc); r.ErrorCode != kerr.MismatchedEndpointType.Code {
		t.Errorf("controllers asked of a broker: error %d, want MISMATCHED_ENDPOINT_TYPE", r.ErrorCode)
	}

	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.Version = 4
	ip.ProducerID, ip.ProducerEpoch = 1234, -1
	if r := rawAt[*kmsg.InitProducerIDResponse](t, addr, ip); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("producer id without an epoch: error %d, want INVALID_REQUEST", r.ErrorCode)
	}
	ip.ProducerID, ip.ProducerEpoch = -1, -1
	if r := rawAt[*kmsg.InitProducerIDResponse](t, addr, ip); r.ErrorCode != 0 || r.ProducerID < 0 {
		t.Errorf("a fresh idempotent producer: %+v", r)
	}
}

// clusterAuthorizedOps is every operation Kafka supports on the CLUSTER
// resource (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
// ALTER_CONFIGS, IDEMPOTENT_WRITE): what a principal may do without an
// authorizer.
const clusterAuthorizedOps = int32(1<<kmsg.ACLOperationCreate |
	1<<kmsg.ACLOperationAlter |
	1<<kmsg.ACLOperationDescribe |
	1<<kmsg.ACLOperationClusterAction |
	1<<kmsg.ACLOperationDescribeConfigs |
	1<<kmsg.ACLOperationAlterConfigs |
	1<<kmsg.ACLOperationIdempotentWrite)

// topicAllOps is every topic operation (READ, WRITE, CREATE, DELETE,
// ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS): what a principal may
// do without an authorizer.
const topicAllOps int32 = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
