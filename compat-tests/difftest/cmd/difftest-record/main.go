// Command difftest-record records what the compat matrix's clients send to
// Apache Kafka 4.4 during their scenarios, and what Kafka answers, into
// compat-tests/difftest/corpus/<client>.jsonl.gz, which the differential
// test replays against samsa (`make difftest-record`).
//
// For each client it starts a fresh Kafka (scripts/kafka.sh) advertising
// the port of a recording proxy in front of it, then runs the client's suite
// with its bootstrap address pointed at the proxy: the Go clients through
// `go test` in compat-tests (COMPAT_EXTERNAL_BROKER), the Java, Python and
// Node suites through SAMSA_BOOTSTRAP. Only a bounded set of scenarios runs
// per client, and each recording stops logging at -limit frame bytes. The
// suites' checks that assume samsa (a second broker with automatic topic
// creation off, samsa's config sources) fail against this Kafka; that is
// expected and logged, not an error of the recording.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/samsa-io/samsa/compat-tests/difftest"
)

// goScenarios are the Go suites' subtests that run (the matrix columns).
const goScenarios = "bootstrap-metadata|admin-topics|produce-consume-none|consume-from-offset|group-commit-resume|group-commit-resume-kip848|error-unknown-topic"

// pyTests selects the same scenarios in the Python suites.
const pyTests = "bootstrap_metadata or admin_topics or consume_from_offset or group_commit_resume or error_unknown_topic or (produce_consume and none)"

type client struct {
	name string
	dir  string // under compat-tests
	argv func(root string) []string
}

func clients() []client {
	goTest := func(test string) func(string) []string {
		return func(string) []string {
			return []string{"go", "test", "-count=1", "-timeout", "5m", "-run", "^" + test + "$/^(" + goScenarios + ")$", "."}
		}
	}
	py := func(file string) func(string) []string {
		return func(root string) []string {
			return []string{filepath.Join(root, "compat-tests", "python", ".venv", "bin", "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", file, "-k", pyTests}
		}
	}
	return []client{
		{"franz-go", "", goTest("TestFranz")},
		{"sarama", "", goTest("TestSarama")},
		{"kafka-go", "", goTest("TestKafkaGo")},
		{"confluent-kafka-go", "", goTest("TestConfluent")},
		{"kcat", "", goTest("TestKcat")},
		{"java-kafka-clients", "java", func(root string) []string {
			return []string{"mvn", "-q", "-B", "-o", "-Dmaven.repo.local=" + filepath.Join(root, ".cache", "m2"), "test",
				"-Dtest=KafkaClientsTest#bootstrapMetadata+adminTopics+consumeFromOffset+groupCommitResume+errorUnknownTopic",
				"-Dsurefire.failIfNoSpecifiedTests=false"}
		}},
		{"python-kafka-python", "python", py("test_kafka_python.py")},
		{"python-confluent-kafka", "python", py("test_confluent_kafka.py")},
		{"python-aiokafka", "python", py("test_aiokafka.py")},
		{"node-kafkajs", "node", func(string) []string {
			return []string{"node", "--test", "--test-concurrency=1",
				"--test-name-pattern=^(bootstrap-metadata|admin-topics|produce-consume-none|consume-from-offset|group-commit-resume|error-unknown-topic)$", "test/"}
		}},
	}
}

func main() {
	only := flag.String("clients", "", "comma-separated clients to record (default: all)")
	out := flag.String("out", "", "corpus directory (default: compat-tests/difftest/corpus)")
	limit := flag.Int64("limit", 3<<20, "frame bytes logged per client at most")
	timeout := flag.Duration("timeout", 6*time.Minute, "time limit of one client's suite")
	flag.Parse()
	if err := run(*only, *out, *limit, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "difftest-record:", err)
		os.Exit(1)
	}
}

func run(only, out string, limit int64, timeout time.Duration) error {
	root, err := difftest.RepoRoot()
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join(root, "compat-tests", "difftest", "corpus")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "difftest-record-")
	if err != nil {
		return err
	}
	proxy, err := difftest.NewProxy()
	if err != nil {
		return err
	}
	defer proxy.Close()
	proxy.Serve("")
	fmt.Printf("recording proxy %s (logs in %s)\n", proxy.Addr(), tmp)

	want := map[string]bool{}
	for _, c := range strings.Split(only, ",") {
		if c = strings.TrimSpace(c); c != "" {
			want[c] = true
		}
	}
	var failed []string
	for _, c := range clients() {
		if len(want) > 0 && !want[c.name] {
			continue
		}
		// A fresh Kafka per client, as the replay has a fresh samsa: what
		// one client created is not in the next one's answers.
		kafka, err := difftest.StartKafka(root, filepath.Join(tmp, "kafka-"+c.name), difftest.KafkaOptions{AdvertisedPort: proxy.Port()})
		if err != nil {
			return err
		}
		// Coordinators loaded before the client comes (not recorded): a
		// fresh Kafka's COORDINATOR_LOAD_IN_PROGRESS answers are its
		// warm-up, not what it tells clients in steady state.
		side := difftest.NewSide(0, "kafka", kafka.Addr, 1)
		if err := difftest.WarmUp(side, true, 90*time.Second); err != nil {
			kafka.Stop()
			return err
		}
		side.Close()
		proxy.SetUpstream(kafka.Addr)
		path := filepath.Join(out, c.name+".jsonl.gz")
		argv := c.argv(root)
		if err := proxy.Record(path, c.name, strings.Join(argv, " "), limit); err != nil {
			return err
		}
		begin := time.Now()
		logPath := filepath.Join(tmp, c.name+".log")
		runErr := runSuite(root, c, argv, proxy.Addr(), logPath, tmp, timeout)
		recErr := proxy.EndRecording()
		kafka.Stop()
		if recErr != nil {
			return fmt.Errorf("%s: writing %s: %w", c.name, path, recErr)
		}
		fi, _ := os.Stat(path)
		size := int64(0)
		if fi != nil {
			size = fi.Size()
		}
		status := "suite passed"
		if runErr != nil {
			status = "suite failed (expected where it assumes samsa): " + runErr.Error()
		}
		fmt.Printf("%-24s %6.1fs  %7d bytes  %s (log %s)\n", c.name, time.Since(begin).Seconds(), size, status, logPath)
		if runErr != nil && strings.Contains(runErr.Error(), "executable file not found") {
			failed = append(failed, c.name)
			os.Remove(path)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not run: %s", strings.Join(failed, ", "))
	}
	return nil
}

func runSuite(root string, c client, argv []string, bootstrap, logPath, tmp string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = filepath.Join(root, "compat-tests", c.dir)
	cmd.Env = append(os.Environ(),
		"COMPAT_EXTERNAL_BROKER="+bootstrap,
		"SAMSA_BOOTSTRAP="+bootstrap,
		"SAMSA_BOOTSTRAP_NOAUTO="+bootstrap,
		"SAMSA_RESULTS="+filepath.Join(tmp, c.name+".results.jsonl"),
		"PYTHONDONTWRITEBYTECODE=1",
	)
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd.Run()
}
