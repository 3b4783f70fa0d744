package broker

// Fault injection for the dev clusters: rules that make the broker answer
// requests with an error, late, or not at all, the way kfake's Control and
// its Fault hooks let a Go test make a fake broker misbehave, but on the
// real broker and reachable from any language through the admin HTTP API
// (admin/v1.go).
//
// A rule selects requests by API, broker, client id, and topic/partition or
// group, picks which of the requests it selected it fires on (every one,
// the Nth, a random fraction) and for how many firings (Count), and does
// one thing when it fires:
//
//	error  answer the whole request with the error code (every topic,
//	       partition or group in it gets the code; the handler does not run,
//	       so nothing is written); an acks=0 Produce gets its connection
//	       closed instead, as Kafka answers acks=0 errors
//	delay  run the request, then hold its answer for Delay
//	drop   close the connection without answering
//	stall  answer nothing and read nothing more on the connection for
//	       Delay (0: until the rule is removed), then close it
//
// Rules are checked in the order they were added; the first that fires
// wins. Each firing is logged ("fault injected"). A rule stays listed, with
// its counts, until removed, also once spent (Nth or Count reached).
//
// The request dispatch (serveRequest) pays one atomic load when no rule is
// active: the active rules are an immutable slice behind an atomic pointer,
// nil when there are none.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fault actions.
const (
	FaultError = "error"
	FaultDelay = "delay"
	FaultDrop  = "drop"
	FaultStall = "stall"
)

// Fault is one fault-injection rule, as the admin API takes and lists it
// (JSON) and as samsatest's options take it.
type Fault struct {
	// ID is assigned by Faults.Add.
	ID string `json:"id,omitempty"`

	// Selection; an empty field selects everything.
	//
	// API is a Kafka API name as Kafka spells it ("Produce",
	// "JoinGroup"; case does not matter) or its key ("0").
	API string `json:"api,omitempty"`
	// Broker: only requests to this broker id.
	Broker *int32 `json:"broker,omitempty"`
	// ClientID: only requests whose client id is this.
	ClientID string `json:"clientId,omitempty"`
	// Topic: only requests that name this topic (or its topic id);
	// Partition, which needs Topic, narrows it to one of its partitions.
	Topic     string `json:"topic,omitempty"`
	Partition *int32 `json:"partition,omitempty"`
	// Group: only requests about this group (JoinGroup, OffsetCommit,
	// FindCoordinator for it, ...).
	Group string `json:"group,omitempty"`

	// Which of the selected requests it fires on: the Nth only (1 is the
	// first), else each with probability Fraction (0 < Fraction < 1),
	// else every one. Count > 0 spends the rule after that many firings.
	Nth      int     `json:"nth,omitempty"`
	Fraction float64 `json:"fraction,omitempty"`
	Count    int     `json:"count,omitempty"`

	// What it does: Action is error (the default when Error is set),
	// delay, drop or stall. Error is a Kafka error name
	// ("NOT_LEADER_OR_FOLLOWER") or code ("6"). Delay is how long delay
	// holds the answer and stall the connection (a Go duration: "250ms").
	Action string   `json:"action,omitempty"`
	Error  string   `json:"error,omitempty"`
	Delay  Duration `json:"delay,omitempty"`

	// In listings: requests the rule selected, times it fired, and
	// whether it is spent.
	Matched int64 `json:"matched"`
	Fired   int64 `json:"fired"`
	Spent   bool  `json:"spent"`
}

// Duration is a time.Duration that JSON spells as a Go duration string
// ("1.5s") or a number of milliseconds.
type Duration time.Duration

// MarshalJSON writes the duration as a string ("250ms").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "250ms" or 250 (milliseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration: want a string such as \"250ms\" or a number of milliseconds, got %s", b)
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}

// ErrBadFault wraps every reason Faults.Add refuses a rule.
var ErrBadFault = errors.New("broker: bad fault")

// Faults is a set of fault-injection rules, shared by the brokers of one
// dev cluster (DevOptions.Faults). Safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	rules  []*faultRule // guarded by mu; every rule not removed, spent or not
	nextID int          // guarded by mu

	// active is the rules that can still fire, in order, or nil when
	// there are none (the request path's only read); replaced under mu.
	active atomic.Pointer[[]*faultRule]
}

// NewFaults returns an empty set.
func NewFaults() *Faults { return &Faults{} }

// faultRule is a validated Fault.
type faultRule struct {
	spec      Fault // ID and selection as given; the counts below are the live ones
	key       int16 // -1: any API
	broker    int32 // -1: any
	partition int32 // -1: any
	action    string
	code      int16
	delay     time.Duration

	// guarded by Faults.mu
	matched, fired int64
	spent          bool
	// gone is closed when the rule is removed: a stall it started ends.
	gone chan struct{}
}

// Add validates f, appends it and returns it with its ID.
func (fs *Faults) Add(f Fault) (Fault, error) {
	r, err := compileFault(f)
	if err != nil {
		return Fault{}, err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.nextID++
	r.spec.ID = strconv.Itoa(fs.nextID)
	fs.rules = append(fs.rules, r)
	fs.publishLocked()
	return r.listing(), nil
}

// Remove removes a rule (ending the stalls it caused); false if there is
// none with that id.
func (fs *Faults) Remove(id string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, r := range fs.rules {
		if r.spec.ID == id {
			fs.rules = append(fs.rules[:i:i], fs.rules[i+1:]...)
			close(r.gone)
			fs.publishLocked()
			return true
		}
	}
	return false
}

// Clear removes every rule and returns how many there were.
func (fs *Faults) Clear() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := len(fs.rules)
	for _, r := range fs.rules {
		close(r.gone)
	}
	fs.rules = nil
	fs.publishLocked()
	return n
}

// List returns every rule with its counts, in order.
func (fs *Faults) List() []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]Fault, 0, len(fs.rules))
	for _, r := range fs.rules {
		out = append(out, r.listing())
	}
	return out
}

// Get returns one rule with its counts.
func (fs *Faults) Get(id string) (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, r := range fs.rules {
		if r.spec.ID == id {
			return r.listing(), true
		}
	}
	return Fault{}, false
}

// armed reports whether any rule can fire: the request path's check.
func (fs *Faults) armed() bool { return fs.active.Load() != nil }

// publishLocked republishes the active rules (mu held).
func (fs *Faults) publishLocked() {
	var act []*faultRule
	for _, r := range fs.rules {
		if !r.spent {
			act = append(act, r)
		}
	}
	if len(act) == 0 {
		fs.active.Store(nil)
		return
	}
	fs.active.Store(&act)
}

// listing is the rule as List shows it (Faults.mu held).
func (r *faultRule) listing() Fault {
	f := r.spec
	f.Matched, f.Fired, f.Spent = r.matched, r.fired, r.spent
	return f
}

func compileFault(f Fault) (*faultRule, error) {
	bad := func(format string, args ...any) (*faultRule, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadFault, fmt.Sprintf(format, args...))
	}
	r := &faultRule{spec: f, key: -1, broker: -1, partition: -1, gone: make(chan struct{})}
	r.spec.ID, r.spec.Matched, r.spec.Fired, r.spec.Spent = "", 0, 0, false
	if f.API != "" {
		k, ok := apiKeyByName(f.API)
		if !ok {
			return bad("unknown api %q (want a Kafka API name such as Produce, or its key)", f.API)
		}
		r.key = k
	}
	if f.Broker != nil {
		r.broker = *f.Broker
	}
	if f.Partition != nil {
		if f.Topic == "" {
			return bad("partition needs topic")
		}
		if *f.Partition < 0 {
			return bad("partition %d: must not be negative", *f.Partition)
		}
		r.partition = *f.Partition
	}
	if f.Nth < 0 || f.Count < 0 {
		return bad("nth and count must not be negative")
	}
	if f.Nth > 0 && f.Fraction != 0 {
		return bad("give nth or fraction, not both")
	}
	if f.Fraction < 0 || f.Fraction >= 1 {
		if f.Fraction != 0 {
			return bad("fraction %v: want 0 < fraction < 1 (leave it out for every request)", f.Fraction)
		}
	}
	if f.Delay < 0 {
		return bad("delay must not be negative")
	}
	r.delay = time.Duration(f.Delay)
	r.action = strings.ToLower(f.Action)
	if r.action == "" && f.Error != "" {
		r.action = FaultError
	}
	switch r.action {
	case FaultError:
		if f.Error == "" {
			return bad("action error needs error (a Kafka error name or code)")
		}
		code, ok := errorCodeByName(f.Error)
		if !ok {
			return bad("unknown error %q (want a Kafka error name such as NOT_LEADER_OR_FOLLOWER, or its code)", f.Error)
		}
		r.code = code
	case FaultDelay:
		if r.delay <= 0 {
			return bad("action delay needs a delay (\"200ms\")")
		}
	case FaultDrop, FaultStall:
	case "":
		return bad("give an action (error, delay, drop, stall) or an error")
	default:
		return bad("unknown action %q (want error, delay, drop or stall)", f.Action)
	}
	if r.action != FaultError && f.Error != "" {
		return bad("error is only for action error")
	}
	r.spec.Action = r.action
	return r, nil
}

// firing is what one rule does to one request.
type firing struct {
	r      *faultRule
	id     string
	action string
	code   int16
	delay  time.Duration
}

// decide returns the rule that fires on this request, if any, counting
// the match and the firing.
func (fs *Faults) decide(b *Broker, key int16, rc *reqCtx, req kmsg.Request) *firing {
	act := fs.active.Load()
	if act == nil {
		return nil
	}
	for _, r := range *act {
		if r.key >= 0 && r.key != key {
			continue
		}
		if r.broker >= 0 && r.broker != b.cfg.BrokerID {
			continue
		}
		if r.spec.ClientID != "" && r.spec.ClientID != rc.hdr.ClientID {
			continue
		}
		if r.spec.Topic != "" && !requestNamesTopic(req, r.spec.Topic, b.topicIDOf(r.spec.Topic), r.partition) {
			continue
		}
		if r.spec.Group != "" && !requestNamesGroup(req, r.spec.Group) {
			continue
		}
		fs.mu.Lock()
		if r.spent {
			fs.mu.Unlock()
			continue
		}
		r.matched++
		fire := true
		switch {
		case r.spec.Nth > 0:
			fire = r.matched == int64(r.spec.Nth)
		case r.spec.Fraction > 0:
			fire = rand.Float64() < r.spec.Fraction
		}
		if !fire {
			fs.mu.Unlock()
			continue
		}
		r.fired++
		if r.spec.Nth > 0 || (r.spec.Count > 0 && r.fired >= int64(r.spec.Count)) {
			r.spent = true
			fs.publishLocked()
		}
		fired := r.fired
		fs.mu.Unlock()
		b.log.Info().Str("fault", r.spec.ID).Str("action", r.action).Str("api", kmsg.NameForKey(key)).
			Int16("api_version", rc.hdr.APIVersion).Str("client_id", rc.hdr.ClientID).
			Int32("broker_id", b.cfg.BrokerID).Int64("fired", fired).Msg("fault injected")
		return &firing{r: r, id: r.spec.ID, action: r.action, code: r.code, delay: r.delay}
	}
	return nil
}

// topicIDOf is the id of a topic in the current metadata (zero if none).
func (b *Broker) topicIDOf(name string) [16]byte {
	if b.store == nil {
		return [16]byte{}
	}
	if tm := b.store.Snapshot().Topic(name); tm != nil {
		return tm.Info.ID
	}
	return [16]byte{}
}

// serveWithFaults is serveRequest's handler call when fault rules are
// active.
func (b *Broker) serveWithFaults(h *handler, rc *reqCtx, req kmsg.Request) kmsg.Response {
	f := b.dev.Faults.decide(b, h.key, rc, req)
	if f == nil {
		return h.fn(b, rc, req)
	}
	switch f.action {
	case FaultError:
		if pr, ok := req.(*kmsg.ProduceRequest); ok && pr.Acks == 0 {
			rc.closeConn = true
			return nil
		}
		return faultResponse(req, f.code, "injected by samsa fault "+f.id)
	case FaultDelay:
		resp := h.fn(b, rc, req)
		t := time.NewTimer(f.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-rc.ctx.Done():
		}
		return resp
	case FaultDrop:
		rc.closeConn = true
		return nil
	case FaultStall:
		var timeout <-chan time.Time
		if f.delay > 0 {
			t := time.NewTimer(f.delay)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-timeout:
		case <-f.r.gone:
		case <-rc.ctx.Done():
		}
		rc.closeConn = true
		return nil
	}
	return h.fn(b, rc, req)
}

// apiKeyByName resolves "Produce", "produce" or "0".
func apiKeyByName(s string) (int16, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n >= len(handlers) || kmsg.RequestForKey(int16(n)) == nil {
			return 0, false
		}
		return int16(n), true
	}
	for k := int16(0); int(k) < len(handlers); k++ {
		if kmsg.RequestForKey(k) != nil && strings.EqualFold(kmsg.NameForKey(k), s) {
			return k, true
		}
	}
	return 0, false
}

// errorCodeByName resolves a Kafka error name (kerr's, and Kafka's newer
// names where kerr keeps an old one) or a code.
func errorCodeByName(s string) (int16, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < -1 || n > 1<<15-1 || n == 0 {
			return 0, false
		}
		return int16(n), kerr.TypedErrorForCode(int16(n)).Code == int16(n)
	}
	name := strings.ToUpper(strings.TrimSpace(s))
	switch name {
	case "NOT_LEADER_OR_FOLLOWER":
		return kerr.NotLeaderForPartition.Code, true
	}
	for code := int16(-1); code < 200; code++ {
		if e := kerr.TypedErrorForCode(code); e != nil && e.Code == code && e.Message == name {
			return code, true
		}
	}
	return 0, false
}

// requestNamesTopic reports whether req names topic (by name, or by id
// where the request carries topic ids), and when partition >= 0 that
// partition of it. It walks the decoded request: every struct with a Topic
// or TopicID field, its Partitions, and lists of topic names.
func requestNamesTopic(req kmsg.Request, topic string, id [16]byte, partition int32) bool {
	return walkStructs(reflect.ValueOf(req), func(v reflect.Value) bool {
		if matchesTopic(v, topic, id) {
			if partition < 0 {
				return true
			}
			ps := v.FieldByName("Partitions")
			if ps.IsValid() && ps.Kind() == reflect.Slice {
				for i := 0; i < ps.Len(); i++ {
					e := ps.Index(i)
					switch e.Kind() {
					case reflect.Int32:
						if int32(e.Int()) == partition {
							return true
						}
					case reflect.Struct:
						if p := e.FieldByName("Partition"); p.IsValid() && p.Kind() == reflect.Int32 && int32(p.Int()) == partition {
							return true
						}
					}
				}
			}
			return false
		}
		if partition < 0 {
			for _, name := range []string{"Topics", "TopicNames"} {
				if containsString(v.FieldByName(name), topic) {
					return true
				}
			}
		}
		return false
	})
}

// requestNamesGroup reports whether req is about group: a Group field, a
// list of group names, or a FindCoordinator key of the group type.
func requestNamesGroup(req kmsg.Request, group string) bool {
	if fc, ok := req.(*kmsg.FindCoordinatorRequest); ok {
		if fc.CoordinatorType != 0 {
			return false
		}
		return fc.CoordinatorKey == group || containsString(reflect.ValueOf(fc.CoordinatorKeys), group)
	}
	return walkStructs(reflect.ValueOf(req), func(v reflect.Value) bool {
		if g := v.FieldByName("Group"); g.IsValid() && stringValue(g) == group {
			return true
		}
		return containsString(v.FieldByName("Groups"), group)
	})
}

// matchesTopic reports whether struct v names the topic by name or id.
func matchesTopic(v reflect.Value, topic string, id [16]byte) bool {
	if t := v.FieldByName("Topic"); t.IsValid() && stringValue(t) == topic {
		return true
	}
	if id == ([16]byte{}) {
		return false
	}
	t := v.FieldByName("TopicID")
	return t.IsValid() && t.Type() == reflect.TypeOf(id) && t.Interface().([16]byte) == id
}

// walkStructs calls fn on v (a pointer to a struct or a struct) and every
// struct reachable through its slices, depth first, until fn returns true.
func walkStructs(v reflect.Value, fn func(reflect.Value) bool) bool {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return false
	}
	if fn(v) {
		return true
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Struct || !v.Type().Field(i).IsExported() {
			continue
		}
		for j := 0; j < f.Len(); j++ {
			if walkStructs(f.Index(j), fn) {
				return true
			}
		}
	}
	return false
}

// stringValue is the value of a string or *string field ("" for nil or
// any other kind).
func stringValue(v reflect.Value) string {
	switch {
	case v.Kind() == reflect.String:
		return v.String()
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.String && !v.IsNil():
		return v.Elem().String()
	}
	return ""
}

// containsString reports whether v is a []string holding s.
func containsString(v reflect.Value, s string) bool {
	if !v.IsValid() || v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.String {
		return false
	}
	for i := 0; i < v.Len(); i++ {
		if v.Index(i).String() == s {
			return true
		}
	}
	return false
}
