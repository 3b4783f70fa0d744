package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The non-Go ecosystems: the Java client (Maven + JUnit, compat-tests/java),
// the Python clients (pytest in a venv, compat-tests/python) and kafkajs
// (node --test, compat-tests/node). Each suite runs once, as one process,
// against two samsa brokers of its own:
//
//	SAMSA_BOOTSTRAP         a broker with Kafka's defaults
//	SAMSA_BOOTSTRAP_NOAUTO  a broker with auto.create.topics.enable=false
//	SAMSA_RESULTS           a file the suite appends one JSON line per
//	                        scenario to: {"client","scenario","ok","error"}
//
// Their set-up (Maven's local repository in .cache/m2, the venv, node_modules)
// is `make compat-setup-java`, `compat-setup-python` and `compat-setup-node`,
// which `make compat` runs first.

// suiteTimeout bounds one ecosystem's run (its own runner has per-scenario
// deadlines well below this).
const suiteTimeout = 6 * time.Minute

// ecoScenarios are the cells every client must report.
var ecoScenarios = []string{
	"bootstrap-metadata",
	"admin-topics",
	"produce-consume-none",
	"produce-consume-gzip",
	"produce-consume-snappy",
	"produce-consume-lz4",
	"produce-consume-zstd",
	"key-partitioning",
	"consume-from-offset",
	"consume-from-timestamp",
	"group-commit-resume",
	"error-unknown-topic",
	"error-message-too-large",
}

type ecosystem struct {
	name    string
	dir     string                     // under compat-tests/
	setup   string                     // the make target that prepares it
	ready   func(root string) error    // is the set-up done?
	command func(root string) []string // argv of the suite
	clients map[string][]string        // client -> scenarios beyond ecoScenarios
	// prefixes: client -> the start of its topic names; its
	// produce-consume-CODEC topics are named PREFIX + "pc-CODEC-…".
	prefixes map[string]string
	env      []string // extra environment
}

func ecosystems() []ecosystem {
	m2 := func(root string) string { return filepath.Join(root, ".cache", "m2") }
	return []ecosystem{
		{
			name:  "java",
			dir:   "java",
			setup: "compat-setup-java",
			ready: func(root string) error {
				if _, err := exec.LookPath("mvn"); err != nil {
					return err
				}
				return ecoStatDir(m2(root))
			},
			command: func(root string) []string {
				return []string{"mvn", "-q", "-B", "-o", "-Dmaven.repo.local=" + m2(root), "test"}
			},
			// connect-distributed: Kafka Connect's distributed worker
			// in-process (KafkaConnectTest.java), its internal topics
			// compacted on samsa, a worker restart resuming from them.
			// The transaction cells (TransactionsTest.java,
			// StreamsEosTest.java): commit/abort, sendOffsetsToTransaction,
			// read_committed up to the LSO, zombie fencing and a Kafka
			// Streams exactly_once_v2 word count.
			clients: map[string][]string{"java-kafka-clients": {"group-commit-resume-kip848", "connect-distributed",
				scTxnCommitAbort, "transactions-send-offsets", scReadCommitted, "zombie-fencing", "streams-exactly-once-v2"}},
			prefixes: map[string]string{"java-kafka-clients": "java-"},
		},
		{
			name:  "python",
			dir:   "python",
			setup: "compat-setup-python",
			ready: func(root string) error {
				_, err := os.Stat(filepath.Join(root, "compat-tests", "python", ".venv", "bin", "python"))
				return err
			},
			command: func(root string) []string {
				return []string{filepath.Join(root, "compat-tests", "python", ".venv", "bin", "python"), "-m", "pytest", "-q", "-rf"}
			},
			clients: map[string][]string{
				"python-confluent-kafka": {"group-commit-resume-kip848", scTxnCommitAbort, scReadCommitted},
				"python-kafka-python":    {scTxnCommitAbort, scReadCommitted},
				"python-aiokafka":        {scTxnCommitAbort, scReadCommitted},
			},
			prefixes: map[string]string{
				"python-confluent-kafka": "py-ck-",
				"python-kafka-python":    "py-kp-",
				"python-aiokafka":        "py-aio-",
			},
			env: []string{"PYTHONDONTWRITEBYTECODE=1"},
		},
		{
			name:  "node",
			dir:   "node",
			setup: "compat-setup-node",
			ready: func(root string) error {
				if _, err := exec.LookPath("node"); err != nil {
					return err
				}
				return ecoStatDir(filepath.Join(root, "compat-tests", "node", "node_modules", "kafkajs"))
			},
			command: func(string) []string {
				return []string{"node", "--test", "--test-concurrency=1", "test/"}
			},
			clients:  map[string][]string{"node-kafkajs": {scTxnCommitAbort, scReadCommitted}},
			prefixes: map[string]string{"node-kafkajs": "node-kjs-"},
		},
	}
}

func ecoStatDir(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", p)
	}
	return nil
}

// TestEcosystems runs the Java, Python and Node suites, one subtest each,
// and folds their result lines into the compat matrix. A subtest fails if
// any of its cells failed, a cell is missing or the suite itself failed.
func TestEcosystems(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, eco := range ecosystems() {
		t.Run(eco.name, func(t *testing.T) {
			if err := eco.ready(root); err != nil {
				// Not a skip: a missing ecosystem is a hole in the matrix.
				for client, extra := range eco.clients {
					for _, sc := range append(append([]string(nil), ecoScenarios...), extra...) {
						record(client, sc, fmt.Errorf("%s suite not set up (run `make %s`): %v", eco.name, eco.setup, err))
					}
				}
				t.Fatalf("%s suite is not set up (run `make %s`): %v", eco.name, eco.setup, err)
			}
			runEcosystem(t, root, eco)
		})
	}
}

func runEcosystem(t *testing.T, root string, eco ecosystem) {
	normal := StartSamsa(t)
	noauto := StartSamsa(t, "--override", "auto.create.topics.enable=false")
	results := filepath.Join(t.TempDir(), "results.jsonl")

	argv := eco.command(root)
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = filepath.Join(root, "compat-tests", eco.dir)
	cmd.Env = append(os.Environ(),
		"SAMSA_BOOTSTRAP="+normal.Addr,
		"SAMSA_BOOTSTRAP_NOAUTO="+noauto.Addr,
		"SAMSA_RESULTS="+results,
	)
	cmd.Env = append(cmd.Env, eco.env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Own process group, killed whole on timeout: Maven forks a JVM for
	// Surefire, node --test a process per file.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second

	begin := time.Now()
	runErr := cmd.Run()
	took := time.Since(begin).Round(100 * time.Millisecond)
	if ctx.Err() != nil {
		runErr = fmt.Errorf("%w (killed after %v)", ctx.Err(), suiteTimeout)
	}
	t.Logf("%s suite: %s in %v (%v)", eco.name, strings.Join(argv, " "), took, ecoExit(runErr))

	cells, readErr := ecoReadCells(results)
	if readErr != nil && !errors.Is(readErr, os.ErrNotExist) {
		t.Errorf("reading %s: %v", results, readErr)
	}
	if err := recordJSONL(results); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("recording %s: %v", results, err)
	}

	// A produce-consume-CODEC cell only means something if the client
	// really compressed with CODEC: look at the batches samsa stored.
	for i, c := range cells {
		codec, isPC := strings.CutPrefix(c.Scenario, "produce-consume-")
		if !isPC || !c.OK {
			continue
		}
		if err := checkStoredCodec(normal.DataDir, eco.prefixes[c.Client]+"pc-"+codec+"-", codec); err != nil {
			cells[i].OK, cells[i].Error = false, err.Error()
			record(c.Client, c.Scenario, err)
		}
	}

	failed := false
	seen := map[[2]string]bool{}
	for _, c := range cells {
		seen[[2]string{c.Client, c.Scenario}] = true
		if _, known := eco.clients[c.Client]; !known {
			t.Errorf("%s suite reported an unknown client %q", eco.name, c.Client)
			failed = true
		}
		if !c.OK {
			t.Errorf("%s / %s: %s", c.Client, c.Scenario, firstLine(c.Error))
			failed = true
		}
	}
	for client, extra := range eco.clients {
		for _, sc := range append(append([]string(nil), ecoScenarios...), extra...) {
			if !seen[[2]string{client, sc}] {
				msg := fmt.Sprintf("the %s suite reported no result (%v)", eco.name, ecoExit(runErr))
				record(client, sc, errors.New(msg))
				t.Errorf("%s / %s: %s", client, sc, msg)
				failed = true
			}
		}
	}
	if runErr != nil {
		t.Errorf("%s suite failed: %v", eco.name, runErr)
		failed = true
	}
	if failed || testing.Verbose() {
		t.Logf("%s suite output:\n%s", eco.name, ecoTail(out.String(), 400))
	}
}

func ecoExit(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// ecoReadCells parses a suite's result file (the format recordJSONL reads).
func ecoReadCells(path string) ([]cell, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cells []cell
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var c cell
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return cells, fmt.Errorf("bad result line %q: %w", line, err)
		}
		cells = append(cells, c)
	}
	return cells, sc.Err()
}

// ecoTail returns the last n lines of s.
func ecoTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// ecoCodecIDs are the compression codecs of a record batch's attributes.
var ecoCodecIDs = map[string]int{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

// checkStoredCodec reads the log segments of every partition directory in
// dataDir whose name starts with topicPrefix (Kafka's layout:
// <topic>-<partition>/<base offset>.log, batches in the v2 wire format) and
// checks that each batch is compressed with codec.
func checkStoredCodec(dataDir, topicPrefix, codec string) error {
	want, ok := ecoCodecIDs[codec]
	if !ok {
		return fmt.Errorf("unknown codec %q", codec)
	}
	dirs, err := filepath.Glob(filepath.Join(dataDir, topicPrefix+"*-[0-9]*"))
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("no partition directory %s* in samsa's data dir to check the stored codec", topicPrefix)
	}
	batches := 0
	for _, dir := range dirs {
		segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, seg := range segs {
			data, err := os.ReadFile(seg)
			if err != nil {
				return err
			}
			for pos := 0; pos+23 <= len(data); {
				// baseOffset int64, batchLength int32, partitionLeaderEpoch
				// int32, magic int8, crc uint32, attributes int16.
				length := int(int32(binary.BigEndian.Uint32(data[pos+8:])))
				if length <= 0 || data[pos+16] != 2 {
					return fmt.Errorf("%s: no v2 batch at byte %d", seg, pos)
				}
				got := int(binary.BigEndian.Uint16(data[pos+21:]) & 7)
				if got != want {
					return fmt.Errorf("%s: the client sent a batch with codec %d, not %s (%d)", filepath.Base(dir), got, codec, want)
				}
				batches++
				pos += 12 + length
			}
		}
	}
	if batches == 0 {
		return fmt.Errorf("no batches stored under %s*", topicPrefix)
	}
	return nil
}
