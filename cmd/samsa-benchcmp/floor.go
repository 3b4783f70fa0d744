package main

// The kernel's floor under the consume cost rows (cost.go): what it costs
// this machine to send log bytes over loopback TCP with sendfile, with no
// broker, no protocol and no client library around it.
//
// A bare sender, samsa-benchcmp itself started again as a child process
// (sendfileSenderArg), connects to a reader in this process and sendfile()s
// a file of --cost-mib from the data disk through one connection, once per
// pass; the reader discards what it reads. The child counts its own CPU
// (getrusage, all its threads) from the connection to the last byte, so
// neither its start-up nor the reader is in the figure. That is the least a
// broker that sends its log with sendfile can cost per GiB here: with
// loopback, the kernel runs the receiving side's TCP processing in the
// sender's context too, so most of it lands on the sender.
//
// Hot: the file is in the page cache (written, then read once unmeasured).
// Cold: the page cache is dropped before each pass, as for the cold consume
// rows (root only). --cost-passes passes make one run, as they make one
// consume cost measurement; the floor is the median of floorRuns runs, as
// the brokers' rows are medians of rounds (the runs spread by a third here).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sendfileSenderArg, as the first argument, makes samsa-benchcmp the bare
// sender: `samsa-benchcmp __sendfile-sender ADDR FILE`.
const sendfileSenderArg = "__sendfile-sender"

const floorRuns = 3

// sendfileFloor measures the bare sender's CPU per GiB, hot and (when the
// page cache can be dropped) cold, and records it in m.
func sendfileFloor(ctx context.Context, o *options, m *machineLimits) {
	self, err := os.Executable()
	if err != nil {
		m.Errors = append(m.Errors, "sendfile floor: "+err.Error())
		return
	}
	path := filepath.Join(o.workDir, "sendfile-floor")
	defer os.Remove(path)
	if err := writeFloorFile(path, int64(o.costMiB)<<20); err != nil {
		m.Errors = append(m.Errors, "sendfile floor: "+err.Error())
		return
	}
	// One unmeasured pass: every page of the file is cached after it.
	if _, err := floorPass(ctx, self, path); err != nil {
		m.Errors = append(m.Errors, "sendfile floor: "+err.Error())
		return
	}
	temps := []bool{false}
	if o.dropCachesProblem == "" {
		temps = append(temps, true)
	}
	for range floorRuns {
		for _, cold := range temps {
			v, err := floorRun(ctx, self, path, o.costPasses, cold)
			switch {
			case err != nil:
				m.Errors = append(m.Errors, fmt.Sprintf("sendfile floor (cold=%v): %v", cold, err))
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

// writeFloorFile writes size bytes of pseudo-random data to path and syncs it.
func writeFloorFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.NewChaCha8([32]byte{'s', 'a', 'm', 's', 'a'})
	_, err = io.CopyN(w, rng, size)
	return errors.Join(err, w.Flush(), f.Sync(), f.Close())
}

// floorRun sends the file passes times and returns the sender's CPU seconds
// per GiB over all of them.
func floorRun(ctx context.Context, self, path string, passes int, cold bool) (float64, error) {
	var cpu, nbytes float64
	for range passes {
		if cold {
			if err := dropCaches(ctx); err != nil {
				return 0, fmt.Errorf("dropping the page cache: %w", err)
			}
		}
		p, err := floorPass(ctx, self, path)
		if err != nil {
			return 0, err
		}
		cpu += p.cpu
		nbytes += p.bytes
	}
	v, ok := perGiB(cpu, nbytes)
	if !ok {
		return 0, errors.New("nothing sent")
	}
	return v, nil
}

type floorResult struct{ bytes, cpu float64 }

// floorPass starts the bare sender once and reads what it sends.
func floorPass(ctx context.Context, self, path string) (floorResult, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return floorResult{}, err
	}
	defer l.Close()
	received := make(chan error, 1)
	var got int64
	go func() {
		c, err := l.Accept()
		if err != nil {
			received <- err
			return
		}
		defer c.Close()
		got, err = io.CopyBuffer(io.Discard, c, make([]byte, 1<<20))
		received <- err
	}()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, self, sendfileSenderArg, l.Addr().String(), path).CombinedOutput()
	if err != nil {
		l.Close()
		return floorResult{}, fmt.Errorf("sender: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := <-received; err != nil {
		return floorResult{}, fmt.Errorf("reader: %w", err)
	}
	f := resultFields(string(out))
	if f["bytes"] != float64(got) || got == 0 {
		return floorResult{}, fmt.Errorf("the sender reports %.0f bytes, the reader read %d: %s", f["bytes"], got, strings.TrimSpace(string(out)))
	}
	return floorResult{bytes: f["bytes"], cpu: f["cpu_s"]}, nil
}

// sendfileSender is the child: it connects to addr, sends the whole file
// with sendfile (Go's TCPConn.ReadFrom of an *os.File) and prints
// "RESULT bytes=N cpu_s=S", S being its own CPU time over the sending.
func sendfileSender(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: %s ADDR FILE", sendfileSenderArg)
	}
	f, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := net.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	cpu0, err := selfCPU()
	if err != nil {
		return err
	}
	n, err := c.(*net.TCPConn).ReadFrom(f)
	if err != nil {
		return err
	}
	cpu1, err := selfCPU()
	if err != nil {
		return err
	}
	if err := c.Close(); err != nil {
		return err
	}
	fmt.Printf("RESULT bytes=%d cpu_s=%s\n", n, strconv.FormatFloat(cpu1-cpu0, 'f', 6, 64))
	return nil
}

// selfCPU is this process's user+system CPU seconds, all threads.
func selfCPU() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, nil
}
