package compat

// A 3-member etcd embedded in the test process, for the cluster tests: the
// external etcd cluster the brokers share (--etcd-endpoints), each broker
// reaching it through proxies of its own (cluster_harness_test.go).

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
	clientPorts := freePorts(t, n)
	peerPorts := freePorts(t, n)
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
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
