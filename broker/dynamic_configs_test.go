package broker

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// incAlter sends one IncrementalAlterConfigs resource and returns its error
// code and message.
func incAlter(t *testing.T, addr string, typ kmsg.ConfigResourceType, name string, validateOnly bool, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) (int16, string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.ValidateOnly = validateOnly
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName, r.Configs = typ, name, ops
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	msg := ""
	if m := resp.Resources[0].ErrorMessage; m != nil {
		msg = *m
	}
	return resp.Resources[0].ErrorCode, msg
}

func setOp(name, value string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = name, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(value)
	return c
}

func deleteOp(name string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op = name, kmsg.IncrementalAlterConfigOpDelete
	return c
}

// describeOne describes one config of one resource with synonyms.
func describeOne(t *testing.T, addr string, typ kmsg.ConfigResourceType, name, config string) kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName, r.ConfigNames = typ, name, []string{config}
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	if res := resp.Resources[0]; res.ErrorCode != 0 || len(res.Configs) != 1 {
		t.Fatalf("describe %s %q %s: error %d, %d configs", typ, name, config, res.ErrorCode, len(res.Configs))
	}
	return resp.Resources[0].Configs[0]
}

func synonymSources(c kmsg.DescribeConfigsResponseResourceConfig) []kmsg.ConfigSource {
	var out []kmsg.ConfigSource
	for _, s := range c.ConfigSynonyms {
		out = append(out, s.Source)
	}
	return out
}

// produceSize produces one record of n bytes to partition 0 of topic and
// returns the error code.
func produceSize(t *testing.T, addr, topic string, n int) int16 {
	t.Helper()
	b := rawBatchValue(time.Now().UnixMilli(), bytes.Repeat([]byte("x"), n))
	return produceAt(t, addr, topic, 9, b).ErrorCode
}

func rawBatchValue(now int64, value []byte) []byte {
	r := kmsg.NewRecord()
	r.Key = []byte("k")
	r.Value = value
	r.Length = int32(len(r.AppendTo(nil)) - 1)
	recs := r.AppendTo(nil)
	rb := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: recs}
	rb.Length = int32(49 + len(recs))
	return fixBatchCRC(rb.AppendTo(nil))
}

// TestDynamicBrokerConfigs: kafka-configs.sh --alter --entity-type brokers
// (--entity-default / --entity-name 1) changes a dynamic broker property
// without a restart, per broker over cluster-wide over static, is
// described with those sources, survives a restart, and refuses what
// Kafka cannot alter at run time.
func TestDynamicBrokerConfigs(t *testing.T) {
	dir := t.TempDir()
	b, addr := startTestBrokerIn(t, dir, "message.max.bytes=5000")
	createTopic(t, addr, "dyn", 1, nil)
	id := strconv.Itoa(int(b.cfg.BrokerID))

	if code := produceSize(t, addr, "dyn", 2000); code != 0 {
		t.Fatalf("2000 bytes under the static 5000: error %d", code)
	}
	if code, msg := incAlter(t, addr, kmsg.ConfigResourceTypeBroker, "", false, setOp("message.max.bytes", "1500")); code != 0 {
		t.Fatalf("cluster-wide message.max.bytes: %d %s", code, msg)
	}
	if code := produceSize(t, addr, "dyn", 2000); code != kerr.MessageTooLarge.Code {
		t.Fatalf("2000 bytes after the cluster-wide 1500: error %d, want MESSAGE_TOO_LARGE", code)
	}
	c := describeOne(t, addr, kmsg.ConfigResourceTypeBroker, id, "message.max.bytes")
	if *c.Value != "1500" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig || c.ReadOnly ||
		!slicesEqual(synonymSources(c), []kmsg.ConfigSource{kmsg.ConfigSourceDynamicDefaultBrokerConfig, kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigSourceDefaultConfig}) {
		t.Fatalf("message.max.bytes described as %+v", c)
	}
	if c := describeOne(t, addr, kmsg.ConfigResourceTypeBroker, "", "message.max.bytes"); *c.Value != "1500" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("default resource: %+v", c)
	}

	// Per broker wins over the cluster default.
	if code, msg := incAlter(t, addr, kmsg.ConfigResourceTypeBroker, id, false, setOp("message.max.bytes", "3000")); code != 0 {
		t.Fatalf("per-broker message.max.bytes: %d %s", code, msg)
	}
	if code := produceSize(t, addr, "dyn", 2000); code != 0 {
		t.Fatalf("2000 bytes under the per-broker 3000: error %d", code)
	}
	if c := describeOne(t, addr, kmsg.ConfigResourceTypeTopic, "dyn", "max.message.bytes"); *c.Value != "3000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("topic max.message.bytes: %+v", c)
	}

	// A topic default the storage applies: log.retention.ms.
	if code, msg := incAlter(t, addr, kmsg.ConfigResourceTypeBroker, "", false, setOp("log.retention.ms", "7200000")); code != 0 {
		t.Fatalf("log.retention.ms: %d %s", code, msg)
	}
	if got := b.partition("dyn", 0).cfg.Load().Log.RetentionMs; got != 2*time.Hour {
		t.Fatalf("partition retention %v after the dynamic default, want 2h", got)
	}

	// Refused as Kafka refuses them, and validate-only writes nothing.
	for _, op := range []kmsg.IncrementalAlterConfigsRequestResourceConfig{
		setOp("log.retention.hours", "1"), setOp("num.partitions", "3"), setOp("message.max.bytes", "-1"), setOp("max.connections.per.ip", "0"),
	} {
		if code, msg := incAlter(t, addr, kmsg.ConfigResourceTypeBroker, id, false, op); code != kerr.InvalidRequest.Code || msg == "" {
			t.Errorf("%s=%s: error %d %q, want INVALID_REQUEST with a message", op.Name, *op.Value, code, msg)
		}
	}
	if code, _ := incAlter(t, addr, kmsg.ConfigResourceTypeBroker, id, true, setOp("message.max.bytes", "100")); code != 0 {
		t.Fatalf("validate-only: %d", code)
	}
	if code := produceSize(t, addr, "dyn", 2000); code != 0 {
		t.Fatalf("a validate-only alter took effect: error %d", code)
	}

	// The dynamic values survive a restart.
	b.Close()
	b, addr = startTestBrokerIn(t, dir, "message.max.bytes=5000")
	if code := produceSize(t, addr, "dyn", 4000); code != kerr.MessageTooLarge.Code {
		t.Fatalf("4000 bytes after a restart with the per-broker 3000: error %d", code)
	}
	if got := b.partition("dyn", 0).cfg.Load().Log.RetentionMs; got != 2*time.Hour {
		t.Fatalf("partition retention %v after a restart, want 2h", got)
	}

	// Deleting both levels leaves the static value.
	incAlter(t, addr, kmsg.ConfigResourceTypeBroker, id, false, deleteOp("message.max.bytes"))
	incAlter(t, addr, kmsg.ConfigResourceTypeBroker, "", false, deleteOp("message.max.bytes"), deleteOp("log.retention.ms"))
	if c := describeOne(t, addr, kmsg.ConfigResourceTypeBroker, id, "message.max.bytes"); *c.Value != "5000" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Fatalf("after deletion: %+v", c)
	}
	if code := produceSize(t, addr, "dyn", 4000); code != 0 {
		t.Fatalf("4000 bytes under the static 5000 again: error %d", code)
	}
}

// TestDynamicConnectionLimit: max.connections.per.ip altered at run time
// caps new connections at once.
func TestDynamicConnectionLimit(t *testing.T) {
	b, addr := startTestBroker(t)
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.Configs = kmsg.ConfigResourceTypeBroker, []kmsg.IncrementalAlterConfigsRequestResourceConfig{setOp("max.connections.per.ip", "2")}
	req.Resources = append(req.Resources, r)
	cl := newClient(t, addr)
	if resp, err := req.RequestWith(testCtx(t), cl); err != nil || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("max.connections.per.ip: %v %+v", err, resp)
	}
	cl.Close()
	waitConns(t, b, 0)
	for i := 0; i < 2; i++ {
		if !dialRaw(t, addr).apiVersions() {
			t.Fatalf("connection %d refused under max.connections.per.ip=2", i+1)
		}
	}
	if !dialRaw(t, addr).waitClosed() {
		t.Fatal("a third connection from the address stays open under max.connections.per.ip=2")
	}
}

// TestGroupConfigsAct: kafka-configs.sh --entity-type groups sets a
// KIP-848 group's heartbeat interval, which its members are given at once;
// values outside the broker's bounds are INVALID_CONFIG.
func TestGroupConfigsAct(t *testing.T) {
	_, addr := startTestBroker(t)
	createTopic(t, addr, "gc", 1, nil)
	cl := newClient(t, addr)
	hb := func(member string, epoch int32) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberID, req.MemberEpoch = "gcg", member, epoch
		req.RebalanceTimeoutMillis = 10000
		if epoch == 0 {
			req.SubscribedTopicNames = []string{"gc"}
			req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		}
		var resp *kmsg.ConsumerGroupHeartbeatResponse
		deadline := time.Now().Add(15 * time.Second)
		for {
			r, err := req.RequestWith(testCtx(t), cl)
			if err != nil {
				t.Fatal(err)
			}
			resp = r
			if resp.ErrorCode != kerr.CoordinatorLoadInProgress.Code && resp.ErrorCode != kerr.CoordinatorNotAvailable.Code || time.Now().After(deadline) {
				return resp
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	m := hb("m1", 0)
	if m.ErrorCode != 0 || m.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("join: %+v", m)
	}
	if code, msg := incAlter(t, addr, kmsg.ConfigResourceTypeGroupConfig, "gcg", false, setOp("consumer.heartbeat.interval.ms", "7000")); code != 0 {
		t.Fatalf("group config: %d %s", code, msg)
	}
	if r := hb("m1", m.MemberEpoch); r.ErrorCode != 0 || r.HeartbeatIntervalMillis != 7000 {
		t.Fatalf("heartbeat after the group config: %+v", r)
	}
	c := describeOne(t, addr, kmsg.ConfigResourceTypeGroupConfig, "gcg", "consumer.heartbeat.interval.ms")
	if *c.Value != "7000" || c.Source != kmsg.ConfigSourceGroupConfig || len(c.ConfigSynonyms) != 2 || c.ConfigSynonyms[1].Name != "group.consumer.heartbeat.interval.ms" {
		t.Fatalf("described as %+v", c)
	}
	if code, msg := incAlter(t, addr, kmsg.ConfigResourceTypeGroupConfig, "gcg", false, setOp("consumer.session.timeout.ms", "1000")); code != kerr.InvalidConfig.Code ||
		msg != "consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive." {
		t.Fatalf("out of range: %d %q", code, msg)
	}
	// A group that does not exist yet may be given configs.
	if code, _ := incAlter(t, addr, kmsg.ConfigResourceTypeGroupConfig, "later", false, setOp("consumer.session.timeout.ms", "50000")); code != 0 {
		t.Fatalf("configs of a group to come: %d", code)
	}
	if code, _ := incAlter(t, addr, kmsg.ConfigResourceTypeGroupConfig, "gcg", false, deleteOp("consumer.heartbeat.interval.ms")); code != 0 {
		t.Fatal("delete")
	}
	if r := hb("m1", m.MemberEpoch); r.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("heartbeat after the deletion: %+v", r)
	}
}

// TestInternalTopicConfigs: __consumer_offsets is described with the
// overrides Kafka creates it with.
func TestInternalTopicConfigs(t *testing.T) {
	_, addr := startTestBroker(t)
	adm := kadm.NewClient(newClient(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rcs, err := adm.DescribeTopicConfigs(ctx, "__consumer_offsets")
	if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe: %v %+v", err, rcs)
	}
	for name, want := range map[string]string{"cleanup.policy": "compact", "segment.bytes": "104857600", "compression.type": "producer"} {
		c := findConfig(t, rcs[0], name)
		if c.MaybeValue() != want || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("%s = %q (%v), want %q set on the topic", name, c.MaybeValue(), c.Source, want)
		}
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
