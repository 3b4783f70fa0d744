package compat

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ACLs with Kafka's own tools (kafka-acls.sh = AclCommand, which is the
// Java admin client, and the console producer and consumer) against the
// ACL authorizer: a user allowed to write but not read a topic, a
// prefixed ACL, a group ACL, a deny overriding an allow, and listing and
// removing ACLs (matrix cells kafka-cli / acl-*).

const clsACLs = "org.apache.kafka.tools.AclCommand"

func TestACLTools(t *testing.T) {
	c := kafkaCLIClient
	scenarios := []string{"acl-write-not-read", "acl-prefixed", "acl-group", "acl-deny-over-allow", "acl-list-remove"}
	kt, err := newKafkaTools(t)
	if err != nil {
		failAll(t, c, scenarios, err)
		return
	}
	_, env := startSecuredSamsa(t,
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users=User:admin;User:ANONYMOUS",
		`listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";`,
	)
	var sasl secCase
	for _, sc := range env.cases {
		if sc.col == "sec-sasl-plain" {
			sasl = sc
		}
	}
	props := func(user string) string {
		sc := sasl
		sc.user, sc.pass = user, user+"-secret"
		p := filepath.Join(env.certs, user+".properties")
		os.WriteFile(p, []byte(javaSecProps(env, sc)+"request.timeout.ms=10000\ndefault.api.timeout.ms=15000\nmax.block.ms=10000\n"), 0o600)
		return p
	}
	admin, alice, bob := props("admin"), props("alice"), props("bob")
	run := func(ctx context.Context, stdin, cfg, class string, args ...string) (string, string, error) {
		return kt.run(ctx, stdin, class, append([]string{"--bootstrap-server", sasl.addr, "--command-config", cfg}, args...)...)
	}
	acls := func(ctx context.Context, args ...string) (string, error) {
		out, _, err := run(ctx, "", admin, clsACLs, args...)
		return out, err
	}
	produce := func(ctx context.Context, cfg, topic string, values ...string) (string, error) {
		_, stderr, err := run(ctx, strings.Join(values, "\n")+"\n", cfg, clsProducer, "--topic", topic)
		return stderr, err
	}
	consume := func(ctx context.Context, cfg, topic string, n int, extra ...string) (string, string, error) {
		return run(ctx, "", cfg, clsConsumer, append([]string{"--topic", topic, "--from-beginning", "--max-messages", strconv.Itoa(n),
			"--timeout-ms", "8000"}, extra...)...)
	}
	denied := func(out, stderr string) bool {
		s := out + stderr
		return strings.Contains(s, "AuthorizationException") || strings.Contains(s, "Not authorized")
	}
	for _, topic := range []string{"orders", "logs-app", "logs-secret"} {
		if err := fxCreateTopic(context.Background(), env.plain, topic, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := fxProduce(context.Background(), env.plain, "logs-app", []testRecord{{Value: []byte("a1")}, {Value: []byte("a2")}}); err != nil {
		t.Fatal(err)
	}
	if err := fxProduce(context.Background(), env.plain, "logs-secret", []testRecord{{Value: []byte("s1")}}); err != nil {
		t.Fatal(err)
	}

	runScenario(t, c, "acl-write-not-read", func(ctx context.Context, t *testing.T) error {
		if _, err := acls(ctx, "--add", "--allow-principal", "User:alice", "--operation", "Write", "--topic", "orders"); err != nil {
			return err
		}
		if stderr, err := produce(ctx, alice, "orders", "o1", "o2"); err != nil || denied("", stderr) {
			return fmt.Errorf("alice writes orders: %v %s", err, lastLines(stderr, 3))
		}
		out, stderr, _ := consume(ctx, alice, "orders", 2, "--group", "alice-g")
		if !denied(out, stderr) {
			return fmt.Errorf("alice read orders without READ: %s %s", out, lastLines(stderr, 3))
		}
		return nil
	})
	runScenario(t, c, "acl-prefixed", func(ctx context.Context, t *testing.T) error {
		if _, err := acls(ctx, "--add", "--allow-principal", "User:bob", "--operation", "Read", "--operation", "Describe",
			"--topic", "logs-", "--resource-pattern-type", "prefixed"); err != nil {
			return err
		}
		if _, err := acls(ctx, "--add", "--allow-principal", "User:bob", "--operation", "Read", "--group", "bobs"); err != nil {
			return err
		}
		out, stderr, err := consume(ctx, bob, "logs-app", 2, "--group", "bobs")
		if err != nil || strings.Join(strings.Fields(out), ",") != "a1,a2" {
			return fmt.Errorf("bob reads logs-app (prefixed ACL): %v %q %s", err, out, lastLines(stderr, 3))
		}
		return nil
	})
	runScenario(t, c, "acl-group", func(ctx context.Context, t *testing.T) error {
		out, stderr, _ := consume(ctx, bob, "logs-app", 2, "--group", "not-bobs")
		if !denied(out, stderr) || !strings.Contains(out+stderr, "Group") {
			return fmt.Errorf("bob used a group he has no ACL for: %q %s", out, lastLines(stderr, 3))
		}
		return nil
	})
	runScenario(t, c, "acl-deny-over-allow", func(ctx context.Context, t *testing.T) error {
		if _, err := acls(ctx, "--add", "--deny-principal", "User:bob", "--operation", "Read", "--topic", "logs-secret"); err != nil {
			return err
		}
		out, stderr, _ := consume(ctx, bob, "logs-secret", 1, "--group", "bobs")
		if !denied(out, stderr) {
			return fmt.Errorf("bob read logs-secret despite the deny: %q %s", out, lastLines(stderr, 3))
		}
		return nil
	})
	runScenario(t, c, "acl-list-remove", func(ctx context.Context, t *testing.T) error {
		out, err := acls(ctx, "--list")
		if err != nil {
			return err
		}
		for _, want := range []string{"name=orders, patternType=LITERAL", "name=logs-, patternType=PREFIXED", "principal=User:bob, host=*, operation=READ, permissionType=DENY"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("kafka-acls --list lacks %q:\n%s", want, out)
			}
		}
		if _, err := acls(ctx, "--remove", "--force", "--deny-principal", "User:bob", "--operation", "Read", "--topic", "logs-secret"); err != nil {
			return err
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			out, stderr, err := consume(ctx, bob, "logs-secret", 1, "--group", "bobs")
			if err == nil && strings.TrimSpace(out) == "s1" {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("bob still cannot read logs-secret after the deny was removed: %v %q %s", err, out, lastLines(stderr, 3))
			}
		}
	})
}
