package broker

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
)

// aclBroker starts a broker with the authorizer on a SASL/PLAIN listener
// (users admin, a super user, alice and bob) and returns a client factory.
func aclBroker(t *testing.T, extra ...string) (*Broker, func(user string, opts ...kgo.Opt) *kgo.Client) {
	t.Helper()
	b, addr := startTestBroker(t, append([]string{
		"listeners=SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.enabled.mechanisms=PLAIN", "sasl.mechanism.inter.broker.protocol=PLAIN",
		"listener.name.sasl_plaintext.plain.sasl.jaas.config=" + plainJAAS,
		"authorizer.class.name=" + config.StandardAuthorizer,
		"super.users=User:admin",
	}, extra...)...)
	return b, func(user string, opts ...kgo.Opt) *kgo.Client {
		return secClient(t, addr, append(opts, kgo.SASL(plain.Auth{User: user, Pass: user + "-secret"}.AsMechanism()))...)
	}
}

func mustACLs(t *testing.T, adm *kadm.Client, b *kadm.ACLBuilder) {
	t.Helper()
	res, err := adm.CreateACLs(adminCtxT(t), b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("CreateACLs: %v", r.Err)
		}
	}
}

// TestACLScenarios: the scenarios through kadm against the ACL
// authorizer: a user allowed to write but not read a topic, a prefixed
// ACL, a group ACL, a deny overriding an allow; Metadata hides the topics
// a user may not describe; DescribeAcls and DeleteAcls; a user that is
// neither super user nor granted anything may not touch ACLs.
func TestACLScenarios(t *testing.T) {
	_, client := aclBroker(t)
	ctx := adminCtxT(t)
	adminCl := client("admin")
	admin := kadm.NewClient(adminCl)
	for _, topic := range []string{"orders", "logs-app", "logs-db", "secret"} {
		if _, err := admin.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	// alice may write orders, not read it; bob reads logs-* (prefixed)
	// with group readers, but is denied logs-db explicitly.
	mustACLs(t, admin, kadm.NewACLs().Allow("User:alice").Topics("orders").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	mustACLs(t, admin, kadm.NewACLs().Allow("User:bob").Topics("logs-").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternPrefixed))
	mustACLs(t, admin, kadm.NewACLs().Allow("User:bob").Groups("readers").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	mustACLs(t, admin, kadm.NewACLs().Deny("User:bob").DenyHosts("*").Topics("logs-db").Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternLiteral))

	alice := client("alice", kgo.DefaultProduceTopic("orders"))
	if err := alice.ProduceSync(ctx, &kgo.Record{Value: []byte("order-1")}).FirstErr(); err != nil {
		t.Fatalf("alice writes orders: %v", err)
	}
	// Reading orders: Fetch is refused.
	ids, err := admin.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fetchErr := func(cl *kgo.Client, topic string) error {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis, req.MaxBytes = 0, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, ids[topic].ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rp.CurrentLeaderEpoch = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
	}
	if err := fetchErr(alice, "orders"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice reads orders: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "secret", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("alice writes secret: %v", err)
	}

	bob := client("bob")
	if err := fetchErr(bob, "logs-app"); err != nil {
		t.Fatalf("bob reads logs-app (prefixed allow): %v", err)
	}
	if err := fetchErr(bob, "logs-db"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("bob reads logs-db (deny over the prefixed allow): %v", err)
	}
	// Metadata of all topics shows only what each may describe (READ and
	// WRITE imply DESCRIBE; the deny of ALL hides logs-db).
	names := func(cl *kgo.Client) []string {
		md, err := kadm.NewClient(cl).ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return md.Names()
	}
	if got := names(alice); !slices.Equal(got, []string{"orders"}) {
		t.Errorf("alice sees %v", got)
	}
	if got := names(bob); !slices.Equal(got, []string{"logs-app"}) {
		t.Errorf("bob sees %v", got)
	}
	if got := names(adminCl); len(got) != 4 {
		t.Errorf("admin (super user) sees %v", got)
	}
	// A named topic bob may not describe: TOPIC_AUTHORIZATION_FAILED.
	md, err := kadm.NewClient(bob).Metadata(ctx, "secret")
	if !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(md.Topics["secret"].Err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("bob's metadata of secret: %+v %v", md.Topics["secret"], err)
	}

	// Groups: bob may use group readers, not others.
	commit := func(cl *kgo.Client, grp string, topic ...string) error {
		tp := "logs-app"
		if len(topic) > 0 {
			tp = topic[0]
		}
		resp, err := kadm.NewClient(cl).CommitOffsets(ctx, grp, kadm.OffsetsFromRecords(kgo.Record{Topic: tp, Partition: 0, Offset: 0}))
		if err != nil {
			return err
		}
		return resp.Error()
	}
	if err := commit(bob, "readers"); err != nil {
		t.Fatalf("bob commits in readers: %v", err)
	}
	if err := commit(bob, "writers"); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Fatalf("bob commits in writers: %v, want GROUP_AUTHORIZATION_FAILED", err)
	}
	if err := commit(alice, "readers", "orders"); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Fatalf("alice commits in readers: %v", err)
	}

	// Describe and delete.
	described := func(res kadm.DescribeACLsResults, err error) int {
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("DescribeAcls: %v", r.Err)
			}
			n += len(r.Described)
		}
		return n
	}
	if n := described(admin.DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))); n != 4 {
		t.Fatalf("DescribeAcls of everything: %d bindings, want 4", n)
	}
	if n := described(admin.DescribeACLs(ctx, kadm.NewACLs().Topics("logs-db").Allow().AllowHosts().Deny().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternMatch))); n != 2 {
		t.Fatalf("DescribeAcls MATCH logs-db: %d bindings, want 2 (the prefixed allow and the literal deny)", n)
	}
	del, err := admin.DeleteACLs(ctx, kadm.NewACLs().Deny("User:bob").DenyHosts("*").Topics("logs-db").Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(del) != 1 || len(del[0].Deleted) != 1 {
		t.Fatalf("DeleteAcls: %+v %v", del, err)
	}
	if err := fetchErr(bob, "logs-db"); err != nil {
		t.Fatalf("bob reads logs-db once the deny is gone: %v", err)
	}
	// Without ALTER on the cluster, no ACL changes.
	res, err := kadm.NewClient(alice).CreateACLs(ctx, kadm.NewACLs().Allow("User:alice").Topics("secret").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice creating an ACL: %+v %v", res, err)
	}
}

// TestACLsAcrossBrokers: ACLs created through one broker govern another
// (they travel through etcd and the metadata watch).
func TestACLsAcrossBrokers(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2}, "authorizer.class.name="+config.StandardAuthorizer, "allow.everyone.if.no.acl.found=true")
	b1, b2 := c.brokers[1], c.brokers[2]
	ctx := adminCtxT(t)
	cl1, cl2 := secClient(t, b1.Addrs()[0].String()), secClient(t, b2.Addrs()[0].String())
	if _, err := kadm.NewClient(cl1).CreateTopic(ctx, 1, 1, nil, "shared"); err != nil {
		t.Fatal(err)
	}
	// No ACL on shared: allowed (allow.everyone.if.no.acl.found).
	if err := secClient(t, b2.Addrs()[0].String(), kgo.DefaultProduceTopic("shared")).ProduceSync(ctx, &kgo.Record{Value: []byte("1")}).FirstErr(); err != nil {
		t.Fatalf("produce before any ACL: %v", err)
	}
	mustACLs(t, kadm.NewClient(cl1), kadm.NewACLs().Deny("User:ANONYMOUS").DenyHosts("*").Topics("shared").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral))
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		err = secClient(t, b2.Addrs()[0].String(), kgo.DefaultProduceTopic("shared")).ProduceSync(ctx, &kgo.Record{Value: []byte("2")}).FirstErr()
		if errors.Is(err, kerr.TopicAuthorizationFailed) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("broker 2 after broker 1 created a deny: %v", err)
	}
	_ = cl2
}

// TestAuthorizerDecisions: the rules one by one, on the decide function.
func TestAuthorizerDecisions(t *testing.T) {
	mk := func(rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType, principal, host string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) coordinator.ACL {
		return coordinator.ACL{ResourceType: int8(rt), ResourceName: name, PatternType: int8(pt), Principal: principal, Host: host, Operation: int8(op), Permission: int8(perm)}
	}
	T, lit, pre := kmsg.ACLResourceTypeTopic, kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	allow, deny := kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny
	snap := &coordinator.Snapshot{ACLRevision: 1, ACLs: []coordinator.ACL{
		mk(T, "a", lit, "User:u", "*", kmsg.ACLOperationRead, allow),
		mk(T, "*", lit, "User:*", "10.0.0.9", kmsg.ACLOperationWrite, allow),
		mk(T, "p-", pre, "User:u", "*", kmsg.ACLOperationAlterConfigs, allow),
		mk(T, "p-x", lit, "User:u", "1.2.3.4", kmsg.ACLOperationAll, deny),
	}}
	a := &authorizer{superUsers: map[string]bool{"User:root": true}}
	idx := a.index(snap)
	for _, tc := range []struct {
		principal, host string
		op              kmsg.ACLOperation
		name            string
		want            bool
	}{
		{"User:u", "1.1.1.1", kmsg.ACLOperationRead, "a", true},
		{"User:u", "1.1.1.1", kmsg.ACLOperationDescribe, "a", true}, // READ implies DESCRIBE
		{"User:u", "1.1.1.1", kmsg.ACLOperationWrite, "a", false},
		{"User:v", "1.1.1.1", kmsg.ACLOperationRead, "a", false},
		{"User:v", "10.0.0.9", kmsg.ACLOperationWrite, "anything", true}, // wildcard name and principal, host match
		{"User:v", "10.0.0.8", kmsg.ACLOperationWrite, "anything", false},
		{"User:u", "1.1.1.1", kmsg.ACLOperationDescribeConfigs, "p-y", true}, // prefixed, ALTER_CONFIGS implies DESCRIBE_CONFIGS
		{"User:u", "1.1.1.1", kmsg.ACLOperationAlterConfigs, "p-x", true},
		{"User:u", "1.2.3.4", kmsg.ACLOperationAlterConfigs, "p-x", false}, // deny ALL from that host
		{"User:root", "1.2.3.4", kmsg.ACLOperationAlterConfigs, "p-x", true},
	} {
		if got := a.decide(idx, tc.principal, tc.host, tc.op, T, tc.name); got != tc.want {
			t.Errorf("%s@%s %v %s: %v, want %v", tc.principal, tc.host, tc.op, tc.name, got, tc.want)
		}
	}
	// No ACL matches a group at all: allow.everyone.if.no.acl.found decides.
	if a.decide(idx, "User:u", "h", kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, "g") {
		t.Error("no ACL, allow.everyone.if.no.acl.found=false: allowed")
	}
	a.allowIfNoACL = true
	if !a.decide(idx, "User:u", "h", kmsg.ACLOperationRead, kmsg.ACLResourceTypeGroup, "g") {
		t.Error("no ACL, allow.everyone.if.no.acl.found=true: denied")
	}
	if a.decide(idx, "User:v", "h", kmsg.ACLOperationRead, T, "a") {
		t.Error("an ACL exists for the topic: allow.everyone.if.no.acl.found must not apply")
	}
}

// TestAuthorizeAllocations: the check on the Produce and Fetch paths
// allocates nothing without an authorizer, nor when the connection's
// cache holds the decision.
func TestAuthorizeAllocations(t *testing.T) {
	b := &Broker{}
	rc := &reqCtx{conn: &conn{}}
	if n := testing.AllocsPerRun(1000, func() { b.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, "t") }); n != 0 {
		t.Fatalf("no authorizer: %v allocations per check", n)
	}
	ab, _ := aclBroker(t, "allow.everyone.if.no.acl.found=true")
	rc = &reqCtx{conn: &conn{auth: connAuth{principal: "User:alice"}}}
	ab.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, "t")
	if n := testing.AllocsPerRun(1000, func() { ab.authorize(rc, kmsg.ACLOperationWrite, kmsg.ACLResourceTypeTopic, "t") }); n != 0 {
		t.Fatalf("cached decision: %v allocations per check", n)
	}
	_ = context.Background
}
