package broker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-io/samsa/broker/config"
)

// BenchmarkProduceSteadyACL16KiB is BenchmarkProduceSteady16KiB with the
// ACL authorizer on and an ACL granting the (PLAINTEXT, ANONYMOUS)
// producer WRITE: the per-connection decision cache keeps the check off
// the allocation count.
func BenchmarkProduceSteadyACL16KiB(b *testing.B) {
	cfg, err := config.NewBroker(map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": b.TempDir(),
		"authorizer.class.name": config.StandardAuthorizer, "allow.everyone.if.no.acl.found": "true",
	})
	if err != nil {
		b.Fatal(err)
	}
	br, err := New(cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := br.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	addr := br.Addrs()[0].String()
	// While the cluster has no ACL, anyone may create ACLs
	// (allow.everyone.if.no.acl.found): the topic's first, then the
	// cluster's.
	adm := kadm.NewClient(benchClient(b, addr))
	for _, acl := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:ANONYMOUS").Topics("steady").Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:ANONYMOUS").Clusters().Operations(kadm.OpCreate, kadm.OpAlter).ResourcePatternType(kadm.ACLPatternLiteral),
	} {
		res, err := adm.CreateACLs(ctx, acl)
		if err == nil {
			for _, r := range res {
				err = errors.Join(err, r.Err)
			}
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	benchProduceSteadyOn(b, addr, 16<<10)
}
