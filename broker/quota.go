package broker

// Client quotas, as Kafka's ClientQuotaManager enforces them: per quota
// type (producer_byte_rate, consumer_byte_rate, request_percentage,
// controller_mutation_rate) a connection's (user, client id) resolves to
// the most specific entity that sets that type, in Kafka's order
//
//	user+client-id, user+<default> client-id, user,
//	<default> user+client-id, <default> user+<default> client-id,
//	<default> user, client-id, <default> client-id
//
// and every connection that resolves to the same entity (a default one
// counts per user or client id, as in Kafka) shares one rate: Produce
// request bytes, consumers' Fetch response record bytes, handler time in
// percent of one thread, and partitions created or deleted per second.
// Rates are measured over quota.window.num samples of
// quota.window.size.seconds. A request that takes its rate over the quota
// is answered with throttle_time_ms = (rate - quota) / quota x window
// (Kafka's arithmetic: the window is the time the rate was measured over,
// at least quota.window.num-1 samples; only the request quota's throttle is
// capped, at one sample), and the connection is muted for that long
// (its read loop stops reading), as Kafka mutes the channel (KIP-219); for
// versions that throttle before the response (Kafka's pre-KIP-219
// behaviour) the answer itself waits.

import (
	"math"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
)

// Quota keys (Kafka's QuotaConfig).
const (
	quotaProducerByteRate       = "producer_byte_rate"
	quotaConsumerByteRate       = "consumer_byte_rate"
	quotaRequestPercentage      = "request_percentage"
	quotaControllerMutationRate = "controller_mutation_rate"
)

// quotaManager holds the shared rates of the entities quotas resolve to.
type quotaManager struct {
	samples int
	window  time.Duration // one sample

	mu    sync.Mutex
	rates map[quotaRateKey]*quotaRate // guarded by mu
}

// quotaRateKey names one shared rate: the quota type and the resolved
// entity's tags (Kafka's metric tags: user and/or client id).
type quotaRateKey struct {
	typ            string
	user, clientID string
}

func newQuotaManager(samples int, window time.Duration) *quotaManager {
	return &quotaManager{samples: samples, window: window, rates: map[quotaRateKey]*quotaRate{}}
}

// quotaRate is a rate over the last samples windows (Kafka's Rate of a
// SampledStat). Its own mutex: connections of one entity share it.
type quotaRate struct {
	mu     sync.Mutex
	starts []time.Time // guarded by mu; each sample's start
	values []float64   // guarded by mu
	cur    int         // guarded by mu
}

// record adds v at now and returns the rate per second and the window it
// was measured over (the window the throttle time scales with).
func (r *quotaRate) record(v float64, now time.Time, samples int, window time.Duration) (float64, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.starts == nil {
		r.starts, r.values = make([]time.Time, samples), make([]float64, samples)
		r.starts[0] = now
	}
	if now.Sub(r.starts[r.cur]) >= window {
		r.cur = (r.cur + 1) % samples
		r.starts[r.cur], r.values[r.cur] = now, 0
	}
	r.values[r.cur] += v
	// Samples older than the whole window no longer count (Kafka's
	// purgeObsoleteSamples resets them to now).
	oldest := now
	total := 0.0
	for i := range r.values {
		if r.starts[i].IsZero() || now.Sub(r.starts[i]) >= time.Duration(samples)*window {
			r.starts[i], r.values[i] = now, 0
			continue
		}
		total += r.values[i]
		if r.starts[i].Before(oldest) {
			oldest = r.starts[i]
		}
	}
	size := rateWindow(now.Sub(oldest), samples, window)
	return total / size.Seconds(), size
}

// rateWindow is Kafka's Rate.windowSize: the time since the oldest sample
// began, plus whole windows up to samples-1 of them when fewer have passed
// (so a client's first requests are not measured over a few milliseconds).
func rateWindow(elapsed time.Duration, samples int, window time.Duration) time.Duration {
	if full := int(elapsed / window); full < samples-1 {
		elapsed += time.Duration(samples-1-full) * window
	}
	if elapsed <= 0 {
		elapsed = window
	}
	return elapsed
}

// connQuota is a connection's resolved quotas; read loop only.
type connQuota struct {
	rev      int64  // the Snapshot's QuotaRevision they were resolved at
	clientID string // ... for this client id
	resolved [4]resolvedQuota
	// throttleUntil: the connection is muted until then (zero: not).
	throttleUntil time.Time
}

type resolvedQuota struct {
	bound float64 // 0: no quota
	rate  *quotaRate
}

// quota types by index in connQuota.resolved.
var quotaTypes = [4]string{quotaProducerByteRate, quotaConsumerByteRate, quotaRequestPercentage, quotaControllerMutationRate}

const (
	qProduce = iota
	qFetch
	qRequest
	qMutation
)

// resolve returns the connection's quota of type i for the request.
func (b *Broker) resolveQuota(rc *reqCtx, i int) resolvedQuota {
	snap := b.store.Snapshot()
	if len(snap.Quotas) == 0 || rc.conn == nil {
		return resolvedQuota{}
	}
	cq := &rc.conn.quota
	if cq.rev != snap.QuotaRevision || cq.clientID != rc.hdr.ClientID || cq.resolved == [4]resolvedQuota{} {
		cq.rev, cq.clientID = snap.QuotaRevision, rc.hdr.ClientID
		user := strings.TrimPrefix(rc.principal(), "User:")
		for t := range quotaTypes {
			cq.resolved[t] = b.quotas.resolve(snap, quotaTypes[t], user, rc.hdr.ClientID)
		}
	}
	return cq.resolved[i]
}

// resolve finds the quota of typ for (user, clientID) in Kafka's order.
func (m *quotaManager) resolve(snap *coordinator.Snapshot, typ, user, clientID string) resolvedQuota {
	type cand struct {
		e          coordinator.QuotaEntity
		tagU, tagC string
	}
	u := func(dflt bool) coordinator.QuotaEntity {
		return coordinator.QuotaEntity{HasUser: true, User: user, DefaultUser: dflt}
	}
	withC := func(e coordinator.QuotaEntity, dflt bool) coordinator.QuotaEntity {
		e.HasClientID, e.ClientID, e.DefaultClientID = true, clientID, dflt
		if dflt {
			e.ClientID = ""
		}
		if e.DefaultUser {
			e.User = ""
		}
		return e
	}
	ud := u(true)
	ud.User = ""
	order := []cand{
		{withC(u(false), false), user, clientID},
		{withC(u(false), true), user, clientID},
		{u(false), user, ""},
		{withC(u(true), false), user, clientID},
		{withC(u(true), true), user, clientID},
		{ud, user, ""},
		{withC(coordinator.QuotaEntity{}, false), "", clientID},
		{withC(coordinator.QuotaEntity{}, true), "", clientID},
	}
	for _, c := range order {
		v, ok := snap.Quotas[c.e][typ]
		if !ok || v <= 0 {
			continue
		}
		k := quotaRateKey{typ, c.tagU, c.tagC}
		m.mu.Lock()
		r := m.rates[k]
		if r == nil {
			r = &quotaRate{}
			m.rates[k] = r
		}
		m.mu.Unlock()
		return resolvedQuota{bound: v, rate: r}
	}
	return resolvedQuota{}
}

// record adds v to the quota's rate and returns the throttle time in ms
// (0 when within the quota): Kafka's QuotaUtils.throttleTime, the excess
// over the bound in units of the bound, times the measured window. Only the
// request quota bounds it, at one window (Kafka's ClientRequestQuotaManager);
// byte rates and the mutation rate are not bounded.
func (m *quotaManager) record(q resolvedQuota, v float64, now time.Time, bounded bool) int32 {
	if q.bound <= 0 {
		return 0
	}
	rate, size := q.rate.record(v, now, m.samples, m.window)
	if rate <= q.bound {
		return 0
	}
	ms := math.Round((rate - q.bound) / q.bound * float64(size.Milliseconds()))
	if bounded {
		ms = min(ms, float64(m.window.Milliseconds()))
	}
	return int32(min(ms, math.MaxInt32))
}

// consumerQuota is a consumer's Fetch quota (none for followers and
// without quotas), and caps the fetch at what the quota allows over its
// samples-1 windows, as Kafka does (KAFKA-9677: a response larger than that
// would throttle the consumer for longer than the window, for ever).
func (b *Broker) consumerQuota(rc *reqCtx, pl *fetchPlan) resolvedQuota {
	if b.quotas == nil || rc.conn == nil || pl.replica >= 0 {
		return resolvedQuota{}
	}
	q := b.resolveQuota(rc, qFetch)
	if q.bound > 0 {
		most := q.bound * (time.Duration(b.quotas.samples-1) * b.quotas.window).Seconds()
		if most < float64(pl.maxBytes) {
			pl.maxBytes = int32(max(most, 1))
		}
	}
	return q
}

// recordFetch records a consumer's response of n record bytes against its
// quota and returns the throttle time in ms; a throttled response is sent
// empty, so its bytes are taken back out (Kafka's unrecordQuotaSensor).
func (m *quotaManager) recordFetch(q resolvedQuota, n int) int32 {
	if q.bound <= 0 {
		return 0
	}
	now := time.Now()
	t := m.record(q, float64(n), now, false)
	if t > 0 {
		q.rate.record(-float64(n), now, m.samples, m.window)
	}
	return t
}

// exceeded reports whether the quota's rate is already above its bound
// (controller mutations are refused then, Kafka's strict mode), with the
// throttle time.
func (m *quotaManager) exceeded(q resolvedQuota, now time.Time) (int32, bool) {
	if q.bound <= 0 {
		return 0, false
	}
	t := m.record(q, 0, now, false)
	return t, t > 0
}

// applyQuotas records the request against the connection's quotas and
// sets the response's throttle time; handleFrame calls it with the
// request's frame size and its handler's time.
func (b *Broker) applyQuotas(rc *reqCtx, req kmsg.Request, resp kmsg.Response, frameSize int, elapsed time.Duration) {
	if b.quotas == nil || rc.conn == nil || resp == nil {
		return
	}
	now := time.Now()
	var throttle int32
	switch resp.(type) {
	case *kmsg.ProduceResponse:
		throttle = b.quotas.record(b.resolveQuota(rc, qProduce), float64(frameSize), now, false)
	case *kmsg.FetchResponse:
		throttle = rc.fetchThrottle // handleFetch measured it (recordFetch)
	}
	switch req.Key() {
	case kmsg.ApiVersions.Int16(), kmsg.SASLHandshake.Int16(), kmsg.SASLAuthenticate.Int16():
		// Exempt from the request quota, as in Kafka.
	default:
		if t := b.quotas.record(b.resolveQuota(rc, qRequest), float64(elapsed.Nanoseconds())/1e7, now, true); t > throttle {
			throttle = t
		}
	}
	if throttle <= 0 {
		return
	}
	tr, ok := resp.(kmsg.ThrottleResponse)
	if !ok {
		return
	}
	if cur, _ := tr.Throttle(); cur < throttle {
		resp.(kmsg.SetThrottleResponse).SetThrottle(throttle)
	}
	if _, after := tr.Throttle(); after {
		rc.conn.quota.throttleUntil = now.Add(time.Duration(throttle) * time.Millisecond)
	} else {
		rc.throttleBefore = time.Duration(throttle) * time.Millisecond
	}
}

// muteForQuota keeps the connection muted (not read) until its throttle
// ends. False when the broker is closing.
func (c *conn) muteForQuota() bool {
	d := time.Until(c.quota.throttleUntil)
	c.quota.throttleUntil = time.Time{}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// mutationQuota checks the controller mutation quota before a request
// creates or deletes n partitions: exceeded (and the throttle time) when
// the rate is already over it; otherwise the n are counted.
func (b *Broker) mutationQuota(rc *reqCtx, n int) (int32, bool) {
	if b.quotas == nil || rc == nil || rc.conn == nil || n <= 0 {
		return 0, false
	}
	q := b.resolveQuota(rc, qMutation)
	if q.bound <= 0 {
		return 0, false
	}
	now := time.Now()
	if t, over := b.quotas.exceeded(q, now); over {
		return t, true
	}
	b.quotas.record(q, float64(n), now, false)
	return 0, false
}

// createTopicPartitions is how many partitions a CreateTopics entry makes
// (the controller mutation quota counts partitions).
func createTopicPartitions(rt kmsg.CreateTopicsRequestTopic, dflt int32) int {
	switch {
	case len(rt.ReplicaAssignment) > 0:
		return len(rt.ReplicaAssignment)
	case rt.NumPartitions > 0:
		return int(rt.NumPartitions)
	}
	return int(dflt)
}
