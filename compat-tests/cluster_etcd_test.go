package compat

// A 3-member etcd embedded in the test process, for the cluster tests: the
// external etcd cluster the brokers share (--etcd-endpoints), each broker
// reaching it through proxies of its own (cluster_harness_test.go).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// etcdReadyTimeout bounds the wait for the members to elect a leader.
const etcdReadyTimeout = 30 * time.Second

// etcdCluster is n etcd members on loopback ports, one data dir each.
type etcdCluster struct {
	members []*embed.Etcd
	// ClientAddrs are the members' client addresses (host:port), by
	// member index.
	ClientAddrs []string
}

// startEtcdCluster starts an n-member etcd and waits until every member
// serves. It is stopped when the test ends.
func startEtcdCluster(t testing.TB, n int) *etcdCluster {
	t.Helper()
	ports := stablePorts(t, 2*n)
	clientPorts, peerPorts := ports[:n], ports[n:]
	names := make([]string, n)
	peers := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("etcd%d", i+1)
		peers[i] = names[i] + "=http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPorts[i]))
	}
	initial := strings.Join(peers, ",")
	token := fmt.Sprintf("samsa-compat-%d", time.Now().UnixNano())

	ec := &etcdCluster{members: make([]*embed.Etcd, n), ClientAddrs: make([]string, n)}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		curl := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPorts[i]))}
		purl := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPorts[i]))}
		ec.ClientAddrs[i] = curl.Host
		cfg := embed.NewConfig()
		cfg.Name = names[i]
		cfg.Dir = t.TempDir()
		cfg.ListenClientUrls = []url.URL{curl}
		cfg.AdvertiseClientUrls = []url.URL{curl}
		cfg.ListenPeerUrls = []url.URL{purl}
		cfg.AdvertisePeerUrls = []url.URL{purl}
		cfg.InitialCluster = initial
		cfg.InitialClusterToken = token
		cfg.ClusterState = embed.ClusterStateFlagNew
		// Loopback, but a loaded 2-core machine: 50 ms heartbeats and a
		// 1 s election timeout keep the members from electing each other
		// at random, and still come up in about a second.
		cfg.TickMs = 50
		cfg.ElectionMs = 1000
		cfg.EnableGRPCGateway = false
		cfg.EnablePprof = false
		cfg.ListenMetricsUrls = nil
		cfg.Metrics = "basic"
		cfg.LogLevel = "error"
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			e, err := embed.StartEtcd(cfg)
			if err != nil {
				errs[i] = fmt.Errorf("etcd member %s: %w", names[i], err)
				return
			}
			ec.members[i] = e
			select {
			case <-e.Server.ReadyNotify():
			case err := <-e.Err():
				errs[i] = fmt.Errorf("etcd member %s failed: %w", names[i], err)
			case <-time.After(etcdReadyTimeout):
				errs[i] = fmt.Errorf("etcd member %s not ready after %v", names[i], etcdReadyTimeout)
			}
		}(i)
	}
	wg.Wait()
	t.Cleanup(ec.close)
	for _, err := range errs {
		if err != nil {
			t.Fatalf("starting a %d-member etcd: %v", n, err)
		}
	}
	return ec
}

func (ec *etcdCluster) close() {
	// One after the other: members stopped together each wait for the
	// others' answers (leadership transfer) and take several seconds.
	for _, e := range ec.members {
		if e != nil {
			e.Close()
		}
	}
}

// stablePorts returns n distinct loopback ports that are free now and
// outside the kernel's ephemeral range, so that nothing else on the machine
// is handed one of them as the port of a listener on port 0 or of an
// outgoing connection: a broker restarted on its port finds it free.
func stablePorts(t testing.TB, n int) []int {
	t.Helper()
	lo := 32768 // Linux's default ip_local_port_range starts here
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				lo = v
			}
		}
	}
	const from = 20000
	if lo <= from+1000 {
		return freePorts(t, n) // no room below the ephemeral range
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100*n {
			t.Fatalf("no %d free ports in [%d, %d)", n, from, lo)
		}
		port := from + rand.IntN(lo-from)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		if claimPort(port) {
			ports = append(ports, port)
		}
	}
	return ports
}

// freePorts returns n distinct loopback ports that were free a moment ago
// (all listeners are held until all ports are known).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000*n {
			t.Fatalf("no %d free ports not handed out before", n)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		ls = append(ls, l) // held, so the kernel offers another one next
		if port := l.Addr().(*net.TCPAddr).Port; claimPort(port) {
			ports = append(ports, port)
		}
	}
	return ports
}

// etcdPartitionState is the part of a partition's state in etcd
// (partitions/<topic-id>/<n>, coordinator.PartitionState) the tests read.
type etcdPartitionState struct {
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	ISR         []int32 `json:"isr"`
}

// etcdPartition reads a partition's state straight from the cluster's etcd
// (under samsa's default prefix): what the controller last wrote, with no
// broker's snapshot in between.
func (c *Cluster) etcdPartition(topic string, p int32) (etcdPartitionState, error) {
	var st etcdPartitionState
	if c.etcd == nil {
		return st, fmt.Errorf("no etcd in the test process (combined mode)")
	}
	var m *kmsg.MetadataResponse
	var err error
	for _, b := range c.Running() {
		if m, err = b.Metadata([]string{topic}); err == nil {
			break
		}
	}
	if m == nil {
		return st, fmt.Errorf("metadata: %v", err)
	}
	if m.ClusterID == nil || len(m.Topics) != 1 {
		return st, fmt.Errorf("metadata without cluster id or topic %s", topic)
	}
	id := m.Topics[0].TopicID
	key := fmt.Sprintf("/samsa/%s/partitions/%s/%d", *m.ClusterID, base64.RawURLEncoding.EncodeToString(id[:]), p)
	cl, err := clientv3.New(clientv3.Config{Endpoints: c.etcd.ClientAddrs, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return st, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.Get(ctx, key)
	if err != nil {
		return st, err
	}
	if len(resp.Kvs) != 1 {
		return st, fmt.Errorf("etcd has no key %s", key)
	}
	err = json.Unmarshal(resp.Kvs[0].Value, &st)
	return st, err
}
