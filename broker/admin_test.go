package broker

// In-process integration tests of the admin APIs (CreateTopics,
// DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs,
// IncrementalAlterConfigs, DescribeCluster) over TCP with kadm and raw kmsg
// requests, plus unit tests of the shared topic logic.

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-io/samsa/coordinator"
)

func adminTestClients(t *testing.T, addr string) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

func adminCtxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantErr(t *testing.T, what string, got error, msg string, want *kerr.Error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: got %v (%q), want %v", what, got, msg, want.Message)
	}
	if want != nil && msg == "" {
		t.Errorf("%s: %v without an error message", what, want.Message)
	}
}

func sp(s string) *string { return &s }

// --- unit tests ---

func TestAdminValidateTopicName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
		msg  string
	}{
		{"", false, "can't be empty"},
		{".", false, `"." or ".."`},
		{"..", false, `"." or ".."`},
		{strings.Repeat("a", 249), true, ""},
		{strings.Repeat("a", 250), false, "longer than 249"},
		{"a b", false, "other than ASCII alphanumerics"},
		{"ä", false, "other than ASCII alphanumerics"},
		{"a/b", false, "other than ASCII alphanumerics"},
		{"Az09._-", true, ""},
		{"...", true, ""},
	} {
		err := validateTopicName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("validateTopicName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("validateTopicName(%q) = %q, want it to contain %q", tc.name, err, tc.msg)
		}
	}
}

func TestAdminAssignReplicas(t *testing.T) {
	brokers := []int32{1, 2, 3}
	got := assignReplicas(brokers, 0, 6, 2, 0, 0)
	// Kafka's rack-unaware assignment with start index 0 and shift 0.
	want := [][]int32{{1, 2}, {2, 3}, {3, 1}, {1, 3}, {2, 1}, {3, 2}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// Every partition gets distinct replicas; leaders are balanced.
	leaders := map[int32]int{}
	for _, rs := range assignReplicas(brokers, 0, 30, 3, 1, 2) {
		seen := map[int32]bool{}
		for _, r := range rs {
			if seen[r] {
				t.Fatalf("duplicate replica in %v", rs)
			}
			seen[r] = true
		}
		leaders[rs[0]]++
	}
	for id, n := range leaders {
		if n != 10 {
			t.Errorf("broker %d leads %d of 30 partitions", id, n)
		}
	}
	if got := assignReplicas([]int32{7}, 3, 2, 1, 0, 0); len(got) != 2 || got[0][0] != 7 || got[1][0] != 7 {
		t.Fatalf("single broker: %v", got)
	}
}

// --- integration tests ---

func TestAdminCreateTopics(t *testing.T) {
	b, addr := startTestBroker(t, "num.partitions=3")
	_, adm := adminTestClients(t, addr)
	ctx := adminCtxT(t)

	t.Run("defaults", func(t *testing.T) {
		r, err := adm.CreateTopic(ctx, -1, -1, nil, "defaults")
		if err != nil {
			t.Fatalf("create: %v (%s)", err, r.ErrMessage)
		}
		if r.NumPartitions != 3 || r.ReplicationFactor != 1 {
			t.Fatalf("got %d partitions rf %d, want 3 rf 1", r.NumPartitions, r.ReplicationFactor)
		}
		if r.ID == (kadm.TopicID{}) {
			t.Fatal("no topic id")
		}
		tm := b.Store().Snapshot().Topic("defaults")
		if tm == nil || len(tm.Partitions) != 3 || tm.Info.ID != coordinator.TopicID(r.ID) {
			t.Fatalf("snapshot after create: %+v", tm)
		}
		c, ok := r.Configs["retention.ms"]
		if !ok || c.Value == nil || *c.Value != "604800000" || c.Source != kmsg.ConfigSourceDefaultConfig {
			t.Fatalf("v5+ configs: retention.ms = %+v (ok=%v)", c, ok)
		}
		// Metadata agrees right after the response.
		td, err := adm.ListTopics(ctx, "defaults")
		if err != nil {
			t.Fatal(err)
		}
		if d := td["defaults"]; d.Err != nil || len(d.Partitions) != 3 {
			t.Fatalf("metadata after create: %+v", d)
		}
	})

	t.Run("explicit", func(t *testing.T) {
		r, err := adm.CreateTopic(ctx, 5, 1, map[string]*string{
			"retention.ms":   sp("1000"),
			"cleanup.policy": sp("compact"),
		}, "explicit")
		if err != nil {
			t.Fatalf("create: %v (%s)", err, r.ErrMessage)
		}
		if r.NumPartitions != 5 {
			t.Fatalf("partitions = %d", r.NumPartitions)
		}
		if c := r.Configs["retention.ms"]; c.Value == nil || *c.Value != "1000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatalf("retention.ms = %+v", c)
		}
		tm := b.Store().Snapshot().Topic("explicit")
		if tm == nil || len(tm.Partitions) != 5 || tm.Info.Configs["cleanup.policy"] != "compact" {
			t.Fatalf("snapshot: %+v", tm)
		}
	})

	t.Run("invalid names", func(t *testing.T) {
		if r, err := adm.CreateTopic(ctx, 1, 1, nil, "a.b"); err != nil {
			t.Fatalf("create a.b: %v (%s)", err, r.ErrMessage)
		}
		for _, name := range []string{"", ".", "..", strings.Repeat("x", 250), "bad name", "bad/name", "a_b"} {
			rs, err := adm.CreateTopics(ctx, 1, 1, nil, name)
			if err != nil {
				t.Fatal(err)
			}
			r := rs[name]
			wantErr(t, "create "+strconv.Quote(name), r.Err, r.ErrMessage, kerr.InvalidTopicException)
		}
		rs, _ := adm.CreateTopics(ctx, 1, 1, nil, "a_b")
		if !strings.Contains(rs["a_b"].ErrMessage, "collides with existing topic: a.b") {
			t.Errorf("collision message %q", rs["a_b"].ErrMessage)
		}
	})

	t.Run("invalid config", func(t *testing.T) {
		for _, cfg := range []map[string]*string{
			{"no.such.config": sp("1")},
			{"retention.ms": sp("abc")},
			{"cleanup.policy": sp("sometimes")},
		} {
			rs, err := adm.CreateTopics(ctx, 1, 1, cfg, "badcfg")
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, "create with bad config", rs["badcfg"].Err, rs["badcfg"].ErrMessage, kerr.InvalidConfig)
		}
		if b.Store().Snapshot().Topic("badcfg") != nil {
			t.Fatal("topic with invalid config was created")
		}
	})

	t.Run("invalid counts", func(t *testing.T) {
		rs, _ := adm.CreateTopics(ctx, 1, 3, nil, "rf3")
		wantErr(t, "rf 3", rs["rf3"].Err, rs["rf3"].ErrMessage, kerr.InvalidReplicationFactor)
		if want := "Replication factor: 3 larger than available brokers: 1."; rs["rf3"].ErrMessage != want {
			t.Errorf("message %q, want %q", rs["rf3"].ErrMessage, want)
		}
		rs, _ = adm.CreateTopics(ctx, 1, 0, nil, "rf0")
		wantErr(t, "rf 0", rs["rf0"].Err, rs["rf0"].ErrMessage, kerr.InvalidReplicationFactor)
		rs, _ = adm.CreateTopics(ctx, 0, 1, nil, "p0")
		wantErr(t, "0 partitions", rs["p0"].Err, rs["p0"].ErrMessage, kerr.InvalidPartitions)
		rs, _ = adm.CreateTopics(ctx, -2, 1, nil, "pm2")
		wantErr(t, "-2 partitions", rs["pm2"].Err, rs["pm2"].ErrMessage, kerr.InvalidPartitions)
	})

	t.Run("validate only", func(t *testing.T) {
		rs, err := adm.ValidateCreateTopics(ctx, 4, 1, map[string]*string{"retention.ms": sp("5000")}, "dry")
		if err != nil {
			t.Fatal(err)
		}
		if r := rs["dry"]; r.Err != nil || r.NumPartitions != 4 {
			t.Fatalf("validate: %+v", r)
		}
		if b.Store().Snapshot().Topic("dry") != nil {
			t.Fatal("validateOnly created the topic")
		}
		rs, _ = adm.ValidateCreateTopics(ctx, 1, 1, nil, "defaults")
		wantErr(t, "validate existing", rs["defaults"].Err, rs["defaults"].ErrMessage, kerr.TopicAlreadyExists)
	})

	t.Run("exists", func(t *testing.T) {
		rs, _ := adm.CreateTopics(ctx, 1, 1, nil, "defaults")
		wantErr(t, "create existing", rs["defaults"].Err, rs["defaults"].ErrMessage, kerr.TopicAlreadyExists)
		if want := "Topic 'defaults' already exists."; rs["defaults"].ErrMessage != want {
			t.Errorf("message %q, want %q", rs["defaults"].ErrMessage, want)
		}
	})

	t.Run("raw request", func(t *testing.T) {
		cl, _ := adminTestClients(t, addr)
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 10000
		mk := func(name string, parts int32, assign ...[]int32) kmsg.CreateTopicsRequestTopic {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic = name
			rt.NumPartitions = parts
			rt.ReplicationFactor = -1
			for i, a := range assign {
				ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
				ra.Partition = int32(i)
				ra.Replicas = a
				rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
			}
			return rt
		}
		me := b.cfg.BrokerID
		req.Topics = []kmsg.CreateTopicsRequestTopic{
			mk("dup", 1), mk("dup", 2),
			mk("manual", -1, []int32{me}, []int32{me}),
			mk("manual-bad", -1, []int32{me + 100}),
			mk("manual-dupreplica", -1, []int32{me, me}),
			mk("c.d", 1), mk("c_d", 1), // collide within one request
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]int16{}
		for _, rt := range resp.Topics {
			got[rt.Topic] = append(got[rt.Topic], rt.ErrorCode)
			if rt.ErrorCode != 0 && (rt.ErrorMessage == nil || *rt.ErrorMessage == "") {
				t.Errorf("%s: error %d without message", rt.Topic, rt.ErrorCode)
			}
		}
		if !slices.Equal(got["dup"], []int16{kerr.InvalidRequest.Code}) { // answered once, as Kafka
			t.Errorf("dup: %v", got["dup"])
		}
		if !slices.Equal(got["manual"], []int16{0}) {
			t.Errorf("manual: %v", got["manual"])
		}
		if !slices.Equal(got["manual-bad"], []int16{kerr.InvalidReplicaAssignment.Code}) {
			t.Errorf("manual-bad: %v", got["manual-bad"])
		}
		if !slices.Equal(got["manual-dupreplica"], []int16{kerr.InvalidReplicaAssignment.Code}) {
			t.Errorf("manual-dupreplica: %v", got["manual-dupreplica"])
		}
		if !slices.Equal(got["c.d"], []int16{0}) || !slices.Equal(got["c_d"], []int16{kerr.InvalidTopicException.Code}) {
			t.Errorf("collision in one request: c.d %v, c_d %v", got["c.d"], got["c_d"])
		}
		if tm := b.Store().Snapshot().Topic("manual"); tm == nil || len(tm.Partitions) != 2 {
			t.Fatalf("manual: %+v", tm)
		}
		if b.Store().Snapshot().Topic("dup") != nil {
			t.Fatal("duplicate topic was created")
		}
	})
}

// TimeoutMillis 0: the topic is created but the response does not wait for
// it to be applied (Kafka: "return immediately").
func TestAdminCreateTopicsNoWait(t *testing.T) {
	b, addr := startTestBroker(t)
	cl, _ := adminTestClients(t, addr)
	ctx := adminCtxT(t)
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = "nowait"
	rt.NumPartitions = 1
	rt.ReplicationFactor = 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create: %v %+v", err, resp)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Store().Snapshot().Topic("nowait") == nil {
		if time.Now().After(deadline) {
			t.Fatal("topic never appeared")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An old client (Kafka 2.0 versions: CreateTopics v3, DeleteTopics v2,
// DescribeConfigs v2, CreatePartitions v1).
func TestAdminOldVersions(t *testing.T) {
	b, addr := startTestBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(kversion.V2_0_0()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx := adminCtxT(t)
	if r, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": sp("1000")}, "old"); err != nil {
		t.Fatalf("create: %v (%s)", err, r.ErrMessage)
	}
	if tm := b.Store().Snapshot().Topic("old"); tm == nil || len(tm.Partitions) != 2 {
		t.Fatalf("snapshot: %+v", tm)
	}
	if rs, err := adm.UpdatePartitions(ctx, 3, "old"); err != nil || rs["old"].Err != nil {
		t.Fatalf("create partitions: %v %+v", err, rs)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "old")
	if err != nil || rcs[0].Err != nil {
		t.Fatalf("describe: %v %+v", err, rcs)
	}
	if c := findConfig(t, rcs[0], "retention.ms"); c.MaybeValue() != "1000" {
		t.Errorf("retention.ms = %+v", c)
	}
	if r, err := adm.DeleteTopic(ctx, "old"); err != nil {
		t.Fatalf("delete: %v (%s)", err, r.ErrMessage)
	}
	if b.Store().Snapshot().Topic("old") != nil {
		t.Fatal("not deleted")
	}
}

func TestAdminAutoCreateTopic(t *testing.T) {
	b, _ := startTestBroker(t, "num.partitions=2")
	ctx := adminCtxT(t)
	if e, msg := b.autoCreateTopic(ctx, "auto"); e != nil {
		t.Fatalf("auto create: %v (%s)", e, msg)
	}
	if tm := b.Store().Snapshot().Topic("auto"); tm == nil || len(tm.Partitions) != 2 {
		t.Fatalf("auto: %+v", tm)
	}
	if e, msg := b.autoCreateTopic(ctx, "auto"); e != nil {
		t.Fatalf("auto create again: %v (%s)", e, msg)
	}
	if e, _ := b.autoCreateTopic(ctx, "bad name"); e != kerr.InvalidTopicException {
		t.Fatalf("bad name: %v", e)
	}

	b2, _ := startTestBroker(t, "auto.create.topics.enable=false")
	if e, _ := b2.autoCreateTopic(adminCtxT(t), "auto"); e != kerr.UnknownTopicOrPartition {
		t.Fatalf("disabled: %v", e)
	}
}

func TestAdminDeleteTopics(t *testing.T) {
	b, addr := startTestBroker(t)
	cl, adm := adminTestClients(t, addr)
	ctx := adminCtxT(t)
	for _, name := range []string{"del-name", "del-id", "keep"} {
		if r, err := adm.CreateTopic(ctx, 2, 1, nil, name); err != nil {
			t.Fatalf("create %s: %v (%s)", name, err, r.ErrMessage)
		}
	}

	t.Run("by name", func(t *testing.T) {
		r, err := adm.DeleteTopic(ctx, "del-name")
		if err != nil {
			t.Fatalf("delete: %v (%s)", err, r.ErrMessage)
		}
		if b.Store().Snapshot().Topic("del-name") != nil {
			t.Fatal("topic still in snapshot after delete")
		}
		rs, err := adm.DeleteTopics(ctx, "del-name")
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, "delete again", rs["del-name"].Err, rs["del-name"].ErrMessage, kerr.UnknownTopicOrPartition)
	})

	t.Run("by id", func(t *testing.T) {
		tm := b.Store().Snapshot().Topic("del-id")
		if tm == nil {
			t.Fatal("no del-id")
		}
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.TimeoutMillis = 10000
		byID := kmsg.NewDeleteTopicsRequestTopic()
		byID.TopicID = tm.Info.ID
		unknown := kmsg.NewDeleteTopicsRequestTopic()
		unknown.TopicID = coordinator.NewTopicID()
		both := kmsg.NewDeleteTopicsRequestTopic()
		both.Topic = sp("keep")
		both.TopicID = tm.Info.ID
		req.Topics = []kmsg.DeleteTopicsRequestTopic{byID, unknown, both}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Version < 6 {
			t.Skipf("negotiated DeleteTopics v%d", resp.Version)
		}
		for _, rt := range resp.Topics {
			switch {
			case rt.TopicID == unknown.TopicID:
				if rt.ErrorCode != kerr.UnknownTopicID.Code {
					t.Errorf("unknown id: %d", rt.ErrorCode)
				}
			case rt.Topic != nil && *rt.Topic == "keep":
				if rt.ErrorCode != kerr.InvalidRequest.Code {
					t.Errorf("name and id: %d", rt.ErrorCode)
				}
			case rt.TopicID == [16]byte(tm.Info.ID):
				if rt.ErrorCode != 0 || rt.Topic == nil || *rt.Topic != "del-id" {
					t.Errorf("by id: %+v", rt)
				}
			default:
				t.Errorf("unexpected entry %+v", rt)
			}
		}
		snap := b.Store().Snapshot()
		if snap.Topic("del-id") != nil || snap.Topic("keep") == nil {
			t.Fatal("wrong topics deleted")
		}
	})

	t.Run("disabled", func(t *testing.T) {
		_, addr2 := startTestBroker(t, "delete.topic.enable=false")
		_, adm2 := adminTestClients(t, addr2)
		if r, err := adm2.CreateTopic(ctx, 1, 1, nil, "stay"); err != nil {
			t.Fatalf("create: %v (%s)", err, r.ErrMessage)
		}
		rs, err := adm2.DeleteTopics(ctx, "stay")
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, "delete disabled", rs["stay"].Err, rs["stay"].ErrMessage, kerr.TopicDeletionDisabled)
	})
}

func TestAdminCreatePartitions(t *testing.T) {
	b, addr := startTestBroker(t)
	_, adm := adminTestClients(t, addr)
	ctx := adminCtxT(t)
	if r, err := adm.CreateTopic(ctx, 2, 1, nil, "grow"); err != nil {
		t.Fatalf("create: %v (%s)", err, r.ErrMessage)
	}

	rs, err := adm.ValidateUpdatePartitions(ctx, 10, "grow")
	if err != nil || rs["grow"].Err != nil {
		t.Fatalf("validate: %v %+v", err, rs["grow"])
	}
	if n := len(b.Store().Snapshot().Topic("grow").Partitions); n != 2 {
		t.Fatalf("validateOnly changed the count to %d", n)
	}

	rs, err = adm.UpdatePartitions(ctx, 5, "grow")
	if err != nil || rs["grow"].Err != nil {
		t.Fatalf("grow: %v %+v", err, rs["grow"])
	}
	tm := b.Store().Snapshot().Topic("grow")
	if len(tm.Partitions) != 5 {
		t.Fatalf("after grow: %d partitions", len(tm.Partitions))
	}
	// The new partitions are hosted (opened) right after the response.
	if b.partition("grow", 4) == nil {
		t.Error("partition 4 not hosted after CreatePartitions")
	}

	rs, _ = adm.UpdatePartitions(ctx, 3, "grow")
	wantErr(t, "shrink", rs["grow"].Err, rs["grow"].ErrMessage, kerr.InvalidPartitions)
	if want := "Topic currently has 5 partitions, which is higher than the requested 3."; rs["grow"].ErrMessage != want {
		t.Errorf("message %q, want %q", rs["grow"].ErrMessage, want)
	}
	rs, _ = adm.UpdatePartitions(ctx, 5, "grow")
	wantErr(t, "same count", rs["grow"].Err, rs["grow"].ErrMessage, kerr.InvalidPartitions)
	rs, _ = adm.UpdatePartitions(ctx, 5, "nope")
	wantErr(t, "unknown topic", rs["nope"].Err, rs["nope"].ErrMessage, kerr.UnknownTopicOrPartition)

	// Manual assignment: a wrong count and an unknown broker.
	cl, _ := adminTestClients(t, addr)
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic = "grow"
	rt.Count = 7
	a := kmsg.NewCreatePartitionsRequestTopicAssignment()
	a.Replicas = []int32{b.cfg.BrokerID}
	rt.Assignment = []kmsg.CreatePartitionsRequestTopicAssignment{a}
	dup := kmsg.NewCreatePartitionsRequestTopic()
	dup.Topic = "twice"
	dup.Count = 2
	req.Topics = []kmsg.CreatePartitionsRequestTopic{rt, dup, dup}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Topics {
		want := kerr.InvalidReplicaAssignment.Code
		if r.Topic == "twice" {
			want = kerr.InvalidRequest.Code
		}
		if r.ErrorCode != want {
			t.Errorf("%s: error %d, want %d", r.Topic, r.ErrorCode, want)
		}
	}
	a2 := kmsg.NewCreatePartitionsRequestTopicAssignment()
	a2.Replicas = []int32{b.cfg.BrokerID}
	req.Topics = req.Topics[:1]
	req.Topics[0].Assignment = append(req.Topics[0].Assignment, a2)
	if resp, err = req.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("manual assignment: %v %+v", err, resp)
	}
	if n := len(b.Store().Snapshot().Topic("grow").Partitions); n != 7 {
		t.Fatalf("after manual grow: %d partitions", n)
	}
}

func findConfig(t *testing.T, rc kadm.ResourceConfig, name string) kadm.Config {
	t.Helper()
	for _, c := range rc.Configs {
		if c.Key == name {
			return c
		}
	}
	t.Fatalf("%s: no config %s", rc.Name, name)
	return kadm.Config{}
}

func TestAdminDescribeConfigs(t *testing.T) {
	b, addr := startTestBroker(t, "log.retention.ms=3600000")
	cl, adm := adminTestClients(t, addr)
	ctx := adminCtxT(t)
	if r, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": sp("compact")}, "described"); err != nil {
		t.Fatalf("create: %v (%s)", err, r.ErrMessage)
	}

	rcs, err := adm.DescribeTopicConfigs(ctx, "described", "missing")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On("described", nil)
	if rc.Err != nil {
		t.Fatalf("describe: %v (%s)", rc.Err, rc.ErrMessage)
	}
	// Topic override.
	if c := findConfig(t, rc, "cleanup.policy"); c.MaybeValue() != "compact" || c.Source != kmsg.ConfigSourceDynamicTopicConfig ||
		len(c.Synonyms) < 2 || c.Synonyms[0].Source != kmsg.ConfigSourceDynamicTopicConfig || c.Synonyms[1].Key != "log.cleanup.policy" {
		t.Errorf("cleanup.policy = %+v", c)
	}
	// Static broker property.
	if c := findConfig(t, rc, "retention.ms"); c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceStaticBrokerConfig ||
		len(c.Synonyms) == 0 || c.Synonyms[0].Key != "log.retention.ms" || c.Synonyms[0].Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("retention.ms = %+v", c)
	}
	// Default.
	if c := findConfig(t, rc, "segment.bytes"); c.MaybeValue() != "1073741824" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("segment.bytes = %+v", c)
	}
	missing, _ := rcs.On("missing", nil)
	wantErr(t, "describe missing topic", missing.Err, missing.ErrMessage, kerr.UnknownTopicOrPartition)

	brs, err := adm.DescribeBrokerConfigs(ctx, b.cfg.BrokerID)
	if err != nil {
		t.Fatal(err)
	}
	if len(brs) != 1 || brs[0].Err != nil {
		t.Fatalf("broker configs: %+v", brs)
	}
	if c := findConfig(t, brs[0], "log.retention.ms"); c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("log.retention.ms = %+v", c)
	}
	if c := findConfig(t, brs[0], "num.partitions"); c.MaybeValue() != "1" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("num.partitions = %+v", c)
	}

	// "" is the cluster-wide default broker resource: only dynamic
	// defaults are listed (none yet), as Kafka lists them.
	if brs, err = adm.DescribeBrokerConfigs(ctx); err != nil || len(brs) != 1 || brs[0].Err != nil || len(brs[0].Configs) != 0 {
		t.Fatalf("default broker configs: %v %+v", err, brs)
	}

	// Raw: a name filter, documentation, types, another broker id, an
	// unsupported resource type.
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeDocumentation = true
	r1 := kmsg.NewDescribeConfigsRequestResource()
	r1.ResourceType = kmsg.ConfigResourceTypeTopic
	r1.ResourceName = "described"
	r1.ConfigNames = []string{"retention.ms", "cleanup.policy"}
	r2 := kmsg.NewDescribeConfigsRequestResource()
	r2.ResourceType = kmsg.ConfigResourceTypeBroker
	r2.ResourceName = strconv.Itoa(int(b.cfg.BrokerID) + 100)
	r3 := kmsg.NewDescribeConfigsRequestResource()
	r3.ResourceType = kmsg.ConfigResourceTypeClientMetrics
	r3.ResourceName = "x"
	req.Resources = []kmsg.DescribeConfigsRequestResource{r1, r2, r3}
	resp, err := req.RequestWith(ctx, cl.Broker(int(b.cfg.BrokerID)))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Resources) != 3 {
		t.Fatalf("resources: %+v", resp.Resources)
	}
	tr := resp.Resources[0]
	if tr.ErrorCode != 0 || len(tr.Configs) != 2 {
		t.Fatalf("filtered topic configs: %+v", tr)
	}
	for _, c := range tr.Configs {
		if c.ConfigSynonyms != nil && len(c.ConfigSynonyms) > 0 {
			t.Errorf("%s: synonyms without IncludeSynonyms", c.Name)
		}
		if resp.Version >= 3 && (c.Documentation == nil || c.ConfigType == 0) {
			t.Errorf("%s: no documentation or type at v%d", c.Name, resp.Version)
		}
		if c.Name == "cleanup.policy" && resp.Version >= 3 && c.ConfigType != kmsg.ConfigTypeList {
			t.Errorf("cleanup.policy type %v", c.ConfigType)
		}
	}
	if br := resp.Resources[1]; br.ErrorCode != kerr.InvalidRequest.Code || br.ErrorMessage == nil {
		t.Errorf("other broker id: %+v", br)
	}
	if cr := resp.Resources[2]; cr.ErrorCode != kerr.InvalidRequest.Code || cr.ErrorMessage == nil {
		t.Errorf("client metrics resource: %+v", cr)
	}
}

func TestAdminAlterConfigs(t *testing.T) {
	b, addr := startTestBroker(t)
	_, adm := adminTestClients(t, addr)
	ctx := adminCtxT(t)
	if r, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": sp("2000")}, "alter"); err != nil {
		t.Fatalf("create: %v (%s)", err, r.ErrMessage)
	}
	describe := func(name string) kadm.Config {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(ctx, "alter")
		if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
			t.Fatalf("describe: %v %+v", err, rcs)
		}
		return findConfig(t, rcs[0], name)
	}

	// Legacy AlterConfigs replaces every override.
	rs, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: sp("5000")}}, "alter")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter: %v %+v", err, rs)
	}
	if c := describe("retention.ms"); c.MaybeValue() != "5000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("retention.ms after alter = %+v", c)
	}
	if c := describe("max.message.bytes"); c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("max.message.bytes should be back to default: %+v", c)
	}
	// The hosted partition follows.
	if p := b.partition("alter", 0); p == nil || p.cfg.Load().Log.RetentionMs != 5*time.Second {
		t.Errorf("partition config not updated")
	}

	rs, _ = adm.ValidateAlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: sp("9")}}, "alter")
	if rs[0].Err != nil {
		t.Fatalf("validate: %+v", rs)
	}
	if c := describe("retention.ms"); c.MaybeValue() != "5000" {
		t.Errorf("validateOnly altered: %+v", c)
	}
	rs, _ = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: sp("x")}}, "alter")
	wantErr(t, "bad value", rs[0].Err, rs[0].ErrMessage, kerr.InvalidConfig)
	rs, _ = adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: sp("1")}}, "missing")
	wantErr(t, "unknown topic", rs[0].Err, rs[0].ErrMessage, kerr.UnknownTopicOrPartition)
	rs, _ = adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{{Name: "num.partitions", Value: sp("3")}}, b.cfg.BrokerID)
	wantErr(t, "broker config", rs[0].Err, rs[0].ErrMessage, kerr.InvalidRequest)

	// IncrementalAlterConfigs.
	inc := func(ops ...kadm.AlterConfig) (error, string) {
		t.Helper()
		rs, err := adm.AlterTopicConfigs(ctx, ops, "alter")
		if err != nil {
			t.Fatal(err)
		}
		return rs[0].Err, rs[0].ErrMessage
	}
	if err, msg := inc(kadm.AlterConfig{Op: kadm.SetConfig, Name: "segment.ms", Value: sp("60000")}); err != nil {
		t.Fatalf("set: %v (%s)", err, msg)
	}
	if c := describe("segment.ms"); c.MaybeValue() != "60000" {
		t.Errorf("segment.ms = %+v", c)
	}
	if c := describe("retention.ms"); c.MaybeValue() != "5000" {
		t.Errorf("incremental set lost retention.ms: %+v", c)
	}
	if err, msg := inc(kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"}); err != nil {
		t.Fatalf("delete: %v (%s)", err, msg)
	}
	if c := describe("retention.ms"); c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("retention.ms after delete = %+v", c)
	}
	if err, msg := inc(kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: sp("compact")}); err != nil {
		t.Fatalf("append: %v (%s)", err, msg)
	}
	if c := describe("cleanup.policy"); c.MaybeValue() != "delete,compact" {
		t.Errorf("cleanup.policy after append = %+v", c)
	}
	if err, msg := inc(kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: sp("delete")}); err != nil {
		t.Fatalf("subtract: %v (%s)", err, msg)
	}
	if c := describe("cleanup.policy"); c.MaybeValue() != "compact" {
		t.Errorf("cleanup.policy after subtract = %+v", c)
	}
	err, msg := inc(kadm.AlterConfig{Op: kadm.AppendConfig, Name: "retention.ms", Value: sp("1")})
	wantErr(t, "append to non-list", err, msg, kerr.InvalidConfig)
	err, msg = inc(kadm.AlterConfig{Op: kadm.SetConfig, Name: "segment.ms", Value: sp("1")},
		kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "segment.ms"})
	wantErr(t, "duplicate keys", err, msg, kerr.InvalidRequest)
	err, msg = inc(kadm.AlterConfig{Op: kadm.SetConfig, Name: "no.such.config", Value: sp("1")})
	wantErr(t, "unknown key", err, msg, kerr.InvalidConfig)
	err, msg = inc(kadm.AlterConfig{Op: kadm.SetConfig, Name: "segment.ms", Value: sp("-5")})
	wantErr(t, "bad value", err, msg, kerr.InvalidConfig)

	vrs, err := adm.ValidateAlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.ms", Value: sp("70000")}}, "alter")
	if err != nil || vrs[0].Err != nil {
		t.Fatalf("validate incremental: %v %+v", err, vrs)
	}
	if c := describe("segment.ms"); c.MaybeValue() != "60000" {
		t.Errorf("validateOnly altered segment.ms: %+v", c)
	}
}

func TestAdminDescribeCluster(t *testing.T) {
	b, addr := startTestBroker(t)
	cl, _ := adminTestClients(t, addr)
	ctx := adminCtxT(t)

	req := kmsg.NewPtrDescribeClusterRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 || resp.ClusterID == "" || resp.ClusterID != b.Store().ClusterID() {
		t.Fatalf("describe cluster: %+v", resp)
	}
	if resp.ControllerID != b.cfg.BrokerID {
		t.Errorf("controller %d, want %d", resp.ControllerID, b.cfg.BrokerID)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != b.cfg.BrokerID || resp.Brokers[0].Port == 0 || resp.Brokers[0].IsFenced {
		t.Errorf("brokers: %+v", resp.Brokers)
	}
	if resp.ClusterAuthorizedOperations != -2147483648 {
		t.Errorf("authorized ops not requested: %d", resp.ClusterAuthorizedOperations)
	}

	req.IncludeClusterAuthorizedOperations = true
	if resp, err = req.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	ops := kadm.DecodeACLOperations(resp.ClusterAuthorizedOperations)
	if !slices.Contains(ops, kmsg.ACLOperationDescribe) || !slices.Contains(ops, kmsg.ACLOperationIdempotentWrite) ||
		slices.Contains(ops, kmsg.ACLOperationRead) {
		t.Errorf("authorized ops %v", ops)
	}

	req.IncludeClusterAuthorizedOperations = false
	req.EndpointType = 2
	if resp, err = req.RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	if resp.Version >= 1 && (resp.ErrorCode != kerr.MismatchedEndpointType.Code || resp.ErrorMessage == nil) {
		t.Errorf("controller endpoint type: %+v", resp)
	}
}
