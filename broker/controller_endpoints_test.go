package broker

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// freeTCPPorts returns n loopback ports that were free a moment ago.
func freeTCPPorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []net.Listener
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// Every advertised listener is registered, and each client is answered
// with the endpoints of the listener it connected through; a broker
// without that listener is left out (its partitions: LISTENER_NOT_FOUND).
// Replica fetchers get the inter-broker listener.
func TestListenersAnswerPerListener(t *testing.T) {
	ep, s := externalEtcd(t)
	ports := freeTCPPorts(t, 3)
	internal1, external1, internal2 := hostPort("127.0.0.1", ports[0]), hostPort("127.0.0.1", ports[1]), hostPort("127.0.0.1", ports[2])
	externalAdv := hostPort("localhost", ports[1])
	b1, _ := startTestBroker(t, "etcd.endpoints="+ep, "broker.id=1",
		"listeners=INTERNAL://"+internal1+",EXTERNAL://"+external1,
		"advertised.listeners=INTERNAL://"+internal1+",EXTERNAL://"+externalAdv,
		"listener.security.protocol.map=INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL", "offsets.topic.replication.factor=1")
	b2, _ := startTestBroker(t, "etcd.endpoints="+ep, "broker.id=2",
		"listeners=INTERNAL://"+internal2, "listener.security.protocol.map=INTERNAL:PLAINTEXT",
		"inter.broker.listener.name=INTERNAL", "offsets.topic.replication.factor=1")
	waitFor(t, "both registered", func() bool { return len(b1.store.Snapshot().Brokers) == 2 && len(b2.store.Snapshot().Brokers) == 2 })

	reg := s.Snapshot().Brokers[1]
	if len(reg.Endpoints) != 2 || reg.Endpoints[1].Name != "EXTERNAL" || reg.Endpoints[1].Host != "localhost" ||
		reg.Endpoints[1].Port != int32(ports[1]) || reg.Endpoints[1].SecurityProtocol != "PLAINTEXT" || reg.DirectoryID == "" {
		t.Fatalf("registration of broker 1: %+v", reg)
	}
	if addr, ok := b1.interBrokerAddr(2); !ok || addr != internal2 {
		t.Errorf("inter-broker address of 2: %q %v", addr, ok)
	}
	if addr, ok := b2.interBrokerAddr(1); !ok || addr != internal1 {
		t.Errorf("inter-broker address of 1: %q %v", addr, ok)
	}
	if _, ok := b1.interBrokerAddr(9); ok {
		t.Error("inter-broker address of an unknown broker")
	}
	if _, e, msg := b1.createTopic(testCtx(t), "on1", -1, -1, [][]int32{{1}}, nil, false); e != nil {
		t.Fatal(e, msg)
	}
	if _, e, msg := b1.createTopic(testCtx(t), "on2", -1, -1, [][]int32{{2}}, nil, false); e != nil {
		t.Fatal(e, msg)
	}
	waitFor(t, "leaders", func() bool {
		st1, _ := b1.store.Snapshot().Partition("on1", 0)
		st2, _ := b1.store.Snapshot().Partition("on2", 0)
		return st1.Leader == 1 && st2.Leader == 2 && b2.partition("on2", 0) != nil
	})

	brokersOf := func(md kadm.Metadata) map[int32]string {
		out := map[int32]string{}
		for _, b := range md.Brokers {
			out[b.NodeID] = hostPort(b.Host, int(b.Port))
		}
		return out
	}
	// Through EXTERNAL: only broker 1, at its external address.
	ext := kadm.NewClient(newClient(t, external1))
	md, err := ext.Metadata(testCtx(t), "on1", "on2")
	if err != nil {
		t.Fatal(err)
	}
	if got := brokersOf(md); len(got) != 1 || got[1] != externalAdv {
		t.Errorf("brokers through EXTERNAL: %v", got)
	}
	if p := md.Topics["on1"].Partitions[0]; p.Err != nil || p.Leader != 1 {
		t.Errorf("on1 through EXTERNAL: %+v", p)
	}
	if p := md.Topics["on2"].Partitions[0]; p.Err != kerr.ListenerNotFound || p.Leader != -1 || !slices.Contains(p.OfflineReplicas, 2) {
		t.Errorf("on2 through EXTERNAL: %+v, want LISTENER_NOT_FOUND", p)
	}
	// Through INTERNAL: both, at their internal addresses.
	in := kadm.NewClient(newClient(t, internal1))
	md, err = in.Metadata(testCtx(t), "on2")
	if err != nil {
		t.Fatal(err)
	}
	if got := brokersOf(md); len(got) != 2 || got[1] != internal1 || got[2] != internal2 {
		t.Errorf("brokers through INTERNAL: %v", got)
	}
	if p := md.Topics["on2"].Partitions[0]; p.Err != nil || p.Leader != 2 {
		t.Errorf("on2 through INTERNAL: %+v", p)
	}

	// DescribeCluster and FindCoordinator answer the same way.
	describe := func(addr string) map[int32]string {
		req := kmsg.NewPtrDescribeClusterRequest()
		resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]string{}
		for _, b := range resp.Brokers {
			out[b.NodeID] = hostPort(b.Host, int(b.Port))
		}
		return out
	}
	if got := describe(external1); len(got) != 1 || got[1] != externalAdv {
		t.Errorf("DescribeCluster through EXTERNAL: %v", got)
	}
	if got := describe(internal1); len(got) != 2 || got[2] != internal2 {
		t.Errorf("DescribeCluster through INTERNAL: %v", got)
	}
	// __consumer_offsets was created with broker 1 alone (and replication
	// factor 1, so it stays there): it coordinates every group.
	find := func(addr string) (string, int16) {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = "g"
		req.Version = 3
		resp, err := req.RequestWith(testCtx(t), newClient(t, addr))
		if err != nil {
			t.Fatal(err)
		}
		return hostPort(resp.Host, int(resp.Port)), resp.ErrorCode
	}
	if got, code := find(external1); code != 0 || got != externalAdv {
		t.Errorf("FindCoordinator through EXTERNAL: %s %v", got, kerr.ErrorForCode(code))
	}
	if got, code := find(internal1); code != 0 || got != internal1 {
		t.Errorf("FindCoordinator through INTERNAL: %s %v", got, kerr.ErrorForCode(code))
	}
}

// Combined mode: three brokers, each running a member of one 3-member
// etcd; with one closed the other two keep serving metadata and topic
// creation; the closed one rejoins from its data dir.
func TestCombinedModeThreeBrokers(t *testing.T) {
	ports := freeTCPPorts(t, 3)
	voters := fmt.Sprintf("1@127.0.0.1:%d,2@127.0.0.1:%d,3@127.0.0.1:%d", ports[0], ports[1], ports[2])
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	props := func(i int) []string {
		return []string{"node.id=" + strconv.Itoa(i+1), "process.roles=broker,controller",
			fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:%d", ports[i]),
			"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"controller.listener.names=CONTROLLER", "controller.quorum.voters=" + voters,
			"broker.session.timeout.ms=3000"}
	}
	brokers := make([]*Broker, 3)
	addrs := make([]string, 3)
	startAll := func(idx ...int) {
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for _, i := range idx {
			wg.Add(1)
			go func() {
				defer wg.Done()
				brokers[i], addrs[i], errs[i] = tryStartBroker(t, dirs[i], props(i)...)
			}()
		}
		wg.Wait()
		for _, i := range idx {
			if errs[i] != nil {
				t.Fatalf("broker %d: %v", i+1, errs[i])
			}
		}
	}
	startAll(0, 1, 2)
	ml, err := brokers[0].store.Client().MemberList(testCtx(t))
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list: %v %v", ml, err)
	}
	for _, b := range brokers {
		if b.store.ClusterID() != brokers[0].store.ClusterID() {
			t.Fatal("brokers in different clusters")
		}
	}
	waitFor(t, "three brokers registered", func() bool { return len(brokers[0].store.Snapshot().Brokers) == 3 })

	if err := brokers[2].Close(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(newClient(t, addrs[0]))
	resp, err := adm.CreateTopic(testCtx(t), 3, 2, nil, "while-two")
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic with two of three: %v %v", err, resp.Err)
	}
	waitFor(t, "the other survivor sees the topic and two brokers", func() bool {
		snap := brokers[1].store.Snapshot()
		return snap.Topic("while-two") != nil && len(snap.Brokers) == 2
	})
	md, err := kadm.NewClient(newClient(t, addrs[1])).Metadata(testCtx(t), "while-two")
	if err != nil || len(md.Brokers) != 2 || md.Topics["while-two"].Err != nil || len(md.Topics["while-two"].Partitions) != 3 {
		t.Fatalf("metadata from the other survivor: %+v %v", md, err)
	}
	produceRecords(t, addrs[1], "while-two", "v")

	startAll(2)
	waitFor(t, "the rejoined broker sees the topic", func() bool { return brokers[2].store.Snapshot().Topic("while-two") != nil })
	ml, err = brokers[2].store.Client().MemberList(testCtx(t))
	if err != nil || len(ml.Members) != 3 {
		t.Fatalf("member list after rejoin: %v %v", ml, err)
	}
	waitFor(t, "three brokers registered again", func() bool { return len(brokers[0].store.Snapshot().Brokers) == 3 })
	_ = time.Second
}
