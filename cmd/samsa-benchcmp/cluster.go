package main

// The cluster phase (issue row 6): three brokers of one system on loopback,
// and only those three processes running.
//
// Each broker is a combined node, as Kafka's KRaft quickstart makes them:
// samsa with process.roles=broker,controller and controller.quorum.voters
// naming the three (each broker runs a member of the etcd they share; see
// README "Combined mode"); Kafka with the same two properties and a static
// quorum, prepared by scripts/kafka-cluster.sh (kafka.sh's jars and JVM).
// Node ids are 1, 2, 3 on both. Every step has a timeout.
//
// The phase starts one cluster per session timeout setting, in turn:
//
//	default     both at their defaults (broker.session.timeout.ms 9 s,
//	            Kafka's heartbeat every 2 s)
//	session=3s  samsa broker.session.timeout.ms=3000; Kafka the same and
//	            broker.heartbeat.interval.ms=1000
//
// On the first, produce: after a warm-up of --warmup-records on a topic of
// its own (not measured, none when 0: the JVMs compile their hot paths, as
// in the round), a topic of 8 partitions with replication factor 3
// (min.insync.replicas left at 1: acks=all waits for every in-sync
// replica, all three here), samsa-bench --mode produce acks=all against
// the three bootstrap addresses for --cluster-produce-duration; the row is
// its MiB/s, and the brokers' CPU (utime+stime of the three processes,
// summed) per GiB produced.
//
// On both, failover, --cluster-failovers times (the row is the round's
// median): a new topic of one partition with replicas on all three, led by
// a broker that is neither the metadata quorum's leader (DescribeQuorum:
// Kafka's active controller, samsa's etcd leader) nor the controller
// Metadata names (samsa's controller, which elects partition leaders), so
// that every kill is the same event on both systems: a partition leader
// dies, the controller lives. samsa-bench failover produces to it at
// --cluster-failover-rate (acks=all, idempotent, linger 0); once it has had
// a second of acks, the leader is killed with SIGKILL and the tool reports
// the time from the kill to the first ack of a record produced after the
// kill. Before each further failover the killed broker is
// started again on its data and the cluster waits until all three are
// listed.
//
// --quick: one failover each and a 3 s produce run.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	clusterSize       = 3
	clusterProduceKey = "cluster/produce/rf=3/acks=all/p=8"
	// clusterFormWait bounds the wait for a (re)started cluster to list
	// all its brokers: three JVMs starting on two busy cores take a while.
	clusterFormWait = 3 * time.Minute
	// clusterStopWait is how long the nodes get after SIGTERM before
	// SIGKILL (the data is thrown away).
	clusterStopWait = 30 * time.Second
)

func clusterFailoverKey(setting string) string { return "cluster/failover/" + setting }

// clusterSetting is one session timeout setting: the properties each
// system's brokers get for it.
type clusterSetting struct {
	name         string
	label        string
	samsa, kafka []string
}

var clusterSettings = []clusterSetting{
	{name: "default", label: "default session timeouts (9 s)"},
	{
		name: "session=3s", label: "session timeout 3 s",
		samsa: []string{"broker.session.timeout.ms=3000"},
		kafka: []string{"broker.session.timeout.ms=3000", "broker.heartbeat.interval.ms=1000"},
	},
}

var (
	clusterFailovers       int
	clusterFailoverRate    int
	clusterProduceDuration time.Duration
	clusterScript          string
)

func init() {
	phases = append(phases, phase{name: "cluster", run: runClusterPhase, metrics: clusterMetrics, flags: clusterFlags})
}

func clusterFlags(fs *flag.FlagSet) {
	fs.IntVar(&clusterFailovers, "cluster-failovers", 2, "cluster: failovers per session timeout setting and round; the row is their median (--quick: 1)")
	fs.IntVar(&clusterFailoverRate, "cluster-failover-rate", 500, "cluster: records/s produced during a failover")
	fs.DurationVar(&clusterProduceDuration, "cluster-produce-duration", 0, "cluster: length of the replication factor 3 produce run (0: --bench-duration; --quick: 3s)")
	fs.StringVar(&clusterScript, "kafka-cluster-sh", "", "cluster: script that prepares and runs a Kafka cluster (default: kafka-cluster.sh next to --kafka-sh)")
}

func clusterMetrics() []metric {
	ms := []metric{
		{key: clusterProduceKey, label: "3 brokers: produce RF 3, acks=all, 8 partitions (samsa-bench, 3 bootstrap addresses)", unit: "MiB/s", higherBetter: true},
		{key: cpuKey(clusterProduceKey), label: "3 brokers: broker CPU per GiB of that produce (the 3 processes summed)", unit: "s/GiB"},
	}
	for _, s := range clusterSettings {
		ms = append(ms, metric{key: clusterFailoverKey(s.name), label: "3 brokers: failover, kill -9 of a partition leader -> first acks=all ack, " + s.label, unit: "ms"})
	}
	return ms
}

func runClusterPhase(ctx context.Context, o *options, system string, round int, rr *roundResult) {
	r := &rounder{ctx: ctx, o: o, res: rr}
	failovers, produceFor := clusterFailovers, clusterProduceDuration
	if produceFor <= 0 {
		produceFor = o.benchDuration
	}
	if o.quick {
		failovers, produceFor = 1, 3*time.Second
	}
	if failovers < 1 {
		failovers = 1
	}
	for i, s := range clusterSettings {
		if ctx.Err() != nil {
			return
		}
		dir := filepath.Join(o.workDir, fmt.Sprintf("cluster-%s-%d-%s", system, round, strings.ReplaceAll(s.name, "=", "")))
		start := time.Now()
		c, err := startClusterSet(ctx, o, system, dir, s)
		if err != nil {
			r.fail("cluster/"+s.name+"/start", err)
			if c != nil {
				c.stopAll()
				c.saveLogs(r, s.name)
			}
			continue
		}
		logf("  %s cluster (%s) of %d brokers formed in %.0f s", system, s.name, clusterSize, time.Since(start).Seconds())
		if i == 0 {
			c.produce(r, produceFor)
		}
		var took []float64
		for k := 1; k <= failovers && ctx.Err() == nil; k++ {
			if k > 1 {
				if err := c.restartDead(); err != nil {
					r.fail(fmt.Sprintf("cluster/failover/%s/%d", s.name, k), err)
					break
				}
			}
			if ms, ok := c.failover(r, s, k); ok {
				took = append(took, ms)
			}
		}
		if len(took) > 0 {
			rr.Values[clusterFailoverKey(s.name)] = median(took)
			logf("  %s cluster failover (%s): median %.0f ms of %d", system, s.name, median(took), len(took))
		}
		c.stopAll()
		c.saveLogs(r, s.name)
		if !o.keepData {
			_ = os.RemoveAll(dir)
		}
	}
}

// clusterSet is one system's three brokers.
type clusterSet struct {
	ctx     context.Context
	o       *options
	system  string
	dir     string
	script  string   // kafka-cluster.sh (Kafka)
	props   []string // the setting's properties (and samsaCache0's)
	ports   []int    // client listener of node i+1
	cports  []int    // controller listener of node i+1
	nodes   []*broker
	logPath []string
}

func startClusterSet(ctx context.Context, o *options, system, dir string, s clusterSetting) (*clusterSet, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &clusterSet{ctx: ctx, o: o, system: system, dir: dir, nodes: make([]*broker, clusterSize), logPath: make([]string, clusterSize)}
	ports, err := clusterFreePorts(2 * clusterSize)
	if err != nil {
		return nil, err
	}
	c.ports, c.cports = ports[:clusterSize], ports[clusterSize:]
	switch system {
	case "samsa", samsaCache0:
		c.props = append([]string(nil), s.samsa...)
		if system == samsaCache0 {
			c.props = append(c.props, "log.cache.hot.bytes=0")
		}
	case "kafka":
		c.props = append([]string(nil), s.kafka...)
		c.script = clusterScript
		if c.script == "" {
			c.script = filepath.Join(filepath.Dir(o.kafkaSh), "kafka-cluster.sh")
		}
		args := append([]string{"prepare", dir, clusterJoinInts(c.ports), clusterJoinInts(c.cports)}, c.props...)
		if out, err := runCmd(ctx, 3*time.Minute, "", c.script, args...); err != nil {
			return nil, fmt.Errorf("preparing the Kafka cluster: %w\n%s", err, out)
		}
	default:
		return nil, fmt.Errorf("unknown system %q", system)
	}
	// All at once: a combined node waits for a majority of the voters.
	for id := 1; id <= clusterSize; id++ {
		if err := c.start(id); err != nil {
			return c, err
		}
	}
	return c, c.waitFormed(clusterFormWait)
}

func (c *clusterSet) nodeDir(id int) string { return filepath.Join(c.dir, fmt.Sprintf("node%d", id)) }

func (c *clusterSet) addr(id int) string { return fmt.Sprintf("127.0.0.1:%d", c.ports[id-1]) }

func (c *clusterSet) addrs() []string {
	var out []string
	for id := 1; id <= clusterSize; id++ {
		out = append(out, c.addr(id))
	}
	return out
}

// start starts node id, on its data if it ran before; its log is appended to.
func (c *clusterSet) start(id int) error {
	nd := c.nodeDir(id)
	if err := os.MkdirAll(nd, 0o755); err != nil {
		return err
	}
	var cmd *exec.Cmd
	if c.system == "kafka" {
		// kafka-cluster.sh execs kafka.sh, which execs the JVM: the pid
		// is Kafka's.
		cmd = exec.Command(c.script, "exec", c.dir, strconv.Itoa(id))
	} else {
		cmd = exec.Command(c.o.samsaBin, clusterSamsaArgs(id, filepath.Join(nd, "data"), c.ports, c.cports, c.props)...)
	}
	c.logPath[id-1] = filepath.Join(nd, c.system+".log")
	lf, err := os.OpenFile(c.logPath[id-1], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(lf, "=== benchcmp %s: start %s %s\n", time.Now().Format(time.RFC3339Nano), cmd.Path, strings.Join(cmd.Args[1:], " "))
	b := &broker{system: c.system, addr: c.addr(id), dir: nd, cmd: cmd, log: lf}
	if _, err := b.launch(); err != nil {
		return fmt.Errorf("starting node %d: %w", id, err)
	}
	c.nodes[id-1] = b
	return nil
}

// clusterSamsaArgs is the command line of samsa node id of a combined-mode
// cluster: its client listener advertised, the controller listener for its
// etcd member's peers, no admin listener (three would clash on its default).
func clusterSamsaArgs(id int, dataDir string, ports, cports []int, props []string) []string {
	var voters []string
	for i, p := range cports {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, p))
	}
	client := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", ports[id-1])
	args := []string{
		"--broker-id", strconv.Itoa(id),
		"--data-dir", dataDir,
		"--listeners", fmt.Sprintf("%s,CONTROLLER://127.0.0.1:%d", client, cports[id-1]),
		"--advertised-listeners", client,
		"--admin-listener", "",
		"--log-format", "json",
	}
	for _, kv := range append([]string{
		"process.roles=broker,controller",
		"controller.quorum.voters=" + strings.Join(voters, ","),
		"controller.listener.names=CONTROLLER",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
	}, props...) {
		args = append(args, "--override", kv)
	}
	return args
}

// alive returns the ids of the nodes whose process runs.
func (c *clusterSet) alive() []int {
	var ids []int
	for i, b := range c.nodes {
		if b != nil && b.alive() {
			ids = append(ids, i+1)
		}
	}
	return ids
}

// request sends one request to node id alone.
func (c *clusterSet) request(id int, req kmsg.Request) (kmsg.Response, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addr(id)), kgo.DialTimeout(2*time.Second), kgo.RequestRetries(0))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	return cl.SeedBrokers()[0].Request(ctx, req)
}

func (c *clusterSet) metadata(id int, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := c.request(id, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// waitUntil polls cond every 200 ms until it holds, a node dies (unless
// dying is expected: the killed one is not in c.nodes' alive set then)
// or timeout passes.
func (c *clusterSet) waitUntil(timeout time.Duration, what string, cond func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	want := c.alive()
	for {
		ok, detail := cond()
		if ok {
			return nil
		}
		for _, id := range want {
			if b := c.nodes[id-1]; !b.alive() {
				return fmt.Errorf("%s: node %d exited (%v) while waiting for %s; its log:\n%s", c.system, id, b.waitErr, what, b.tail(20))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no %s within %v: %s", c.system, what, timeout, detail)
		}
		if !sleepCtx(c.ctx, 200*time.Millisecond) {
			return c.ctx.Err()
		}
	}
}

// waitFormed waits until every running node lists every running node.
func (c *clusterSet) waitFormed(timeout time.Duration) error {
	return c.waitUntil(timeout, "cluster of every running node", func() (bool, string) {
		live := c.alive()
		for _, id := range live {
			m, err := c.metadata(id)
			if err != nil {
				return false, fmt.Sprintf("node %d: %v", id, err)
			}
			var ids []int
			for _, b := range m.Brokers {
				ids = append(ids, int(b.NodeID))
			}
			sort.Ints(ids)
			if fmt.Sprint(ids) != fmt.Sprint(live) {
				return false, fmt.Sprintf("node %d lists brokers %v, want %v", id, ids, live)
			}
		}
		return true, ""
	})
}

// createTopic creates topic with parts partitions of replication factor 3,
// or with the one partition's replicas (leader first) when given, and
// waits until every running node sees every partition led (by replicas[0]
// when given) with all three replicas in sync.
func (c *clusterSet) createTopic(topic string, parts int32, replicas []int32) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions, rt.ReplicationFactor = parts, clusterSize
	if replicas != nil {
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = 0, replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
		parts = 1
	}
	req.Topics = append(req.Topics, rt)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			msg := ""
			if t.ErrorMessage != nil {
				msg = ": " + *t.ErrorMessage
			}
			return fmt.Errorf("creating topic %s: %w%s", topic, err, msg)
		}
	}
	wantLeader := int32(-1)
	if replicas != nil {
		wantLeader = replicas[0]
	}
	return c.waitUntil(time.Minute, "topic "+topic+" led and fully in sync on every node", func() (bool, string) {
		for _, id := range c.alive() {
			m, err := c.metadata(id, topic)
			if err != nil {
				return false, fmt.Sprintf("node %d: %v", id, err)
			}
			if len(m.Topics) != 1 || len(m.Topics[0].Partitions) != int(parts) {
				return false, fmt.Sprintf("node %d does not know all of %s yet", id, topic)
			}
			for _, p := range m.Topics[0].Partitions {
				if p.Leader < 0 || (wantLeader >= 0 && p.Leader != wantLeader) || len(p.ISR) != clusterSize {
					return false, fmt.Sprintf("node %d: partition %d leader %d isr %v", id, p.Partition, p.Leader, p.ISR)
				}
			}
		}
		return true, ""
	})
}

// leaderOf is partition 0's leader of topic as the first running node
// that answers sees it.
func (c *clusterSet) leaderOf(topic string) (int32, error) {
	var last error
	for _, id := range c.alive() {
		m, err := c.metadata(id, topic)
		if err != nil {
			last = err
			continue
		}
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				if p.Partition == 0 && p.Leader > 0 {
					return p.Leader, nil
				}
			}
		}
		last = fmt.Errorf("node %d knows no leader of %s", id, topic)
	}
	return -1, last
}

// controllers returns the metadata quorum's leader (DescribeQuorum; -1
// when it is not answered) and the controller id of Metadata.
func (c *clusterSet) controllers() (quorum, controller int32, err error) {
	quorum, controller = -1, -1
	live := c.alive()
	if len(live) == 0 {
		return quorum, controller, errors.New("no node runs")
	}
	m, err := c.metadata(live[0])
	if err != nil {
		return quorum, controller, err
	}
	controller = m.ControllerID
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs()...), kgo.RequestRetries(2))
	if err != nil {
		return quorum, controller, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	// Sent to the controller Metadata names (an admin request); a
	// Kafka broker forwards it to the active controller.
	if resp, err := req.RequestWith(ctx, cl); err == nil && kerr.ErrorForCode(resp.ErrorCode) == nil &&
		len(resp.Topics) == 1 && len(resp.Topics[0].Partitions) == 1 && resp.Topics[0].Partitions[0].ErrorCode == 0 {
		quorum = resp.Topics[0].Partitions[0].LeaderID
	}
	return quorum, controller, nil
}

// clusterPickLeader returns replicas for a partition on nodes 1..n led by
// the first node not in avoid (node 1 if every node is), the others after
// it in id order.
func clusterPickLeader(n int, avoid ...int32) []int32 {
	leader := int32(1)
	for id := int32(1); id <= int32(n); id++ {
		skip := false
		for _, a := range avoid {
			skip = skip || a == id
		}
		if !skip {
			leader = id
			break
		}
	}
	replicas := []int32{leader}
	for id := int32(1); id <= int32(n); id++ {
		if id != leader {
			replicas = append(replicas, id)
		}
	}
	return replicas
}

func (c *clusterSet) cpu() (float64, error) {
	var sum float64
	for id := 1; id <= clusterSize; id++ {
		b := c.nodes[id-1]
		if b == nil || !b.alive() {
			return 0, fmt.Errorf("node %d is not running", id)
		}
		s, err := cpuSeconds(b.pid())
		if err != nil {
			return 0, err
		}
		sum += s
	}
	return sum, nil
}

// produce is the replication factor 3 throughput row.
func (c *clusterSet) produce(r *rounder, d time.Duration) {
	const topic = "cluster-rf3-p8"
	key := clusterProduceKey
	if c.o.warmupRecords > 0 {
		const warm = "cluster-warmup"
		if err := c.createTopic(warm, 8, nil); err != nil {
			r.fail(key+" warm-up", err)
			return
		}
		start := time.Now()
		r.tool("cluster/warmup", c.o.runTimeout, c.o.benchBin, "--mode", "produce", "--brokers", strings.Join(c.addrs(), ","),
			"--topic", warm, "--create-topic=false", "--acks", "all", "--record-size", strconv.Itoa(c.o.recordSize),
			"--records", strconv.FormatInt(c.o.warmupRecords, 10), "--duration", "30s", "--timeout", c.o.runTimeout.String())
		logf("  %s cluster warmed up (%d records, at most 30 s) in %.0f s", c.system, c.o.warmupRecords, time.Since(start).Seconds())
	}
	if err := c.createTopic(topic, 8, nil); err != nil {
		r.fail(key, err)
		return
	}
	_, _ = runCmd(c.ctx, 2*time.Minute, "", "sync")
	cpu0, err0 := c.cpu()
	rec := r.toolRec(key, c.o.runTimeout, c.o.benchBin, "--mode", "produce", "--brokers", strings.Join(c.addrs(), ","),
		"--topic", topic, "--create-topic=false", "--acks", "all", "--record-size", strconv.Itoa(c.o.recordSize),
		"--records", strconv.FormatInt(c.o.benchMaxRecords, 10), "--duration", d.String(), "--timeout", c.o.runTimeout.String())
	cpu1, err1 := c.cpu()
	rec.Parsed = resultFields(rec.stdout)
	rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
	if err := errors.Join(err0, err1); err == nil {
		rec.CPUSecs = cpu1 - cpu0
	} else if rec.Error == "" {
		r.fail(key+" cpu", err)
	}
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	mibps, records := rec.Parsed["MBps"], rec.Parsed["records"]
	if rec.Error != "" || mibps <= 0 {
		return
	}
	r.res.Values[key] = mibps
	if v, ok := perGiB(rec.CPUSecs, records*float64(c.o.recordSize)); ok && err0 == nil && err1 == nil {
		r.res.Values[cpuKey(key)] = v
	}
	logf("  %s %s: %.1f MiB/s (CPU of the 3 brokers %.1f s)", c.system, key, mibps, rec.CPUSecs)
}

// failover is one failover: its time in ms, false if it failed (recorded).
func (c *clusterSet) failover(r *rounder, s clusterSetting, k int) (float64, bool) {
	step := fmt.Sprintf("cluster/failover/%s/%d", s.name, k)
	topic := fmt.Sprintf("cluster-failover-%d", k)
	quorum, controller, err := c.controllers()
	if err != nil {
		r.fail(step, err)
		return 0, false
	}
	replicas := clusterPickLeader(clusterSize, quorum, controller)
	if err := c.createTopic(topic, 1, replicas); err != nil {
		r.fail(step, err)
		return 0, false
	}
	readyFile := filepath.Join(c.dir, fmt.Sprintf("failover-%d.ready", k))
	killFile := filepath.Join(c.dir, fmt.Sprintf("failover-%d.kill", k))
	_ = os.Remove(readyFile)
	_ = os.Remove(killFile)

	// The producer runs while this goroutine kills; r (the round's
	// result) is left to the tool's goroutine until it is done.
	done := make(chan toolResult, 1)
	go func() {
		done <- r.toolRec(step, 3*time.Minute, c.o.benchBin, "failover", "--brokers", strings.Join(c.addrs(), ","),
			"--topic", topic, "--rate", strconv.Itoa(clusterFailoverRate), "--record-size", strconv.Itoa(c.o.recordSize),
			"--ready-file", readyFile, "--kill-file", killFile, "--duration", "2m", "--timeout", "150s")
	}()
	var (
		rec     toolResult
		ended   bool
		killErr error
		victim  int32
	)
	warm := time.Now().Add(time.Minute)
wait:
	for {
		select {
		case rec = <-done:
			ended = true
			break wait
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := os.Stat(readyFile); err == nil {
			break wait
		}
		if time.Now().After(warm) || c.ctx.Err() != nil {
			killErr = errors.New("the producer had no second of acks within a minute")
			break wait
		}
	}
	if !ended && killErr == nil {
		victim, killErr = c.leaderOf(topic)
		if killErr == nil && victim != replicas[0] {
			logf("  %s: %s's leader is node %d, not %d as assigned; killing %d", c.system, topic, victim, replicas[0], victim)
		}
		if killErr == nil {
			killErr = c.kill(int(victim), killFile)
		}
	}
	if !ended {
		rec = <-done
	}
	rec.Parsed = resultFields(rec.stdout)
	rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	if killErr != nil {
		r.fail(step, killErr)
		return 0, false
	}
	ms, ok := rec.Parsed["kill_to_ack_ms"]
	if rec.Error != "" || !ok || ms < 0 {
		if rec.Error == "" {
			r.fail(step, fmt.Errorf("no failover time in %q", rec.Result))
		}
		return 0, false
	}
	if n := rec.Parsed["errors"]; n > 0 {
		logf("  %s %s: %.0f records failed during it (see %s)", c.system, step, n, rec.RawLogAt)
	}
	logf("  %s %s: node %d (quorum leader %d, controller %d) killed -> first ack %.0f ms later (longest gap between acks %.0f ms; reaped in %.0f ms)",
		c.system, step, victim, quorum, controller, ms, rec.Parsed["max_gap_ms"], rec.Parsed["reap_ms"])
	return ms, true
}

// kill SIGKILLs node id, waits for it to be reaped and writes killFile:
// the time just before the kill and the time it was gone (Unix ns).
func (c *clusterSet) kill(id int, killFile string) error {
	if id < 1 || id > clusterSize || c.nodes[id-1] == nil || !c.nodes[id-1].alive() {
		return fmt.Errorf("node %d is not running", id)
	}
	b := c.nodes[id-1]
	killAt := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 node %d: %w", id, err)
	}
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("node %d still runs 10 s after SIGKILL", id)
	}
	goneAt := time.Now()
	fmt.Fprintf(b.log, "=== benchcmp %s: killed (SIGKILL)\n", killAt.Format(time.RFC3339Nano))
	b.log.Close()
	// Written whole, then renamed: the tool never reads half of it.
	tmp := killFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %d\n", killAt.UnixNano(), goneAt.UnixNano())), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, killFile)
}

// restartDead starts every node that is not running on its data and waits
// until all are listed.
func (c *clusterSet) restartDead() error {
	for id := 1; id <= clusterSize; id++ {
		if b := c.nodes[id-1]; b == nil || !b.alive() {
			if err := c.start(id); err != nil {
				return err
			}
		}
	}
	return c.waitFormed(clusterFormWait)
}

// stopAll SIGTERMs the running nodes together and SIGKILLs any still
// running after clusterStopWait.
func (c *clusterSet) stopAll() {
	var wg sync.WaitGroup
	for id, b := range c.nodes {
		if b == nil || !b.alive() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = b.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-b.exited:
				return
			case <-time.After(clusterStopWait):
			}
			logf("  %s node %d did not stop within %v of SIGTERM; killed", c.system, id+1, clusterStopWait)
			_ = b.cmd.Process.Kill()
			<-b.exited
		}()
	}
	wg.Wait()
	for _, b := range c.nodes {
		if b != nil {
			_ = b.log.Close() // a killed node's is closed already
		}
	}
}

// saveLogs copies each node's log under raw/.
func (c *clusterSet) saveLogs(r *rounder, setting string) {
	for i, p := range c.logPath {
		if p != "" {
			_ = copyFile(p, r.rawPath(fmt.Sprintf("cluster-%s-node%d", setting, i+1)))
		}
	}
}

// clusterFreePorts returns n distinct free loopback ports.
func clusterFreePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 10*n {
			return nil, errors.New("no distinct free ports")
		}
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func clusterJoinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
