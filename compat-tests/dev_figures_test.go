//go:build devfigures

package compat

// The dev mode's figures (make dev-figures): not pass/fail, FIGURE lines.
//
//	ready time of the binary: exec -> "samsa ready", samsa dev and
//	  samsa serve (one broker, median of several starts)
//	one more idle virtual cluster: resident memory and goroutines of the
//	  process, per cluster, over a batch created through the dev API

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDevFigures(t *testing.T) {
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	const starts = 7
	var dev, serve []time.Duration
	for range starts {
		p := startDev(t, nil, "dev", "--port", strconv.Itoa(freePort(t)), "--admin-listener", "127.0.0.1:"+strconv.Itoa(freePort(t)))
		dev = append(dev, p.Startup)
		p.stop()
		env := []string{"KAFKA_LISTENERS=PLAINTEXT://127.0.0.1:" + strconv.Itoa(freePort(t)), "KAFKA_LOG_DIRS=" + filepath.Join(t.TempDir(), "d")}
		q := startDev(t, env, "serve", "--admin-listener", "127.0.0.1:"+strconv.Itoa(freePort(t)))
		serve = append(serve, q.Startup)
		q.stop()
	}
	t.Logf("FIGURE ready_binary_dev_median=%v (of %d: %v)", median(dev), starts, dev)
	t.Logf("FIGURE ready_binary_serve_median=%v (of %d: %v)", median(serve), starts, serve)

	admin := "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	p := startDev(t, nil, "dev", "--port", strconv.Itoa(freePort(t)), "--admin-listener", strings.TrimPrefix(admin, "http://"))
	pid := p.cmd.Process.Pid
	settle := func() (rssKiB int64, goroutines int) {
		time.Sleep(3 * time.Second)
		return rss(t, pid), gorCount(t, admin)
	}
	rss0, gor0 := settle()
	const n = 10
	begin := time.Now()
	for i := range n {
		if code := devHTTP(t, "POST", admin+"/v1/clusters", map[string]any{"id": fmt.Sprintf("idle-%d", i)}, nil); code != http.StatusCreated {
			t.Fatalf("create: %d", code)
		}
	}
	create := time.Since(begin) / n
	rss1, gor1 := settle()
	t.Logf("FIGURE process_idle_one_cluster rss=%d KiB goroutines=%d", rss0, gor0)
	t.Logf("FIGURE per_idle_virtual_cluster rss=%d KiB goroutines=%d create=%v (over %d clusters: rss %d -> %d KiB, goroutines %d -> %d)",
		(rss1-rss0)/n, (gor1-gor0)/n, create, n, rss0, rss1, gor0, gor1)
	p.stop()
}

// rss is the resident set of a process, in KiB.
func rss(t *testing.T, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// gorCount reads go_goroutines (the process's) from /metrics.
func gorCount(t *testing.T, admin string) int {
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	t.Fatal("no go_goroutines in /metrics")
	return 0
}
