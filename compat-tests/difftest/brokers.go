package difftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The two brokers under comparison, started once per run: Apache Kafka
// (single-node KRaft, combined broker and controller, through
// scripts/kafka.sh) and samsa (the real binary). Both listen on 127.0.0.1
// only, both have node id 1, one partition per auto-created topic and
// automatic topic creation on, and both have group.initial.rebalance.delay.ms
// 0 (kafka.sh's server.properties; for samsa an override).

// KafkaProps are the broker properties scripts/kafka.sh writes into
// Kafka's server.properties that change answers (defaults of new topics,
// config sources in DescribeConfigs). samsa gets the same ones as
// --override flags, so that both start from the same configuration.
var KafkaProps = []string{
	"num.partitions=1",
	"auto.create.topics.enable=true",
	"group.initial.rebalance.delay.ms=0",
	"offsets.topic.replication.factor=1",
	"transaction.state.log.replication.factor=1",
	"transaction.state.log.min.isr=1",
	"socket.request.max.bytes=104857600",
	"log.retention.hours=168",
	"log.segment.bytes=1073741824",
}

// SamsaArgs are the flags that give samsa KafkaProps.
func SamsaArgs() []string {
	var args []string
	for _, p := range KafkaProps {
		args = append(args, "--override", p)
	}
	return args
}

// Process is a broker process the tester started.
type Process struct {
	Name string // "kafka" or "samsa"
	Addr string // 127.0.0.1:port, what the tester dials
	Dir  string // its working directory (data, logs)
	Log  string // its log file

	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex // guards waitErr
	// waitErr is cmd.Wait's result once exited is closed.
	waitErr error
}

// RepoRoot finds the samsa repository root from the working directory
// (compat-tests or compat-tests/difftest, as go test runs them).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(mod, []byte("module github.com/samsa-io/samsa\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("difftest: not inside the samsa repository")
		}
		dir = parent
	}
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// KafkaOptions change how Kafka is started.
type KafkaOptions struct {
	// AdvertisedPort, if set, is the port Kafka advertises to clients
	// instead of its own: the recording proxy's, so that clients that
	// follow Metadata come back through the proxy.
	AdvertisedPort int
}

// StartKafka prepares a fresh KRaft data dir under dir and starts Kafka on
// a free port, waiting until it answers ApiVersions and lists itself in
// Metadata (up to 90 s: the JVM start is 10-20 s on two cores).
func StartKafka(root, dir string, opt KafkaOptions) (*Process, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	cport, err := FreePort()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "scripts", "kafka.sh")
	prep := exec.Command("bash", script, "prepare", dir, fmt.Sprint(port), fmt.Sprint(cport))
	if out, err := prep.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("difftest: kafka.sh prepare: %w\n%s", err, out)
	}
	if opt.AdvertisedPort != 0 {
		props := filepath.Join(dir, "server.properties")
		data, err := os.ReadFile(props)
		if err != nil {
			return nil, err
		}
		old := fmt.Sprintf("advertised.listeners=PLAINTEXT://127.0.0.1:%d,", port)
		if !bytes.Contains(data, []byte(old)) {
			return nil, fmt.Errorf("difftest: %s has no line %q to point at the proxy", props, old)
		}
		data = bytes.Replace(data, []byte(old), fmt.Appendf(nil, "advertised.listeners=PLAINTEXT://127.0.0.1:%d,", opt.AdvertisedPort), 1)
		if err := os.WriteFile(props, data, 0o644); err != nil {
			return nil, err
		}
	}
	p := &Process{Name: "kafka", Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, Log: filepath.Join(dir, "kafka.log")}
	logf, err := os.Create(p.Log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", script, "exec", dir)
	if os.Getenv("KAFKA_HEAP_OPTS") == "" {
		cmd.Env = append(os.Environ(), "KAFKA_HEAP_OPTS=-Xms512m -Xmx512m")
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := p.start(cmd, logf); err != nil {
		return nil, err
	}
	if err := p.waitReady(90*time.Second, nil); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, p.Log)
	}
	return p, nil
}

// SamsaBinary returns $SAMSA_BIN, or builds cmd/samsa into dir.
func SamsaBinary(root, dir string) (string, error) {
	if bin := os.Getenv("SAMSA_BIN"); bin != "" {
		return filepath.Abs(bin)
	}
	bin := filepath.Join(dir, "bin", "samsa")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/samsa")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("difftest: go build ./cmd/samsa: %w\n%s", err, out)
	}
	return bin, nil
}

// StartSamsa starts bin on a free port with a fresh data dir under dir and
// waits until it logs that it listens and answers ApiVersions.
func StartSamsa(bin, dir string, extraArgs ...string) (*Process, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := &Process{Name: "samsa", Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, Log: filepath.Join(dir, "samsa.log")}
	logf, err := os.Create(p.Log)
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--listeners", "PLAINTEXT://" + p.Addr,
		"--data-dir", filepath.Join(dir, "data"),
		"--log-format", "json",
		// No admin listener: its default port would collide between the
		// tester's samsas.
		"--admin-listener", "",
	}, extraArgs...)
	cmd := exec.Command(bin, args...)
	listening := make(chan struct{})
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "samsa is listening" {
				once.Do(func() { close(listening) })
			}
		}
		_, _ = io.Copy(logf, pr)
	}()
	if err := p.start(cmd, pw); err != nil {
		return nil, err
	}
	if err := p.waitReady(30*time.Second, listening); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, p.Log)
	}
	return p, nil
}

func (p *Process) start(cmd *exec.Cmd, out io.Closer) error {
	// Own process group: a ^C to go test does not hit the broker first, and
	// Stop signals the whole group (kafka.sh exec is the JVM itself).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("difftest: starting %s: %w", p.Name, err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() {
		err := cmd.Wait()
		out.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.exited)
	}()
	return nil
}

// waitReady waits for listening (if not nil), then until the broker answers
// ApiVersions and its Metadata lists at least one broker.
func (p *Process) waitReady(timeout time.Duration, listening <-chan struct{}) error {
	deadline := time.After(timeout)
	if listening != nil {
		select {
		case <-listening:
		case <-p.exited:
			return fmt.Errorf("difftest: %s exited during start-up: %v", p.Name, p.exitErr())
		case <-deadline:
			return fmt.Errorf("difftest: %s did not listen within %v", p.Name, timeout)
		}
	}
	var last error
	for {
		if last = probe(p.Addr); last == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("difftest: %s exited during start-up: %v", p.Name, p.exitErr())
		case <-deadline:
			return fmt.Errorf("difftest: %s not ready within %v: %v", p.Name, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func probe(addr string) error {
	c, err := Dial(addr, "difftest-probe")
	if err != nil {
		return err
	}
	defer c.Close()
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 0
	if _, _, err := c.Request(av); err != nil {
		return err
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 1
	resp, _, err := c.Request(md)
	if err != nil {
		return err
	}
	if len(resp.(*kmsg.MetadataResponse).Brokers) == 0 {
		return errors.New("no brokers in Metadata yet")
	}
	return nil
}

func (p *Process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Alive reports whether the process still runs.
func (p *Process) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM to the process group and waits up to 30 s, then
// SIGKILLs it.
func (p *Process) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
		return
	case <-time.After(30 * time.Second):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.exited
}

// Tail returns the last n lines of the process's log.
func (p *Process) Tail(n int) string {
	data, err := os.ReadFile(p.Log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
