package devcluster

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func admin(t *testing.T, bootstrap ...string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// TestHostIsolatesClusters: two virtual clusters of one host have their
// own ports, cluster ids and topics; deleting one removes its directory
// and its etcd keys and leaves the other serving; closing the host removes
// its directory.
func TestHostIsolatesClusters(t *testing.T) {
	parent := t.TempDir()
	h, err := NewHost(HostOptions{Parent: parent, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	a, err := h.Create(ctx, Spec{ID: "a", Properties: map[string]string{"auto.create.topics.enable": "false"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Create(ctx, Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if b.ID() != "vc-1" || a.Bootstrap() == b.Bootstrap() || a.ClusterID() == b.ClusterID() {
		t.Fatalf("clusters a=%s %s %s, b=%s %s %s: want distinct ports and ids", a.ID(), a.Bootstrap(), a.ClusterID(), b.ID(), b.Bootstrap(), b.ClusterID())
	}
	if _, err := h.Create(ctx, Spec{ID: "a"}); !errors.Is(err, ErrExists) {
		t.Fatalf("second cluster a: %v, want ErrExists", err)
	}
	if _, err := h.Create(ctx, Spec{ID: "../x"}); !errors.Is(err, ErrBadID) {
		t.Fatalf("cluster ../x: %v, want ErrBadID", err)
	}
	admA, admB := admin(t, a.Bootstrap()), admin(t, b.Bootstrap())
	if _, err := admA.CreateTopic(ctx, 1, 1, nil, "only-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := admB.CreateTopic(ctx, 1, 1, nil, "only-b"); err != nil {
		t.Fatal(err)
	}
	ta, err := admA.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := admB.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ta.Has("only-a") || ta.Has("only-b") || !tb.Has("only-b") || tb.Has("only-a") {
		t.Fatalf("a sees %v, b sees %v: each must see its own topic only", ta.Names(), tb.Names())
	}
	if got := len(h.List()); got != 2 {
		t.Fatalf("List: %d clusters", got)
	}

	dirA := a.DataDir()
	if err := h.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dirA); !os.IsNotExist(err) {
		t.Fatalf("the deleted cluster's directory %s is still there: %v", dirA, err)
	}
	resp, err := h.cli.Get(ctx, h.prefix("a"), clientPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 0 {
		t.Fatalf("%d etcd keys of the deleted cluster are left", resp.Count)
	}
	if tb, err = admB.ListTopics(ctx); err != nil || !tb.Has("only-b") {
		t.Fatalf("b after a was deleted: %v %v", tb.Names(), err)
	}
	if err := h.Delete("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a twice: %v", err)
	}
	root := h.Root()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("the host's directory %s is still there after Close: %v", root, err)
	}
}

// TestHostKeepsWhatItDidNotMake: a cluster directory whose owner marker
// is not the host's is not removed by Delete, nor the host's root by
// Close: nothing deletes a directory it did not make.
func TestHostKeepsWhatItDidNotMake(t *testing.T) {
	h, err := NewHost(HostOptions{Parent: t.TempDir(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	c, err := h.Create(ctx, Spec{ID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	dir := c.DataDir()
	// Someone else's data where the cluster's was (the marker replaced).
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte("someone else\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Delete("c"); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Delete of a directory with a foreign marker: %v, want ErrNotOwned", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "broker-1")); err != nil {
		t.Fatalf("the directory was removed anyway: %v", err)
	}
	root := h.Root()
	os.Remove(filepath.Join(root, ownerFile))
	if err := h.Close(); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Close with the root's marker gone: %v, want ErrNotOwned", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("Close removed a root it could not prove its own: %v", err)
	}
}

// TestClusterBrokers: a three-broker cluster registers every broker on
// consecutive ports; one killed leaves the others serving and comes back
// on its port.
func TestClusterBrokers(t *testing.T) {
	ctx := testCtx(t)
	port := freeBase(t, 3)
	c, err := Start(ctx, Options{Brokers: 3, Port: port, DataDir: t.TempDir(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	adm := admin(t, c.Addrs()...)
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 3 {
		t.Fatalf("metadata lists %d brokers, want 3", len(md.Brokers))
	}
	for i, b := range md.Brokers {
		if b.NodeID != int32(i+1) || int(b.Port) != port+i {
			t.Fatalf("broker %d at port %d, want %d at %d", b.NodeID, b.Port, i+1, port+i)
		}
	}
	if err := c.Kill(2); err != nil {
		t.Fatal(err)
	}
	if st := c.Brokers()[1]; st.State != StateKilled {
		t.Fatalf("broker 2 state %s", st.State)
	}
	if _, err := admin(t, c.Addrs()...).ListTopics(ctx); err != nil {
		t.Fatalf("the other brokers after broker 2 was killed: %v", err)
	}
	if err := c.StartBroker(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if b := c.Broker(2); b == nil || b.KafkaAddr() != net.JoinHostPort("127.0.0.1", itoa(port+1)) {
		t.Fatalf("broker 2 after restart: %v", b)
	}
}

// freeBase finds n consecutive free loopback ports.
func freeBase(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		ports, err := freePorts(1)
		if err != nil {
			t.Fatal(err)
		}
		base, ok := ports[0], true
		for i := 0; i < n && ok; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", itoa(base+i)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no consecutive free ports")
	return 0
}

func itoa(n int) string { return strconv.Itoa(n) }

func clientPrefix() clientv3.OpOption { return clientv3.WithPrefix() }
