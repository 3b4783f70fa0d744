package main

// The floor under the consume cost rows (cost.go): what it costs this
// machine to serve samsa-bench's consumer the same bytes with no broker
// around the kernel's send path.
//
// The bare broker (barebroker.go), samsa-benchcmp itself started again as a
// child process, serves a topic of 8 partitions written beforehand as Kafka
// log files on the data disk: --cost-mib of --record-size records in
// batches as big as the ones samsa-bench's producer writes. It answers the
// consumer's ApiVersions, Metadata, ListOffsets and Fetch requests and sends
// each partition's batches from its file with sendfile, as both brokers do.
// Each pass runs samsa-bench's consume exactly as the consume cost rows do
// (same command, a new client each time), and the child's CPU is read from
// /proc/PID/stat around it, as the brokers' is. So the figure is what a broker
// that sends its log with sendfile and does nothing else costs per GiB read
// by this client here. On loopback the kernel runs much of the receiving side's TCP
// work in the sender's context, and how much depends on how the reader
// reads (one bare sendfile sender cost 0.31-0.37 s per GiB with a Go read
// loop as its reader, 0.40-0.50 with a Python one): so the reader is the
// consumer itself.
//
// Hot: the files are in the page cache (written, then read once
// unmeasured). Cold: the page cache is dropped before each pass, as for the
// cold consume rows (root only). --cost-passes passes make one run, as they
// make one consume cost measurement; the floor is the median of floorRuns
// runs, as the brokers' rows are medians of rounds.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const floorRuns = 3

// sendfileFloor measures the bare broker's CPU per GiB, hot and (when the
// page cache can be dropped) cold, and records it in m.
func sendfileFloor(ctx context.Context, o *options, m *machineLimits) {
	fail := func(what string, err error) { m.Errors = append(m.Errors, "bare broker floor: "+what+": "+err.Error()) }
	self, err := os.Executable()
	if err != nil {
		fail("executable", err)
		return
	}
	dir := filepath.Join(o.workDir, "bare-broker")
	defer os.RemoveAll(dir)
	records := (int64(o.costMiB) << 20) / int64(o.recordSize)
	if err := writeBareLog(dir, 8, records, o.recordSize); err != nil {
		fail("writing its log", err)
		return
	}
	bb, err := startBareBroker(ctx, self, dir, costTopic)
	if err != nil {
		fail("start", err)
		return
	}
	defer bb.stop()
	// One unmeasured pass: every page of the files is cached after it.
	if _, _, err := bb.pass(ctx, o, records); err != nil {
		fail("first pass", err)
		return
	}
	temps := []bool{false}
	if o.dropCachesProblem == "" {
		temps = append(temps, true)
	}
	for range floorRuns {
		for _, cold := range temps {
			v, err := bb.run(ctx, o, records, cold)
			switch {
			case err != nil:
				fail(fmt.Sprintf("cold=%v", cold), err)
			case cold:
				m.SendfileColdRuns = append(m.SendfileColdRuns, v)
			default:
				m.SendfileHotRuns = append(m.SendfileHotRuns, v)
			}
		}
	}
	m.SendfileHotCPU = medianOrZero(m.SendfileHotRuns)
	m.SendfileColdCPU = medianOrZero(m.SendfileColdRuns)
}

// medianOrZero is the median of v, 0 when v is empty.
func medianOrZero(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return median(v)
}

// bareProc is a running bare broker.
type bareProc struct {
	cmd    *exec.Cmd
	stdin  io.Closer
	stderr *strings.Builder
	addr   string
	done   chan error
}

// startBareBroker starts the child and waits for its address.
func startBareBroker(ctx context.Context, self, dir, topic string) (*bareProc, error) {
	cmd := exec.CommandContext(ctx, self, bareBrokerArg, dir, topic)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	b := &bareProc{cmd: cmd, stdin: stdin, stderr: &strings.Builder{}, done: make(chan error, 1)}
	cmd.Stderr = b.stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
		b.done <- cmd.Wait()
	}()
	select {
	case l, ok := <-line:
		if addr, found := strings.CutPrefix(l, "LISTENING "); ok && found {
			b.addr = addr
			return b, nil
		}
		b.stop()
		return nil, fmt.Errorf("no address (%q): %s", l, strings.TrimSpace(b.stderr.String()))
	case <-time.After(time.Minute):
		b.stop()
		return nil, errors.New("no address within a minute")
	}
}

// stop closes the child's stdin, which makes it exit, and waits for it.
func (b *bareProc) stop() {
	b.stdin.Close()
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

// run makes --cost-passes passes and returns the child's CPU seconds per
// GiB over all of them.
func (b *bareProc) run(ctx context.Context, o *options, records int64, cold bool) (float64, error) {
	var cpu, nbytes float64
	for range o.costPasses {
		if cold {
			if err := dropCaches(ctx); err != nil {
				return 0, fmt.Errorf("dropping the page cache: %w", err)
			}
		}
		c, n, err := b.pass(ctx, o, records)
		if err != nil {
			return 0, err
		}
		cpu += c
		nbytes += n
	}
	v, ok := perGiB(cpu, nbytes)
	if !ok {
		return 0, errors.New("nothing read")
	}
	return v, nil
}

// pass reads the topic once with samsa-bench, as costConsume does, and
// returns the child's CPU seconds and the bytes samsa-bench read.
func (b *bareProc) pass(ctx context.Context, o *options, records int64) (cpuSecs, nbytes float64, err error) {
	pid := b.cmd.Process.Pid
	cpu0, err0 := cpuSeconds(pid)
	out, err := runCmd(ctx, o.runTimeout, "", o.benchBin, "--mode", "consume", "--brokers", b.addr,
		"--topic", costTopic, "--duration", (o.runTimeout - 30*time.Second).String(),
		"--timeout", o.runTimeout.String())
	cpu1, err1 := cpuSeconds(pid)
	if err != nil {
		return 0, 0, fmt.Errorf("samsa-bench: %w: %s; bare broker: %s", err, lastLines(out, 3), strings.TrimSpace(b.stderr.String()))
	}
	if err := errors.Join(err0, err1); err != nil {
		return 0, 0, err
	}
	f := resultFields(out)
	if f["records"] != float64(records) || f["bytes"] != float64(records*int64(o.recordSize)) {
		return 0, 0, fmt.Errorf("samsa-bench read %.0f records, %.0f bytes; want %d: %s", f["records"], f["bytes"], records, lastLines(out, 3))
	}
	return cpu1 - cpu0, f["bytes"], nil
}

// lastLines is the last n lines of out, joined with " | ".
func lastLines(out string, n int) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
