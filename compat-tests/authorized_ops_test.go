package compat

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestAuthorizedOperationsLibrdkafka: librdkafka's DescribeCluster and
// DescribeTopics with include-authorized-operations read the cluster's and
// topics' authorized operations from Metadata v8-v10 (KIP-430): with the
// ACL authorizer on, a super user is allowed every operation of the
// resource type, a user with READ on one topic READ and the DESCRIBE it
// implies, and nothing on the cluster; without the option nothing is
// reported.
func TestAuthorizedOperationsLibrdkafka(t *testing.T) {
	if os.Getenv(externalBrokerEnv) != "" {
		t.Skip("needs its own broker process")
	}
	_, env := startSecuredSamsa(t,
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users=User:admin;User:ANONYMOUS",
		`listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret";`,
	)
	var sasl secCase
	for _, sc := range env.cases {
		if sc.col == "sec-sasl-plain" {
			sasl = sc
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := fxCreateTopic(ctx, env.plain, "ops", 1, nil); err != nil {
		t.Fatal(err)
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(env.plain))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	acl := kadm.NewACLs().Allow("User:alice").Topics("ops").Operations(kadm.OpRead)
	if res, err := kadm.NewClient(pcl).CreateACLs(ctx, acl); err != nil || res[0].Err != nil {
		t.Fatalf("CreateACLs: %v %+v", err, res)
	}

	admin := func(user string) *kafka.AdminClient {
		t.Helper()
		sc := sasl
		sc.user, sc.pass = user, user+"-secret"
		cm := kafka.ConfigMap{"bootstrap.servers": sc.addr, "log_level": 4}
		for k, v := range rdkafkaProps(env, sc) {
			cm[k] = v
		}
		a, err := kafka.NewAdminClient(&cm)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		return a
	}
	sorted := func(ops []kafka.ACLOperation) []kafka.ACLOperation {
		out := slices.Clone(ops)
		slices.Sort(out)
		return out
	}
	topicOps := func(a *kafka.AdminClient, include bool) []kafka.ACLOperation {
		t.Helper()
		res, err := a.DescribeTopics(ctx, kafka.NewTopicCollectionOfTopicNames([]string{"ops"}),
			kafka.SetAdminOptionIncludeAuthorizedOperations(include))
		if err != nil || len(res.TopicDescriptions) != 1 || res.TopicDescriptions[0].Error.Code() != kafka.ErrNoError {
			t.Fatalf("DescribeTopics: %v %+v", err, res)
		}
		return sorted(res.TopicDescriptions[0].AuthorizedOperations)
	}
	clusterOps := func(a *kafka.AdminClient, include bool) []kafka.ACLOperation {
		t.Helper()
		res, err := a.DescribeCluster(ctx, kafka.SetAdminOptionIncludeAuthorizedOperations(include))
		if err != nil {
			t.Fatalf("DescribeCluster: %v", err)
		}
		return sorted(res.AuthorizedOperations)
	}

	super := admin("admin")
	allTopic := sorted([]kafka.ACLOperation{kafka.ACLOperationRead, kafka.ACLOperationWrite, kafka.ACLOperationCreate,
		kafka.ACLOperationDelete, kafka.ACLOperationAlter, kafka.ACLOperationDescribe,
		kafka.ACLOperationDescribeConfigs, kafka.ACLOperationAlterConfigs})
	allCluster := sorted([]kafka.ACLOperation{kafka.ACLOperationCreate, kafka.ACLOperationClusterAction,
		kafka.ACLOperationDescribeConfigs, kafka.ACLOperationAlterConfigs, kafka.ACLOperationIdempotentWrite,
		kafka.ACLOperationAlter, kafka.ACLOperationDescribe})
	if got := topicOps(super, true); !slices.Equal(got, allTopic) {
		t.Errorf("super user's topic operations %v, want %v", got, allTopic)
	}
	if got := clusterOps(super, true); !slices.Equal(got, allCluster) {
		t.Errorf("super user's cluster operations %v, want %v", got, allCluster)
	}
	if got := topicOps(super, false); len(got) != 0 {
		t.Errorf("topic operations reported without being asked for: %v", got)
	}
	if got := clusterOps(super, false); len(got) != 0 {
		t.Errorf("cluster operations reported without being asked for: %v", got)
	}

	alice := admin("alice")
	if got, want := topicOps(alice, true), sorted([]kafka.ACLOperation{kafka.ACLOperationRead, kafka.ACLOperationDescribe}); !slices.Equal(got, want) {
		t.Errorf("alice's topic operations %v, want %v (READ implies DESCRIBE)", got, want)
	}
	if got := clusterOps(alice, true); len(got) != 0 {
		t.Errorf("alice's cluster operations %v, want none", got)
	}
}
