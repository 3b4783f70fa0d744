package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// broker is one running broker process: samsa, or Kafka's JVM.
type broker struct {
	system string
	addr   string // 127.0.0.1:port
	dir    string // its work dir (data, configs, log)
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{}
	// Set when the process has exited (after exited is closed).
	waitErr error
}

// startBroker starts a fresh broker with an empty data dir under dir and
// returns as soon as the process runs, with the wall time taken just before
// it was started (the zero point of the ready measurement). For Kafka, the
// data dir is formatted first (kafka-storage format, not timed).
func startBroker(ctx context.Context, o *options, system, dir string) (*broker, time.Time, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, time.Time{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, time.Time{}, err
	}
	port, err := freePort()
	if err != nil {
		return nil, time.Time{}, err
	}
	b := &broker{system: system, addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
	switch system {
	case "samsa", samsaCache0:
		// No admin listener: its default port would clash with any other
		// samsa on the machine. No initial rebalance delay, as Kafka's
		// server.properties sets (scripts/kafka.sh, from the distribution's
		// own): with samsa at Kafka's 3 s default, perf-test's consume row
		// measured that wait (rebalance.time.ms 3348 against 390).
		args := []string{"--data-dir", filepath.Join(dir, "data"), "--listeners", "PLAINTEXT://" + b.addr, "--log-format", "json", "--admin-listener", "",
			"--override", "group.initial.rebalance.delay.ms=0"}
		if system == samsaCache0 {
			// The page cache left to the kernel (storage/cache.go off).
			args = append(args, "--override", "log.cache.hot.bytes=0")
		}
		b.cmd = exec.Command(o.samsaBin, args...)
	case "kafka":
		cport, err := freePort()
		if err != nil {
			return nil, time.Time{}, err
		}
		out, err := runCmd(ctx, 2*time.Minute, "", o.kafkaSh, "prepare", dir, strconv.Itoa(port), strconv.Itoa(cport))
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("preparing Kafka: %w\n%s", err, out)
		}
		// kafka.sh execs the JVM, so the pid is Kafka's.
		b.cmd = exec.Command(o.kafkaSh, "exec", dir)
	default:
		return nil, time.Time{}, fmt.Errorf("unknown system %q", system)
	}
	b.log, err = os.Create(filepath.Join(dir, system+".log"))
	if err != nil {
		return nil, time.Time{}, err
	}
	t0, err := b.launch()
	if err != nil {
		return nil, time.Time{}, err
	}
	return b, t0, nil
}

// launch starts b.cmd with its output to b.log, in a process group of its
// own (a Ctrl-C of `make bench` reaches us, and we stop the broker in
// order), and reaps it; the time is taken just before the start. On an
// error b.log is closed.
func (b *broker) launch() (time.Time, error) {
	b.exited = make(chan struct{})
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t0 := time.Now()
	if err := b.cmd.Start(); err != nil {
		b.log.Close()
		return time.Time{}, err
	}
	go func() {
		b.waitErr = b.cmd.Wait()
		close(b.exited)
	}()
	return t0, nil
}

func (b *broker) pid() int { return b.cmd.Process.Pid }

func (b *broker) alive() bool {
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to 60 s, then kills the process.
func (b *broker) stop() error {
	if b == nil {
		return nil
	}
	defer b.log.Close()
	if !b.alive() {
		return fmt.Errorf("%s had exited already: %v", b.system, b.waitErr)
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
		return nil
	case <-time.After(60 * time.Second):
	}
	_ = b.cmd.Process.Kill()
	<-b.exited
	return fmt.Errorf("%s did not stop within 60 s of SIGTERM; killed", b.system)
}

// tail returns the last n lines of the broker's log.
func (b *broker) tail(n int) string {
	data, err := os.ReadFile(b.log.Name())
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// procStatus returns a field of /proc/<pid>/status in MiB (VmRSS, VmHWM).
func procStatus(pid int, field string) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusField(data, field)
}

func parseStatusField(data []byte, field string) (float64, error) {
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, field+":") {
			continue
		}
		f := strings.Fields(line[len(field)+1:])
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%s: unexpected %q", field, line)
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, err
		}
		return kb / 1024, nil
	}
	return 0, fmt.Errorf("%s not found", field)
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds returns utime+stime of the process (all its threads).
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(data)
}

func parseStatCPU(data []byte) (float64, error) {
	// The command name (field 2) may hold spaces and parens: fields are
	// counted from the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/<pid>/stat")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc/<pid>/stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / clockTicks, nil
}

// machineBusy returns the fraction of all CPUs' time that was not idle
// (idle and iowait count as idle) over d, from /proc/stat.
func machineBusy(ctx context.Context, d time.Duration) (float64, error) {
	a, err := readCPUTimes()
	if err != nil {
		return 0, err
	}
	if !sleepCtx(ctx, d) {
		return 0, ctx.Err()
	}
	b, err := readCPUTimes()
	if err != nil {
		return 0, err
	}
	total, idle := b[0]-a[0], b[1]-a[1]
	if total <= 0 {
		return 0, errors.New("no CPU time passed")
	}
	return (total - idle) / total, nil
}

// readCPUTimes returns total and idle (idle+iowait) jiffies of all CPUs.
func readCPUTimes() ([2]float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return [2]float64{}, err
	}
	return parseCPUTimes(data)
}

func parseCPUTimes(data []byte) ([2]float64, error) {
	line := firstLine(string(data))
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return [2]float64{}, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	var total, idle float64
	for i, s := range f[1:] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return [2]float64{}, err
		}
		// guest and guest_nice (fields 9, 10) are already in user and nice.
		if i >= 8 {
			break
		}
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return [2]float64{total, idle}, nil
}
