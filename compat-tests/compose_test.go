package compat

// docker-compose.yml and the Dockerfile, without docker: each service's
// environment (over the image's ENV) and the image's ENTRYPOINT + CMD run as
// a local process on loopback. Container ports are remapped to free local
// ports, the containers' host names to 127.0.0.1, volumes to temp dirs, and
// the host's published ports (localhost:9092, ...) to the local port of the
// container port behind them. Then the cluster the file describes must
// form and replicate.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"gopkg.in/yaml.v3"
)

// composeFile is the part of a compose file the test runs.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Hostname    string    `yaml:"hostname"`
	Ports       []string  `yaml:"ports"`
	Environment yaml.Node `yaml:"environment"`
	Volumes     []string  `yaml:"volumes"`
	Command     yaml.Node `yaml:"command"`
	Entrypoint  yaml.Node `yaml:"entrypoint"`
	Build       yaml.Node `yaml:"build"`
}

// env returns the service's environment (map or KEY=VALUE list form).
func (s composeService) env() (map[string]string, error) {
	out := map[string]string{}
	switch s.Environment.Kind {
	case 0:
	case yaml.MappingNode:
		if err := s.Environment.Decode(&out); err != nil {
			return nil, err
		}
	case yaml.SequenceNode:
		var list []string
		if err := s.Environment.Decode(&list); err != nil {
			return nil, err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	default:
		return nil, fmt.Errorf("environment: unexpected YAML node kind %v", s.Environment.Kind)
	}
	return out, nil
}

// words decodes a command/entrypoint node: a list, or a string split on
// spaces; nil when unset.
func words(n yaml.Node) ([]string, error) {
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.SequenceNode:
		var w []string
		err := n.Decode(&w)
		return w, err
	case yaml.ScalarNode:
		return strings.Fields(n.Value), nil
	}
	return nil, fmt.Errorf("unexpected YAML node kind %v", n.Kind)
}

// dockerImage is what the test takes from the Dockerfile's final stage.
type dockerImage struct {
	Base       string
	User       string
	Env        map[string]string
	Entrypoint []string
	Cmd        []string
	BuildRuns  []string // RUN lines of every stage
}

// parseDockerfile reads the instructions the test needs (JSON-form
// ENTRYPOINT and CMD, ENV K=V ..., USER, the last FROM).
func parseDockerfile(path string) (*dockerImage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Join continuation lines.
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	img := &dockerImage{Env: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			img.Base = strings.Fields(rest)[0]
			img.Env, img.User, img.Entrypoint, img.Cmd = map[string]string{}, "", nil, nil
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("%s: ENV %q: only the K=V form is supported", path, rest)
				}
				img.Env[k] = v
			}
		case "USER":
			img.User = rest
		case "ENTRYPOINT", "CMD":
			var w []string
			if err := json.Unmarshal([]byte(rest), &w); err != nil {
				return nil, fmt.Errorf("%s: %s must be in JSON form: %w", path, instr, err)
			}
			if strings.ToUpper(instr) == "ENTRYPOINT" {
				img.Entrypoint = w
			} else {
				img.Cmd = w
			}
		case "RUN":
			img.BuildRuns = append(img.BuildRuns, rest)
		}
	}
	return img, sc.Err()
}

// TestDockerfile checks what can be checked without docker: a static
// (CGO off) build, a final stage on distroless or scratch, a non-root
// user, and an entrypoint that is the samsa binary.
func TestDockerfile(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	img, err := parseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	static := false
	for _, r := range img.BuildRuns {
		static = static || (strings.Contains(r, "CGO_ENABLED=0") && strings.Contains(r, "go build") && strings.Contains(r, "./cmd/samsa"))
	}
	if !static {
		t.Errorf("no RUN builds ./cmd/samsa with CGO_ENABLED=0: %q", img.BuildRuns)
	}
	if !strings.HasPrefix(img.Base, "gcr.io/distroless/static") && img.Base != "scratch" {
		t.Errorf("final stage FROM %s, want distroless/static or scratch", img.Base)
	}
	if img.User == "" || img.User == "root" || strings.HasPrefix(img.User, "0") {
		t.Errorf("final stage USER %q, want a non-root user", img.User)
	}
	if len(img.Entrypoint) != 1 || filepath.Base(img.Entrypoint[0]) != "samsa" {
		t.Errorf("ENTRYPOINT %q, want the samsa binary", img.Entrypoint)
	}
}

// composeProc is one service run as a local process.
type composeProc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
}

// TestComposeFile runs docker-compose.yml as local processes: the three
// brokers form one cluster; from the host's side (localhost:9092,9093,9094
// remapped) and from the containers' network (brokerN:19092 remapped) each
// broker lists all three at the addresses of the listener the client came
// through; an RF 3 topic with min.insync.replicas=2 takes acks=all writes;
// and the records are read back through each broker.
func TestComposeFile(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	img, err := parseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(mapKeys(cf.Services))
	if len(names) != 3 {
		t.Fatalf("docker-compose.yml has services %v, want three brokers", names)
	}

	// Which service a host name means, and every (service, container
	// port) pair the file uses.
	hostOf := map[string]string{}
	for _, n := range names {
		hostOf[n] = n
		if h := cf.Services[n].Hostname; h != "" {
			hostOf[h] = n
		}
	}
	hostPort := map[int]struct {
		svc  string
		port int
	}{}
	for _, n := range names {
		for _, p := range cf.Services[n].Ports {
			hp, cp, ok := strings.Cut(strings.Trim(p, `"`), ":")
			h, err1 := strconv.Atoi(hp)
			c, err2 := strconv.Atoi(cp)
			if !ok || err1 != nil || err2 != nil {
				t.Fatalf("service %s: ports entry %q: only HOST:CONTAINER is supported", n, p)
			}
			hostPort[h] = struct {
				svc  string
				port int
			}{n, c}
		}
	}
	localPort := map[string]int{} // "svc:port" -> local port
	local := func(svc string, port int) int {
		k := fmt.Sprintf("%s:%d", svc, port)
		if p, ok := localPort[k]; ok {
			return p
		}
		p := stablePorts(t, 1)[0]
		localPort[k] = p
		return p
	}
	// host:port inside a value: after start, "//", "@" or ",".
	addrRE := regexp.MustCompile(`(^|[/@,])([A-Za-z0-9_.-]*):([0-9]+)`)
	rewrite := func(svc, value string) (string, error) {
		var bad error
		out := addrRE.ReplaceAllStringFunc(value, func(m string) string {
			g := addrRE.FindStringSubmatch(m)
			pre, host, port := g[1], g[2], g[3]
			p, _ := strconv.Atoi(port)
			switch {
			case host == "" || host == "0.0.0.0":
				return pre + "127.0.0.1:" + strconv.Itoa(local(svc, p))
			case host == "localhost" || host == "127.0.0.1":
				hp, ok := hostPort[p]
				if !ok {
					bad = fmt.Errorf("%s names %s, which no service publishes", value, m)
					return m
				}
				return pre + "127.0.0.1:" + strconv.Itoa(local(hp.svc, hp.port))
			}
			other, ok := hostOf[host]
			if !ok {
				bad = fmt.Errorf("%s names host %s, which is no service", value, host)
				return m
			}
			return pre + "127.0.0.1:" + strconv.Itoa(local(other, p))
		})
		return out, bad
	}

	bin := samsaBinary(t)
	entry := append(append([]string(nil), img.Entrypoint...), img.Cmd...)
	if len(entry) == 0 || filepath.Base(entry[0]) != "samsa" {
		t.Fatalf("the image's entrypoint %q is not the samsa binary", entry)
	}
	hostAddrs := map[string]string{}    // service -> remapped localhost:909x
	networkAddrs := map[string]string{} // service -> remapped brokerN:19092
	var procs []*composeProc
	for _, n := range names {
		svc := cf.Services[n]
		env := map[string]string{}
		for k, v := range img.Env {
			env[k] = v
		}
		senv, err := svc.env()
		if err != nil {
			t.Fatalf("service %s: %v", n, err)
		}
		for k, v := range senv {
			env[k] = v
		}
		dir := t.TempDir()
		for _, vol := range svc.Volumes {
			_, target, ok := strings.Cut(vol, ":")
			if !ok {
				continue
			}
			target, _, _ = strings.Cut(target, ":")
			for k, v := range env {
				if strings.HasPrefix(v, target) {
					env[k] = filepath.Join(dir, "volume") + strings.TrimPrefix(v, target)
				}
			}
		}
		for k, v := range env {
			if env[k], err = rewrite(n, v); err != nil {
				t.Fatalf("service %s: %s: %v", n, k, err)
			}
		}
		for _, p := range svc.Ports {
			hp, _, _ := strings.Cut(strings.Trim(p, `"`), ":")
			h, _ := strconv.Atoi(hp)
			hostAddrs[n] = "127.0.0.1:" + strconv.Itoa(local(hostPort[h].svc, hostPort[h].port))
		}
		adv := env["KAFKA_ADVERTISED_LISTENERS"]
		for _, l := range strings.Split(adv, ",") {
			if name, addr, ok := strings.Cut(l, "://"); ok && name == env["KAFKA_INTER_BROKER_LISTENER_NAME"] {
				networkAddrs[n] = addr
			}
		}
		if hostAddrs[n] == "" || networkAddrs[n] == "" {
			t.Fatalf("service %s: no published port or no inter-broker listener (%s)", n, adv)
		}

		args, err := words(svc.Command)
		if err != nil {
			t.Fatalf("service %s: command: %v", n, err)
		}
		argv := entry
		if ep, err := words(svc.Entrypoint); err != nil || ep != nil {
			t.Fatalf("service %s: an entrypoint of its own is not supported (%v)", n, err)
		}
		if args != nil {
			argv = append(append([]string(nil), img.Entrypoint...), args...)
		}
		cmd := exec.Command(bin, argv[1:]...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		for _, k := range slices.Sorted(mapKeys(env)) {
			cmd.Env = append(cmd.Env, k+"="+env[k])
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		procs = append(procs, &composeProc{name: n, cmd: cmd, logPath: filepath.Join(dir, "samsa.log"), exited: make(chan struct{})})
	}
	t.Logf("compose as processes: host side %v, container network %v", hostAddrs, networkAddrs)

	for _, p := range procs {
		p.start(t)
	}
	for _, p := range procs {
		p.waitListening(t)
	}

	// Each side's clients get that side's addresses, for all three.
	checkSide := func(side string, addrs map[string]string) {
		t.Helper()
		want := slices.Sorted(func(yield func(string) bool) {
			for _, a := range addrs {
				if !yield(a) {
					return
				}
			}
		})
		waitFor(t, clusterFormTimeout, "every broker to list the three at the "+side+" addresses", func() (bool, string) {
			for _, n := range names {
				got, err := brokerAddrs(addrs[n])
				if err != nil {
					return false, fmt.Sprintf("%s via %s: %v", n, addrs[n], err)
				}
				if !slices.Equal(got, want) {
					return false, fmt.Sprintf("%s via %s lists %v, want %v", n, addrs[n], got, want)
				}
			}
			return true, ""
		})
	}
	checkSide("host", hostAddrs)
	checkSide("container network", networkAddrs)

	const topic, partitions = "compose", 3
	createTopicRF(t, hostAddrs[names[0]], topic, partitions, 3, minISR2)
	acked := produceRecords(t, hostAddrs[names[0]], topic, 600, 30, 31)
	for _, n := range names {
		consumed := consumeAll(t, hostAddrs[n], topic, partitions, countPerPartition(acked), readAllTimeout)
		verifyRecords(t, acked, consumed)
		consumed = consumeAll(t, networkAddrs[n], topic, partitions, countPerPartition(acked), readAllTimeout)
		verifyRecords(t, acked, consumed)
	}
}

func (p *composeProc) start(t *testing.T) {
	t.Helper()
	f, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("service %s: %v", p.name, err)
	}
	go func() {
		p.cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		if t.Failed() {
			data, _ := os.ReadFile(p.logPath)
			lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
			t.Logf("service %s: last lines of its log (%s):\n%s", p.name, p.logPath, strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	})
}

// waitListening waits for the listening line in the service's log.
func (p *composeProc) waitListening(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		data, _ := os.ReadFile(p.logPath)
		if strings.Contains(string(data), listeningMsg) {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("service %s exited before %q", p.name, listeningMsg)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("service %s did not log %q within %v", p.name, listeningMsg, startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// brokerAddrs returns the sorted host:port of every broker in the Metadata
// answer of the broker at addr.
func brokerAddrs(addr string) ([]string, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	resp, err := requestAt(addr, req)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, mb := range resp.(*kmsg.MetadataResponse).Brokers {
		out = append(out, fmt.Sprintf("%s:%d", mb.Host, mb.Port))
	}
	slices.Sort(out)
	return out, nil
}

// createTopicRF creates a topic with a replication factor and configs
// through the broker at addr.
func createTopicRF(t testing.TB, addr, topic string, partitions int32, rf int16, configs map[string]string) {
	t.Helper()
	adm, cl := newAdmin(t, addr)
	defer cl.Close()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = kmsg.StringPtr(v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := adm.CreateTopic(ctx, partitions, rf, cfg, topic); err != nil {
		t.Fatalf("CreateTopic %s (RF %d): %v (%+v)", topic, rf, err, resp)
	}
}
