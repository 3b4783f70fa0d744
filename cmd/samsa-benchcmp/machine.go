package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// machineLimits are this machine's own ceilings, measured in the same run.
type machineLimits struct {
	// Sequential writes of 1 MiB blocks to the brokers' data disk with dd:
	// through the page cache (buffered, what a broker's append does) and
	// with an fdatasync at the end (counted in the time).
	// The best of diskRuns runs each; every run is kept too.
	DiskBufferedMiBps  float64   `json:"disk_buffered_mibps"`
	DiskFdatasyncMiBps float64   `json:"disk_fdatasync_mibps"`
	DiskBufferedRuns   []float64 `json:"disk_buffered_runs"`
	DiskFdatasyncRuns  []float64 `json:"disk_fdatasync_runs"`
	// One TCP stream over 127.0.0.1, 1 MiB writes, in this process.
	LoopbackMiBps float64 `json:"loopback_tcp_mibps"`
	// The bare broker's CPU seconds per GiB (floor.go), hot and
	// cold (0: not measured): the least the consume cost rows can be. The
	// median of floorRuns runs each; every run is kept too.
	SendfileHotCPU   float64   `json:"sendfile_hot_cpu_s_per_gib,omitempty"`
	SendfileColdCPU  float64   `json:"sendfile_cold_cpu_s_per_gib,omitempty"`
	SendfileHotRuns  []float64 `json:"sendfile_hot_runs,omitempty"`
	SendfileColdRuns []float64 `json:"sendfile_cold_runs,omitempty"`
	Errors           []string  `json:"errors,omitempty"`
}

const diskRuns = 3

func measureMachine(ctx context.Context, o *options) *machineLimits {
	m := &machineLimits{}
	// A virtual disk varies a lot from one run to the next: the limit is
	// the best of diskRuns runs of each kind, alternated.
	for i := 0; i < diskRuns; i++ {
		for _, sync := range []bool{false, true} {
			v, err := ddWrite(ctx, o.workDir, o.diskMiB, sync)
			switch {
			case err != nil:
				m.Errors = append(m.Errors, fmt.Sprintf("disk (fdatasync=%v): %v", sync, err))
			case sync:
				m.DiskFdatasyncRuns = append(m.DiskFdatasyncRuns, v)
				m.DiskFdatasyncMiBps = max(m.DiskFdatasyncMiBps, v)
			default:
				m.DiskBufferedRuns = append(m.DiskBufferedRuns, v)
				m.DiskBufferedMiBps = max(m.DiskBufferedMiBps, v)
			}
		}
	}
	var err error
	if m.LoopbackMiBps, err = loopbackTCP(ctx, int64(o.tcpMiB)<<20, 10*time.Second); err != nil {
		m.Errors = append(m.Errors, "loopback: "+err.Error())
	}
	sendfileFloor(ctx, o, m)
	for _, e := range m.Errors {
		logf("  ERROR machine: %s", e)
	}
	logf("  disk buffered %.0f MiB/s, disk fdatasync %.0f MiB/s, loopback TCP %.0f MiB/s; bare broker %.3f s per GiB hot, %.3f cold",
		m.DiskBufferedMiBps, m.DiskFdatasyncMiBps, m.LoopbackMiBps, m.SendfileHotCPU, m.SendfileColdCPU)
	return m
}

// dd's last line: "2147483648 bytes (2.1 GB, 2.0 GiB) copied, 6.31168 s, 340 MB/s".
var ddRE = regexp.MustCompile(`(\d+) bytes .* copied, ([\d.]+) s`)

// ddWrite writes mib MiB of zeros to a new file in dir with dd and returns MiB/s.
// The file is removed and the page cache flushed (sync) before and after, so
// the two runs do not see each other's dirty pages.
func ddWrite(ctx context.Context, dir string, mib int, fdatasync bool) (float64, error) {
	f := filepath.Join(dir, "dd-test")
	defer os.Remove(f)
	_, _ = runCmd(ctx, 2*time.Minute, "", "sync")
	args := []string{"if=/dev/zero", "of=" + f, "bs=1M", "count=" + strconv.Itoa(mib)}
	if fdatasync {
		args = append(args, "conv=fdatasync")
	}
	out, err := runCmd(ctx, 5*time.Minute, "", "dd", args...)
	if err != nil {
		return 0, fmt.Errorf("dd: %w: %s", err, out)
	}
	_ = os.Remove(f)
	_, _ = runCmd(ctx, 2*time.Minute, "", "sync")
	return parseDD(out)
}

func parseDD(out string) (float64, error) {
	m := ddRE.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("unexpected dd output %q", out)
	}
	n, err1 := strconv.ParseFloat(m[1], 64)
	s, err2 := strconv.ParseFloat(m[2], 64)
	if err1 != nil || err2 != nil || s <= 0 {
		return 0, fmt.Errorf("unexpected dd output %q", out)
	}
	return n / (1 << 20) / s, nil
}

// loopbackTCP sends up to total bytes through one connection on 127.0.0.1
// (for at most limit) and returns the receiver's MiB/s.
func loopbackTCP(ctx context.Context, total int64, limit time.Duration) (float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	type result struct {
		n    int64
		secs float64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		start := time.Now()
		n, err := io.CopyBuffer(io.Discard, c, make([]byte, 1<<20))
		done <- result{n: n, secs: time.Since(start).Seconds(), err: err}
	}()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(limit)
	for sent := int64(0); sent < total && time.Now().Before(deadline) && ctx.Err() == nil; sent += int64(len(buf)) {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return 0, err
		}
	}
	c.Close()
	r := <-done
	if r.err != nil {
		return 0, r.err
	}
	if r.secs <= 0 {
		return 0, fmt.Errorf("no time measured")
	}
	return float64(r.n) / (1 << 20) / r.secs, nil
}
