package difftest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Replay: a recorded conversation (corpus.go) is sent to a fresh samsa,
// one connection per recorded connection, and each answer is compared with
// Kafka's recorded one through the normalizer.
//
// Order: a request goes out only once every response the recording had
// seen before the client sent it has come back from samsa, so that what
// the client knew when it asked is what samsa has done by then; requests
// the client pipelined go out pipelined. Values Kafka assigned (member and
// producer ids, fetch session ids, ...) are rewritten to samsa's
// (rewrite.go).

// replayWait bounds the wait for the responses a request depends on (a
// samsa that does not answer is reported, the replay goes on).
const replayWait = 15 * time.Second

// ReplayResult is what one replay found.
type ReplayResult struct {
	Requests int // requests sent
	Compared int // answers compared
	Diffs    []Diff
	Notes    []string // requests that could not be replayed as recorded
	Took     time.Duration
	Versions map[[2]int16]bool
}

type pendingReq struct {
	req      kmsg.Request // what samsa was sent (decoded), nil if raw
	key, ver int16
	kafka    *Event // the recorded answer, nil if none
	ordinal  int    // index among the recording's responses, -1 if none
}

type replayConn struct {
	nc      net.Conn
	pending map[int32]*pendingReq // correlation id -> request; guarded by replayer.mu
	dead    bool                  // guarded by replayer.mu
}

type replayer struct {
	addr     string
	scenario string
	versions map[int16][2]int16 // samsa's ApiVersions table

	mu   sync.Mutex // guards everything below, and the normalizers
	cond *sync.Cond
	// done[i] says the i-th recorded response is settled (samsa answered,
	// or it never will); prefix is the count of settled ones from the start.
	done     []bool
	prefix   int
	conns    map[int]*replayConn
	kafka    *Normalizer
	samsa    *Normalizer
	assigned *assigned
	res      *ReplayResult
	wg       sync.WaitGroup
}

// Replay replays events to the samsa at addr; scenario names the
// differences ("replay-<client>").
func Replay(events []Event, addr, scenario string) (*ReplayResult, error) {
	begin := time.Now()
	side := NewSide(1, "samsa", addr, 1)
	if err := side.LoadVersions(); err != nil {
		return nil, err
	}
	r := &replayer{
		addr: addr, scenario: scenario, versions: side.Versions,
		conns: map[int]*replayConn{},
		kafka: NewNormalizer(1), samsa: NewNormalizer(1),
		res: &ReplayResult{Versions: map[[2]int16]bool{}},
	}
	r.cond = sync.NewCond(&r.mu)
	r.assigned = newAssigned(r.kafka, r.samsa)

	// The recorded answer of each request, and how many responses the
	// recording had seen before each event.
	type connCorr struct {
		conn int
		corr int32
	}
	answers := map[connCorr][]int{} // -> response event indexes, in order
	ordinalOf := map[int]int{}      // response event index -> ordinal
	nresp := 0
	for i, e := range events {
		if e.Dir == "resp" {
			answers[connCorr{e.Conn, e.Corr}] = append(answers[connCorr{e.Conn, e.Corr}], i)
			ordinalOf[i] = nresp
			nresp++
		}
	}
	r.done = make([]bool, nresp)
	// A response whose request was never recorded settles at once.
	asked := map[int]bool{}
	for _, e := range events {
		if e.Dir == "req" {
			if q := answers[connCorr{e.Conn, e.Corr}]; len(q) > 0 {
				asked[q[0]] = true
			}
		}
	}
	for i, e := range events {
		if e.Dir == "resp" && !asked[i] {
			r.settle(ordinalOf[i])
		}
	}

	seen := 0 // responses before the current event
	for i := range events {
		e := &events[i]
		switch e.Dir {
		case "resp":
			seen++
		case "req":
			r.waitPrefix(seen)
			var kafka *Event
			ordinal := -1
			cc := connCorr{e.Conn, e.Corr}
			if q := answers[cc]; len(q) > 0 {
				kafka, ordinal = &events[q[0]], ordinalOf[q[0]]
				answers[cc] = q[1:]
			}
			r.send(e, kafka, ordinal)
		case "close":
			if e.By == "client" {
				r.closeConn(e.Conn)
			}
		}
	}
	r.waitPrefix(nresp)
	r.mu.Lock()
	for _, c := range r.conns {
		c.nc.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.res.Took = time.Since(begin)
	return r.res, nil
}

// waitPrefix waits until the first n recorded responses are settled, or
// replayWait passes without progress.
func (r *replayer) waitPrefix(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.prefix < n {
		before := r.prefix
		timer := time.AfterFunc(replayWait, func() {
			r.mu.Lock()
			r.cond.Broadcast()
			r.mu.Unlock()
		})
		start := time.Now()
		r.cond.Wait()
		timer.Stop()
		if r.prefix == before && time.Since(start) >= replayWait {
			r.res.Notes = append(r.res.Notes, fmt.Sprintf("gave up waiting %v for recorded response %d", replayWait, r.prefix+1))
			return
		}
	}
}

// settle marks a recorded response as settled; r.mu must be held or the
// replay not started yet.
func (r *replayer) settle(ordinal int) {
	if ordinal < 0 || ordinal >= len(r.done) || r.done[ordinal] {
		return
	}
	r.done[ordinal] = true
	for r.prefix < len(r.done) && r.done[r.prefix] {
		r.prefix++
	}
	if r.cond != nil {
		r.cond.Broadcast()
	}
}

func (r *replayer) diff(key, ver int16, path, kafka, samsa string) {
	r.res.Diffs = append(r.res.Diffs, Diff{API: kmsg.NameForKey(key), Version: ver, Scenario: r.scenario, Path: path, Kafka: kafka, Samsa: samsa})
}

// send replays one recorded request.
func (r *replayer) send(e *Event, kafka *Event, ordinal int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := &pendingReq{key: e.Key, ver: e.Ver, kafka: kafka, ordinal: ordinal}
	if vr, ok := r.versions[e.Key]; !ok || e.Ver < vr[0] || e.Ver > vr[1] {
		if kafka != nil {
			what := "api-not-served"
			if ok {
				what = "version-not-served"
			}
			r.diff(e.Key, e.Ver, "", "response", what)
		}
		r.settle(ordinal)
		return
	}
	frame := r.prepare(e, p)
	c, err := r.connLocked(e.Conn)
	if err != nil {
		r.res.Notes = append(r.res.Notes, err.Error())
		r.settle(ordinal)
		return
	}
	expect := kafka != nil || !isAcks0(p.req)
	if expect {
		c.pending[e.Corr] = p
	}
	r.res.Requests++
	if err := writeFrame(c.nc, frame); err != nil {
		delete(c.pending, e.Corr)
		if kafka != nil {
			r.diff(e.Key, e.Ver, "", "response", "connection closed")
		}
		r.settle(ordinal)
		return
	}
	if !expect {
		r.settle(ordinal)
	}
}

func isAcks0(req kmsg.Request) bool {
	p, ok := req.(*kmsg.ProduceRequest)
	return ok && p.Acks == 0
}

// prepare decodes a recorded request, rewrites it for samsa and encodes it
// again; a request kmsg cannot decode goes out as recorded.
func (r *replayer) prepare(e *Event, p *pendingReq) []byte {
	req, clientID, err := decodeRequest(e.Frame)
	if err != nil {
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("%s v%d sent as recorded: %v", kmsg.NameForKey(e.Key), e.Ver, err))
		return e.Frame
	}
	r.assigned.rewrite(req)
	p.req = req
	var fmtr *kmsg.RequestFormatter
	if clientID != nil {
		fmtr = kmsg.NewRequestFormatter(kmsg.FormatterClientID(*clientID))
	} else {
		fmtr = kmsg.NewRequestFormatter()
	}
	frame := fmtr.AppendRequest(nil, req, e.Corr)
	return frame[4:]
}

// decodeRequest parses a request frame (no length prefix).
func decodeRequest(frame []byte) (kmsg.Request, *string, error) {
	key, ver, _, err := parseRequestHeader(frame)
	if err != nil {
		return nil, nil, err
	}
	req := kmsg.RequestForKey(key)
	if req == nil || ver > req.MaxVersion() || ver < 0 {
		return nil, nil, fmt.Errorf("kmsg has no %d v%d", key, ver)
	}
	req.SetVersion(ver)
	b := frame[8:]
	if len(b) < 2 {
		return nil, nil, errors.New("no client id")
	}
	var clientID *string
	n := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n >= 0 {
		if int(n) > len(b) {
			return nil, nil, errors.New("client id past the end")
		}
		s := string(b[:n])
		clientID = &s
		b = b[n:]
	}
	if req.IsFlexible() {
		if b, err = skipTags(b); err != nil {
			return nil, nil, err
		}
	}
	if err := req.ReadFrom(b); err != nil {
		return nil, nil, err
	}
	return req, clientID, nil
}

// decodeResponse parses a response frame (no length prefix) to (key, ver).
func decodeResponse(key, ver int16, frame []byte) (kmsg.Response, error) {
	_, body, err := splitResponse(frame, responseHeaderFlexible(key, ver))
	if err != nil {
		return nil, err
	}
	resp := kmsg.ResponseForKey(key)
	if resp == nil {
		return nil, fmt.Errorf("kmsg has no response for key %d", key)
	}
	resp.SetVersion(ver)
	if err := resp.ReadFrom(body); err != nil {
		// An ApiVersions newer than the broker's is answered in the v0
		// layout (UNSUPPORTED_VERSION and the broker's table).
		if key == kmsg.ApiVersions.Int16() && ver > 0 {
			return decodeResponse(key, 0, frame)
		}
		return nil, err
	}
	return resp, nil
}

// connLocked returns the replay connection for a recorded one, dialing a
// new one if samsa closed the last.
func (r *replayer) connLocked(id int) (*replayConn, error) {
	if c := r.conns[id]; c != nil && !c.dead {
		return c, nil
	}
	nc, err := net.DialTimeout("tcp", r.addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("difftest: replay dial %s: %w", r.addr, err)
	}
	c := &replayConn{nc: nc, pending: map[int32]*pendingReq{}}
	r.conns[id] = c
	r.wg.Add(1)
	go r.readLoop(c)
	return c, nil
}

// closeConn closes a connection the client closed, once its answers are
// in (or replayWait passed).
func (r *replayer) closeConn(id int) {
	deadline := time.Now().Add(replayWait)
	for {
		r.mu.Lock()
		c := r.conns[id]
		if c == nil || c.dead || len(c.pending) == 0 || time.Now().After(deadline) {
			if c != nil {
				c.nc.Close()
				delete(r.conns, id)
			}
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *replayer) readLoop(c *replayConn) {
	defer r.wg.Done()
	for {
		frame, err := readFrame(c.nc)
		r.mu.Lock()
		if err != nil {
			c.dead = true
			for corr, p := range c.pending {
				if p.kafka != nil {
					r.diff(p.key, p.ver, "", "response", "connection closed")
				}
				delete(c.pending, corr)
				r.settle(p.ordinal)
			}
			r.mu.Unlock()
			return
		}
		corr := int32(-1)
		if len(frame) >= 4 {
			corr = int32(binary.BigEndian.Uint32(frame))
		}
		p := c.pending[corr]
		if p == nil {
			r.res.Notes = append(r.res.Notes, fmt.Sprintf("samsa answered unknown correlation id %d", corr))
			r.mu.Unlock()
			continue
		}
		delete(c.pending, corr)
		r.compare(p, frame)
		r.settle(p.ordinal)
		r.mu.Unlock()
	}
}

// compare diffs samsa's answer with the recorded one; r.mu is held.
func (r *replayer) compare(p *pendingReq, frame []byte) {
	if p.kafka == nil {
		return
	}
	r.res.Versions[[2]int16{p.key, p.ver}] = true
	kresp, err := decodeResponse(p.key, p.ver, p.kafka.Frame)
	if err != nil {
		r.res.Notes = append(r.res.Notes, fmt.Sprintf("recorded %s v%d answer undecodable: %v", kmsg.NameForKey(p.key), p.ver, err))
		return
	}
	sresp, err := decodeResponse(p.key, p.ver, frame)
	if err != nil {
		r.diff(p.key, p.ver, "", "response", "undecodable: "+err.Error())
		return
	}
	r.res.Compared++
	if p.req != nil {
		r.assigned.learn(p.req, kresp, sresp)
	}
	r.kafka.LearnTopicIDs(kresp)
	r.samsa.LearnTopicIDs(sresp)
	kf, sf := r.kafka.Flatten(kresp), r.samsa.Flatten(sresp)
	if dump := os.Getenv("DIFFTEST_DUMP"); dump != "" && glob(dump, r.scenario) {
		dumpFields(r.scenario, p.req, kf, sf)
	}
	paths, kv, sv := compareFields(kf, sf)
	for i := range paths {
		r.diff(p.key, p.ver, paths[i], kv[i], sv[i])
	}
}
