package difftest

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Scenario runs: a scenario is a sequence of steps; each checked step sends
// one request to both brokers (built per broker, since topic ids, member
// ids and producer ids are each broker's own) and diffs the two answers.
// The scenario is run once per version of its API that both brokers
// advertise.

// Side is one broker as a scenario sees it.
type Side struct {
	I    int    // 0 for Kafka, 1 for samsa: the index into a step's answers
	Name string // "kafka" or "samsa"
	Addr string
	Norm *Normalizer
	// Versions is the broker's ApiVersions table: key -> [min, max].
	Versions map[int16][2]int16

	// done are the one-time set-ups already run (Run.OnceFor).
	done map[string]bool

	mu    sync.Mutex       // guards conns (Run.Go sends from a goroutine)
	conns map[string]*Conn // named connections, kept across scenarios
}

// NewSide returns a side for the broker at addr.
func NewSide(i int, name, addr string, self int32) *Side {
	return &Side{I: i, Name: name, Addr: addr, Norm: NewNormalizer(self), conns: map[string]*Conn{}, done: map[string]bool{}}
}

// Conn returns the side's connection with that name, dialing it if needed.
func (s *Side) Conn(name string) (*Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.conns[name]; c != nil {
		return c, nil
	}
	c, err := Dial(s.Addr, "difftest")
	if err != nil {
		return nil, err
	}
	s.conns[name] = c
	return c, nil
}

// dropConn forgets a connection the broker closed or that broke.
func (s *Side) dropConn(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.conns[name]; c != nil {
		c.Close()
		delete(s.conns, name)
	}
}

// Close closes all connections.
func (s *Side) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, c := range s.conns {
		c.Close()
		delete(s.conns, name)
	}
}

// TopicID is the id this broker gave topic (zero if not seen yet).
func (s *Side) TopicID(topic string) [16]byte {
	id, _ := s.Norm.TopicID(topic)
	return id
}

// LoadVersions reads the broker's ApiVersions table.
func (s *Side) LoadVersions() error {
	c, err := s.Conn("versions")
	if err != nil {
		return err
	}
	defer s.dropConn("versions")
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName = "samsa-difftest"
	req.ClientSoftwareVersion = "1"
	resp, _, err := c.Request(req)
	if err != nil {
		return err
	}
	r := resp.(*kmsg.ApiVersionsResponse)
	if r.ErrorCode != 0 {
		return fmt.Errorf("difftest: %s ApiVersions error %d", s.Name, r.ErrorCode)
	}
	s.Versions = map[int16][2]int16{}
	for _, k := range r.ApiKeys {
		s.Versions[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return nil
}

// Scenario is one scripted conversation.
type Scenario struct {
	Name string
	// API is the key whose versions the scenario runs at.
	API kmsg.Key
	// MinV and MaxV narrow the versions (MaxV 0 means no upper bound).
	MinV, MaxV int16
	// Once runs the scenario at the highest common version only (its
	// requests pick their own versions).
	Once bool
	// Setup, if set, runs once before the first version (its steps are
	// not diffed, except those it checks explicitly).
	Setup func(r *Run)
	// Run runs the scenario at version r.V.
	Run func(r *Run)
}

// Run is one scenario at one version.
type Run struct {
	Scenario string
	V        int16 // the version of the scenario's API in this run
	Sides    [2]*Side

	diffs  []Diff
	checks int
	// timeout, if set, bounds the next exchanges (CheckWithin).
	timeout time.Duration
	// versions counts the (API, version) pairs this run checked.
	versions map[[2]int16]bool
	failed   error // the first set-up failure: the run stops at it
}

// errAbort unwinds a run whose set-up failed.
var errAbort = errors.New("difftest: run aborted")

// Fatalf stops the run: a set-up step failed, so what follows means
// nothing. The failure is a test failure, not a difference.
func (r *Run) Fatalf(format string, args ...any) {
	if r.failed == nil {
		r.failed = fmt.Errorf(format, args...)
	}
	panic(errAbort)
}

// OnceFor runs fn the first time any scenario asks for key (shared
// set-up such as the data topic).
func (r *Run) OnceFor(key string, fn func()) {
	if r.Sides[0].done[key] {
		return
	}
	fn()
	r.Sides[0].done[key] = true
}

// Max is the highest version of key both brokers serve (for set-up steps).
func (r *Run) Max(key kmsg.Key) int16 {
	lo, hi, ok := commonVersions(r.Sides, key.Int16())
	if !ok {
		r.Fatalf("no common version of %s", key.Name())
	}
	_ = lo
	return hi
}

// commonVersions is the intersection of both brokers' ranges for key,
// bounded by what kmsg knows.
func commonVersions(sides [2]*Side, key int16) (lo, hi int16, ok bool) {
	a, okA := sides[0].Versions[key]
	b, okB := sides[1].Versions[key]
	req := kmsg.RequestForKey(key)
	if !okA || !okB || req == nil {
		return 0, 0, false
	}
	lo, hi = max(a[0], b[0]), min(a[1], b[1], req.MaxVersion())
	return lo, hi, lo <= hi
}

// Builder builds the request for one side; it sets the version.
type Builder func(s *Side) kmsg.Request

// Answer is what one side answered: a response, or the error (a closed
// connection, a timeout) instead.
type Answer struct {
	Resp kmsg.Response
	Err  error
}

// Check sends the request to both sides at once and diffs the answers.
// step names the request within the scenario ("" if there is one).
func (r *Run) Check(step string, build Builder) [2]Answer {
	return r.CheckOn("main", step, build, nil)
}

// CheckWithin is Check with a shorter bound on the wait for the answers
// (for requests one broker is known never to answer).
func (r *Run) CheckWithin(step string, d time.Duration, build Builder) [2]Answer {
	r.timeout = d
	defer func() { r.timeout = 0 }()
	return r.Check(step, build)
}

// CheckFiltered is Check with filter applied to both responses before
// they are compared (to drop what other scenarios left behind, such as
// their topics in an all-topics Metadata).
func (r *Run) CheckFiltered(step string, build Builder, filter func(kmsg.Response)) [2]Answer {
	return r.CheckOn("main", step, build, filter)
}

// CheckOn is Check on a named connection.
func (r *Run) CheckOn(conn, step string, build Builder, filter func(kmsg.Response)) [2]Answer {
	ans, reqs := r.send(conn, build)
	r.compare(step, reqs[0], ans, filter)
	return ans
}

// Go sends the request on connection conn of both sides in the
// background (for requests that park, such as a JoinGroup waiting for a
// rebalance) and returns a function that waits for the answers and diffs
// them.
func (r *Run) Go(conn, step string, build Builder) func() [2]Answer {
	type result struct {
		ans  [2]Answer
		reqs [2]kmsg.Request
	}
	done := make(chan result, 1)
	var reqs [2]kmsg.Request
	for i, s := range r.Sides {
		reqs[i] = build(s)
	}
	go func() {
		ans := r.sendBuilt(conn, reqs)
		done <- result{ans, reqs}
	}()
	return func() [2]Answer {
		res := <-done
		r.compare(step, res.reqs[0], res.ans, nil)
		return res.ans
	}
}

// Do sends a set-up request to both sides without diffing; an answer that
// is not a response stops the run.
func (r *Run) Do(build Builder) [2]kmsg.Response {
	ans, reqs := r.send("main", build)
	var out [2]kmsg.Response
	for i, a := range ans {
		if a.Err != nil {
			r.Fatalf("set-up %s v%d on %s: %v", kmsg.NameForKey(reqs[i].Key()), reqs[i].GetVersion(), r.Sides[i].Name, a.Err)
		}
		r.Sides[i].Norm.LearnTopicIDs(a.Resp)
		out[i] = a.Resp
	}
	return out
}

func (r *Run) send(conn string, build Builder) ([2]Answer, [2]kmsg.Request) {
	var reqs [2]kmsg.Request
	for i, s := range r.Sides {
		reqs[i] = build(s)
	}
	return r.sendBuilt(conn, reqs), reqs
}

func (r *Run) sendBuilt(conn string, reqs [2]kmsg.Request) [2]Answer {
	var ans [2]Answer
	var wg sync.WaitGroup
	for i, s := range r.Sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ans[i] = s.requestWithin(conn, reqs[i], r.timeout)
		}()
	}
	wg.Wait()
	return ans
}

func (s *Side) request(conn string, req kmsg.Request) Answer {
	return s.requestWithin(conn, req, 0)
}

func (s *Side) requestWithin(conn string, req kmsg.Request, timeout time.Duration) Answer {
	c, err := s.Conn(conn)
	if err != nil {
		return Answer{Err: err}
	}
	c.Timeout = timeout
	resp, _, err := c.Request(req)
	c.Timeout = 0
	if err != nil {
		s.dropConn(conn)
		return Answer{Err: err}
	}
	return Answer{Resp: resp}
}

// RawBuilder builds a raw request body for one side.
type RawBuilder func(s *Side) []byte

// CheckRaw sends (key, version, body) with hand-made bytes to both sides
// and diffs the answers, decoded as decodeAs (the version to decode the
// response at, which for an ApiVersions newer than the broker's is 0).
// flexible says whether the request header ends in tagged fields.
func (r *Run) CheckRaw(step string, key kmsg.Key, version int16, flexible bool, decodeAs int16, body RawBuilder) [2]Answer {
	var ans [2]Answer
	var wg sync.WaitGroup
	req := kmsg.RequestForKey(key.Int16())
	for i, s := range r.Sides {
		b := body(s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.Conn("main")
			if err != nil {
				ans[i].Err = err
				return
			}
			raw, err := c.RequestRaw(key.Int16(), version, flexible, decodeAs, b)
			if err != nil {
				s.dropConn("main")
				ans[i].Err = err
				return
			}
			resp := kmsg.ResponseForKey(key.Int16())
			resp.SetVersion(decodeAs)
			if err := resp.ReadFrom(raw); err != nil {
				ans[i].Err = fmt.Errorf("undecodable response at v%d: %v", decodeAs, err)
				return
			}
			ans[i].Resp = resp
		}()
	}
	wg.Wait()
	req.SetVersion(version)
	r.compare(step, req, ans, nil)
	return ans
}

func (r *Run) compare(step string, req kmsg.Request, ans [2]Answer, filter func(kmsg.Response)) {
	r.checks++
	if r.versions == nil {
		r.versions = map[[2]int16]bool{}
	}
	r.versions[[2]int16{req.Key(), req.GetVersion()}] = true
	scenario := r.Scenario
	if step != "" {
		scenario += "/" + step
	}
	mk := func(path, k, s string) Diff {
		return Diff{API: kmsg.NameForKey(req.Key()), Version: req.GetVersion(), Scenario: scenario, Path: path, Kafka: k, Samsa: s}
	}
	status := func(a Answer) string {
		switch {
		case a.Err == nil && a.Resp == nil:
			return "no response (acks=0)"
		case a.Err == nil:
			return "response"
		case errors.Is(a.Err, ErrClosed):
			return "connection closed"
		default:
			return "error: " + a.Err.Error()
		}
	}
	ks, ss := status(ans[0]), status(ans[1])
	if ks != "response" || ss != "response" {
		if ks != ss {
			r.diffs = append(r.diffs, mk("", ks, ss))
		}
		return
	}
	if filter != nil {
		filter(ans[0].Resp)
		filter(ans[1].Resp)
	}
	kf := r.Sides[0].Norm.Flatten(ans[0].Resp)
	sf := r.Sides[1].Norm.Flatten(ans[1].Resp)
	if dump := os.Getenv("DIFFTEST_DUMP"); dump != "" && glob(dump, scenario) {
		dumpFields(scenario, req, kf, sf)
	}
	paths, kv, sv := compareFields(kf, sf)
	for i := range paths {
		r.diffs = append(r.diffs, mk(paths[i], kv[i], sv[i]))
	}
}

// Result is what a whole run of scenarios found.
type Result struct {
	Runs      int                // scenario x version runs
	Checks    int                // requests compared
	Versions  map[[2]int16]bool  // (API key, version) pairs compared
	Scenarios map[string]bool    // scenario names that ran
	Skipped   map[string]string  // scenario -> why it did not run
	Diffs     []Diff             // every difference, in order
	Failures  []string           // set-up failures (not differences)
	Took      time.Duration      // wall time
	PerAPI    map[string][]int16 // API name -> versions compared (sorted)
}

// RunScenarios runs every scenario at every common version against the two
// sides. logf gets one line per scenario.
func RunScenarios(sides [2]*Side, scenarios []Scenario, only string, logf func(string, ...any)) *Result {
	begin := time.Now()
	res := &Result{Versions: map[[2]int16]bool{}, Scenarios: map[string]bool{}, Skipped: map[string]string{}}
	for _, sc := range scenarios {
		if only != "" && !glob(only, sc.Name) {
			continue
		}
		lo, hi, ok := commonVersions(sides, sc.API.Int16())
		if !ok {
			res.Skipped[sc.Name] = fmt.Sprintf("%s is not served by both brokers", sc.API.Name())
			continue
		}
		lo = max(lo, sc.MinV)
		if sc.MaxV != 0 {
			hi = min(hi, sc.MaxV)
		}
		if lo > hi {
			res.Skipped[sc.Name] = fmt.Sprintf("no common version of %s in [%d, %d]", sc.API.Name(), sc.MinV, sc.MaxV)
			continue
		}
		start := time.Now()
		ndiff := len(res.Diffs)
		res.Scenarios[sc.Name] = true
		if sc.Setup != nil {
			r := &Run{Scenario: sc.Name, V: hi, Sides: sides}
			res.absorb(r, runGuarded(r, sc.Setup))
			if r.failed != nil {
				logf("%s: set-up failed: %v", sc.Name, r.failed)
				continue
			}
		}
		if sc.Once {
			lo = hi
		}
		for v := lo; v <= hi; v++ {
			for _, s := range sides {
				s.Norm.ResetScenario()
			}
			r := &Run{Scenario: sc.Name, V: v, Sides: sides}
			res.absorb(r, runGuarded(r, sc.Run))
			res.Runs++
		}
		logf("%-44s %s v%d-%d: %d differences (%v)", sc.Name, sc.API.Name(), lo, hi, len(res.Diffs)-ndiff, time.Since(start).Round(time.Millisecond))
	}
	res.PerAPI = map[string][]int16{}
	for kv := range res.Versions {
		name := kmsg.NameForKey(kv[0])
		res.PerAPI[name] = append(res.PerAPI[name], kv[1])
	}
	for _, vs := range res.PerAPI {
		sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	}
	res.Took = time.Since(begin)
	return res
}

func runGuarded(r *Run, fn func(*Run)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == errAbort {
				err = r.failed
				return
			}
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	fn(r)
	return nil
}

func (res *Result) absorb(r *Run, err error) {
	res.Checks += r.checks
	for kv := range r.versions {
		res.Versions[kv] = true
	}
	res.Diffs = append(res.Diffs, r.diffs...)
	if err != nil {
		res.Failures = append(res.Failures, fmt.Sprintf("%s v%d: %v", r.Scenario, r.V, err))
	}
}

// VersionsSummary renders PerAPI as "Metadata v0-13, Fetch v4-18, ...".
func (res *Result) VersionsSummary() string {
	var names []string
	for n := range res.PerAPI {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, n+" "+ranges(res.PerAPI[n]))
	}
	return strings.Join(parts, ", ")
}

func ranges(vs []int16) string {
	var parts []string
	for i := 0; i < len(vs); {
		j := i
		for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprintf("v%d", vs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("v%d-%d", vs[i], vs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// dumpFields prints both flattened answers side by side (DIFFTEST_DUMP, a
// scenario glob: for writing scenarios and accepted entries).
func dumpFields(scenario string, req kmsg.Request, kf, sf []Field) {
	fmt.Printf("--- %s v%d %s\n", kmsg.NameForKey(req.Key()), req.GetVersion(), scenario)
	sm := map[string]string{}
	for _, f := range sf {
		sm[f.Path] = f.Value
	}
	km := map[string]bool{}
	for _, f := range kf {
		km[f.Path] = true
		s, ok := sm[f.Path]
		if !ok {
			s = absent
		}
		mark := " "
		if s != f.Value {
			mark = "*"
		}
		fmt.Printf("%s %s: kafka=%s samsa=%s\n", mark, f.Path, f.Value, s)
	}
	for _, f := range sf {
		if !km[f.Path] {
			fmt.Printf("* %s: kafka=%s samsa=%s\n", f.Path, absent, f.Value)
		}
	}
}
