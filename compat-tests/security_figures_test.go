//go:build securityfigures

package compat

// The security figures (not a pass/fail test):
//
//   - what TLS costs: samsa-bench produce and consume throughput on the
//     PLAINTEXT listener and on the SSL listener of one broker;
//   - how closely client quotas hold: a franz-go producer flat out against a
//     producer_byte_rate, and a consumer against a consumer_byte_rate, with
//     small (64 KiB) and large (1 MiB) requests; the rate each achieves in
//     its first and second half, as a ratio of the quota.
//
// Run with `make security-figures`, or
//
//	cd compat-tests && go test -tags securityfigures -run TestSecurityFigures -v -count=1 -timeout 20m .
//
// SAMSA_BENCH_BIN names a samsa-bench binary (default: built here).
// SECURITY_FIGURES_KAFKA=1 measures the quotas of Apache Kafka too
// (scripts/kafka.sh, its default quota.window.* as samsa's).
// SECURITY_BENCH_DURATION (default 10s) is each TLS produce run and each
// half of a quota run. A quota is measured, as Kafka measures it, over
// quota.window.num-1 (10) windows of a second at least, so a client may
// burst 10 s of its quota at first: halves shorter than 10 s show that burst,
// not the rate.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestSecurityFigures(t *testing.T) {
	dur := 10 * time.Second
	if v := os.Getenv("SECURITY_BENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SECURITY_BENCH_DURATION: %v", err)
		}
		dur = d
	}
	_, env := startSecuredSamsa(t)
	bench := benchBinary(t)
	ssl := env.cases[0]
	if ssl.col != "sec-ssl" {
		t.Fatalf("the first case of startSecuredSamsa is %s, want sec-ssl", ssl.col)
	}
	ca := filepath.Join(env.certs, "ca.pem")

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bench, append(args, "--timeout", "5m")...).Output()
		if err != nil {
			t.Fatalf("samsa-bench %v: %v\n%s", args, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return lines[len(lines)-1]
	}

	// TLS: produce to a topic per listener; then read one topic through
	// each listener, the same records.
	for _, l := range []struct{ name, addr, tls string }{{"PLAINTEXT", env.plain, ""}, {"SSL", ssl.addr, ca}} {
		args := []string{"--brokers", l.addr, "--mode", "produce", "--topic", "tls-" + strings.ToLower(l.name),
			"--acks", "1", "--record-size", "1024", "--duration", dur.String()}
		if l.tls != "" {
			args = append(args, "--tls-ca", l.tls)
		}
		t.Logf("FIGURE TLS produce %s: %s", l.name, run(args...))
	}
	for _, l := range []struct{ name, addr, tls string }{{"PLAINTEXT", env.plain, ""}, {"SSL", ssl.addr, ca}} {
		args := []string{"--brokers", l.addr, "--mode", "consume", "--topic", "tls-plaintext", "--create-topic=false",
			"--duration", "0"} // every record present, bounded by --timeout
		if l.tls != "" {
			args = append(args, "--tls-ca", l.tls)
		}
		t.Logf("FIGURE TLS consume %s (topic tls-plaintext): %s", l.name, run(args...))
	}

	// Quotas: samsa's, then (SECURITY_FIGURES_KAFKA=1) Apache Kafka's on
	// the same machine, by the same clients.
	quotaFigures(t, "samsa", env.plain, dur, run)
	if os.Getenv("SECURITY_FIGURES_KAFKA") == "1" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		ports := freePorts(t, 2)
		script := filepath.Join(root, "scripts", "kafka.sh")
		if out, err := exec.Command("bash", script, "start", dir, fmt.Sprint(ports[0]), fmt.Sprint(ports[1])).CombinedOutput(); err != nil {
			t.Fatalf("kafka.sh start: %v\n%s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("bash", script, "stop", dir).Run() })
		quotaFigures(t, "Kafka", fmt.Sprintf("127.0.0.1:%d", ports[0]), dur, run)
	}
}

// quotaFigures: a producer flat out against producer_byte_rate, then a
// consumer against consumer_byte_rate (8 MiB/s each, client-id quotas),
// with 64 KiB and 1 MiB requests, on the broker at bootstrap.
func quotaFigures(t *testing.T, broker, bootstrap string, dur time.Duration, run func(...string) string) {
	const quota = 8 << 20
	admin := kadm.NewClient(mustClient(t, kgo.SeedBrokers(bootstrap)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var entries []kadm.AlterClientQuotaEntry
	for _, id := range []string{"p-64k", "p-1m", "c-64k", "c-1m"} {
		key := "producer_byte_rate"
		if id[0] == 'c' {
			key = "consumer_byte_rate"
		}
		entries = append(entries, kadm.AlterClientQuotaEntry{
			Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &id}},
			Ops:    []kadm.AlterClientQuotaOp{{Key: key, Value: quota}},
		})
	}
	res, err := admin.AlterClientQuotas(ctx, entries)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("AlterClientQuotas %v: %v %s", r.Entity, r.Err, r.ErrMessage)
		}
	}
	if _, err := admin.CreateTopic(ctx, 4, 1, nil, "quota-p"); err != nil {
		t.Fatal(err)
	}
	ratio := func(b int64) string { return fmt.Sprintf("%.2f", float64(b)/dur.Seconds()/quota) }

	value := make([]byte, 1024)
	for _, size := range []int32{64 << 10, 1 << 20} {
		id := "p-64k"
		if size == 1<<20 {
			id = "p-1m"
		}
		cl := mustClient(t, kgo.SeedBrokers(bootstrap), kgo.ClientID(id), kgo.DefaultProduceTopic("quota-p"),
			kgo.ProducerBatchMaxBytes(size), kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.MaxBufferedBytes(int(4*size)), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
		var halves [2]atomic.Int64
		start := time.Now()
		pctx, pcancel := context.WithTimeout(ctx, 2*dur)
		for pctx.Err() == nil {
			cl.Produce(pctx, &kgo.Record{Value: value}, func(r *kgo.Record, err error) {
				if err != nil {
					return
				}
				if h := int(time.Since(start) / dur); h < 2 {
					halves[h].Add(int64(len(r.Value)))
				}
			})
		}
		pcancel()
		cl.Close()
		t.Logf("FIGURE %s quota producer_byte_rate %d MiB/s, batches of %d KiB: acked value bytes/s / quota = %s (first %v), %s (second %v)",
			broker, quota>>20, size>>10, ratio(halves[0].Load()), dur, ratio(halves[1].Load()), dur)
	}

	// The consumers read a topic holding more than 2 x dur of the quota.
	need := int64(2*dur.Seconds()*quota) * 5 / 4
	t.Logf("preload: %s", run("--brokers", bootstrap, "--mode", "produce", "--topic", "quota-c", "--partitions", "4",
		"--acks", "1", "--record-size", "1024", "--records", fmt.Sprint(need/1024), "--duration", "0"))
	for _, size := range []int32{64 << 10, 1 << 20} {
		id := "c-64k"
		if size == 1<<20 {
			id = "c-1m"
		}
		cl := mustClient(t, kgo.SeedBrokers(bootstrap), kgo.ClientID(id), kgo.ConsumeTopics("quota-c"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(size), kgo.FetchMaxPartitionBytes(size))
		var halves [2]int64
		start := time.Now()
		cctx, ccancel := context.WithTimeout(ctx, 2*dur)
		for cctx.Err() == nil {
			fs := cl.PollFetches(cctx)
			h := int(time.Since(start) / dur)
			fs.EachRecord(func(r *kgo.Record) {
				if h < 2 {
					halves[h] += int64(len(r.Value) + len(r.Key))
				}
			})
		}
		ccancel()
		cl.Close()
		t.Logf("FIGURE %s quota consumer_byte_rate %d MiB/s, fetches of %d KiB: consumed bytes/s / quota = %s (first %v), %s (second %v)",
			broker, quota>>20, size>>10, ratio(halves[0]), dur, ratio(halves[1]), dur)
	}
}

func mustClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
