package difftest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The differential test: one Apache Kafka and one samsa for the whole run
// (started on first use), every scenario at every common version against
// both, and every difference judged against accepted.txt. A difference
// not on the list fails the test; an entry that matched nothing is
// reported (in the summary `make compat` prints) so that the list shrinks
// as fixes land.
//
// Environment:
//
//	SAMSA_BIN        the samsa binary (else built from the repository)
//	DIFFTEST_ONLY    a glob: run only the scenarios it matches
//	DIFFTEST_REPORT  a file the summary is written to as well
//	DIFFTEST_VERBOSE =1: log every difference, accepted or not

var (
	envOnce sync.Once
	env     *testEnv
	envErr  error

	// accepted is the list, shared by the scenario and replay tests so
	// that unused entries are known only once both have run.
	accepted     *Accepted
	acceptedErr  error
	acceptedOnce sync.Once

	reportMu  sync.Mutex   // guards report and ranFull
	report    bytes.Buffer // the summary, printed at the end
	ranFull   = map[string]bool{}
	tempRoots []string
)

type testEnv struct {
	root  string
	dir   string
	bin   string
	kafka *Process
	samsa *Process
}

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		env.kafka.Stop()
		env.samsa.Stop()
	}
	reportMu.Lock()
	if accepted != nil && ranFull["scenarios"] && ranFull["replay"] {
		if unused := accepted.Unused(); len(unused) > 0 {
			fmt.Fprintf(&report, "== accepted.txt entries that matched nothing (remove them once the fix is in):\n")
			for _, e := range unused {
				fmt.Fprintf(&report, "  %s\n", e)
			}
		}
	}
	out := report.String()
	reportMu.Unlock()
	fmt.Print(out)
	if path := os.Getenv("DIFFTEST_REPORT"); path != "" {
		_ = os.WriteFile(path, []byte(out), 0o644)
	}
	if code == 0 {
		for _, d := range tempRoots {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

func loadAccepted(t *testing.T) *Accepted {
	t.Helper()
	acceptedOnce.Do(func() {
		f, err := os.Open("accepted.txt")
		if err != nil {
			acceptedErr = err
			return
		}
		defer f.Close()
		accepted, acceptedErr = ParseAccepted(f)
	})
	if acceptedErr != nil {
		t.Fatalf("accepted.txt: %v", acceptedErr)
	}
	return accepted
}

// tempRoot is a directory kept when the run fails (the brokers' logs).
func tempRoot(t *testing.T, pattern string) string {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	reportMu.Lock()
	tempRoots = append(tempRoots, dir)
	reportMu.Unlock()
	return dir
}

func brokers(t *testing.T) *testEnv {
	t.Helper()
	envOnce.Do(func() {
		e := &testEnv{}
		if e.root, envErr = RepoRoot(); envErr != nil {
			return
		}
		e.dir = tempRoot(t, "samsa-difftest-")
		if e.bin, envErr = SamsaBinary(e.root, e.dir); envErr != nil {
			return
		}
		begin := time.Now()
		var wg sync.WaitGroup
		var kerr, serr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			e.kafka, kerr = StartKafka(e.root, filepath.Join(e.dir, "kafka"), KafkaOptions{})
		}()
		go func() {
			defer wg.Done()
			e.samsa, serr = StartSamsa(e.bin, filepath.Join(e.dir, "samsa"), SamsaArgs()...)
		}()
		wg.Wait()
		if kerr != nil || serr != nil {
			envErr = fmt.Errorf("starting the brokers: kafka: %v; samsa: %v", kerr, serr)
			if e.kafka != nil {
				e.kafka.Stop()
			}
			if e.samsa != nil {
				e.samsa.Stop()
			}
			return
		}
		t.Logf("brokers up in %v: kafka %s, samsa %s (dir %s)", time.Since(begin).Round(time.Millisecond), e.kafka.Addr, e.samsa.Addr, e.dir)
		env = e
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return env
}

func TestScenarios(t *testing.T) {
	acc := loadAccepted(t)
	e := brokers(t)
	sides := [2]*Side{NewSide(0, "kafka", e.kafka.Addr, 1), NewSide(1, "samsa", e.samsa.Addr, 1)}
	defer sides[0].Close()
	defer sides[1].Close()
	for _, s := range sides {
		if err := s.LoadVersions(); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range sides {
		if err := WarmUp(s, i == 0, 90*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	only := os.Getenv("DIFFTEST_ONLY")
	res := RunScenarios(sides, AllScenarios(), only, t.Logf)
	for _, f := range res.Failures {
		t.Errorf("set-up failure (not a difference): %s", f)
	}
	judge(t, "scenarios", res, res.Diffs, acc, only == "")
	if t.Failed() {
		t.Logf("kafka log tail:\n%s", e.kafka.Tail(40))
		t.Logf("samsa log tail:\n%s", e.samsa.Tail(40))
	}
}

// judge fails the test for every difference not on the list and adds the
// summary to the report.
func judge(t *testing.T, what string, res *Result, diffs []Diff, acc *Accepted, full bool) {
	t.Helper()
	v := Judge(diffs, acc)
	verbose := os.Getenv("DIFFTEST_VERBOSE") == "1"
	for e, ds := range v.ByEntry {
		if verbose {
			for _, d := range ds {
				t.Logf("accepted (line %d): %s", e.Line, d)
			}
		}
	}
	for _, d := range v.Unaccepted {
		t.Errorf("difference not on accepted.txt: %s\n\tto accept: %s", d, Suggest(d))
	}
	var buf strings.Builder
	WriteReport(&buf, "difftest "+what, res, acc, v, false)
	reportMu.Lock()
	report.WriteString(buf.String())
	if full {
		ranFull[what] = true
	}
	reportMu.Unlock()
}

// TestReplay replays every recorded conversation in corpus/ against a
// fresh samsa each and judges the differences against accepted.txt.
func TestReplay(t *testing.T) {
	acc := loadAccepted(t)
	dir := os.Getenv("DIFFTEST_CORPUS")
	if dir == "" {
		dir = "corpus"
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no recordings in %s (make difftest-record makes them)", dir)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := tempRoot(t, "samsa-difftest-replay-")
	bin, err := SamsaBinary(root, tmp)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	var all []Diff
	res := &Result{Versions: map[[2]int16]bool{}, Scenarios: map[string]bool{}, Skipped: map[string]string{}}
	for _, f := range files {
		events, err := ReadCorpus(f)
		if err != nil {
			t.Fatal(err)
		}
		client := events[0].Client
		name := "replay-" + client
		p, err := StartSamsa(bin, filepath.Join(tmp, client), SamsaArgs()...)
		if err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		rr, err := Replay(events, p.Addr, name)
		p.Stop()
		if err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		t.Logf("%-32s %d requests, %d answers compared, %d differences in %v", name, rr.Requests, rr.Compared, len(rr.Diffs), rr.Took.Round(time.Millisecond))
		for _, n := range rr.Notes {
			t.Logf("%s: %s", name, n)
		}
		res.Scenarios[name] = true
		res.Runs++
		res.Checks += rr.Compared
		for kv := range rr.Versions {
			res.Versions[kv] = true
		}
		all = append(all, rr.Diffs...)
	}
	res.Diffs = all
	res.PerAPI = map[string][]int16{}
	for kv := range res.Versions {
		name := kmsg.NameForKey(kv[0])
		res.PerAPI[name] = append(res.PerAPI[name], kv[1])
	}
	for _, vs := range res.PerAPI {
		sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	}
	res.Took = time.Since(begin)
	judge(t, "replay", res, all, acc, os.Getenv("DIFFTEST_CORPUS") == "")
}
