package broker

// Prometheus metrics of one broker, on a registry of its own (tests run
// several brokers in one process, so never the global default).
//
// Names follow what Kafka's JMX metrics become through the Prometheus JMX
// exporter's usual rules (kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec
// -> kafka_server_brokertopicmetrics_bytesin_total), so that dashboards built
// for Kafka need few changes; README.md has the table. Where Kafka has no
// metric (etcd, consumer lag, which Kafka leaves to kafka_exporter) the name
// is samsa's own or kafka_exporter's.
//
// The hot paths (request dispatch, produce, fetch) touch only children
// resolved in advance: one per API and version, made when the broker is
// built, and one set per topic, made on the topic's first request and kept
// in a copy-on-write map. Everything that describes state (partitions,
// leaders, ISR, lag, connections) is computed when /metrics is scraped, from
// the metadata snapshot and the hosted partitions (stateCollector).

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"google.golang.org/grpc"

	"github.com/samsa-io/samsa/coordinator"
)

// latencyBuckets are the request latency histogram's buckets, in seconds:
// from a cached Produce to a long-polling Fetch.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// metrics is a broker's instrumentation: the registry /metrics serves and
// the children the hot paths update.
type metrics struct {
	b   *Broker
	reg *prometheus.Registry

	// requests[key] is nil for an API without a handler.
	requests [128]*apiMetrics // as handlers
	// fetchFollower is Fetch from a replica (Kafka's request="FetchFollower";
	// consumers' fetches are "FetchConsumer").
	fetchFollower *apiMetrics

	errorsVec *prometheus.CounterVec
	errMu     sync.Mutex
	errs      map[uint32]prometheus.Counter // guarded by errMu; key: api<<16 | code

	bytesIn, bytesOut, messagesIn *prometheus.CounterVec
	topicsMu                      sync.Mutex // serialises additions to topics
	topics                        atomic.Pointer[map[string]*topicMetrics]

	isrShrinks, isrExpands prometheus.Counter
	// lastSnap is the snapshot observeSnapshot saw last; guarded by
	// Broker.reconcileMu (the reconciler is its only caller).
	lastSnap *coordinator.Snapshot

	flushTime   prometheus.Histogram
	etcdTime    *prometheus.HistogramVec
	etcdErrors  *prometheus.CounterVec
	etcdMethods sync.Map // full gRPC method -> *etcdMethod

	// Request log: every request at debug, one in sampleN; requests slower
	// than slow at warn (0: never).
	slow    time.Duration
	sampler zerolog.Sampler
}

// apiMetrics are one API's children.
type apiMetrics struct {
	name     string
	min      int16
	requests []prometheus.Counter // index: version - min
	latency  prometheus.Observer
}

// topicMetrics are one topic's children.
type topicMetrics struct {
	bytesIn, bytesOut, messagesIn prometheus.Counter
}

type etcdMethod struct {
	time   prometheus.Observer
	errors prometheus.Counter
}

// newMetrics registers every metric of b; called by New.
func newMetrics(b *Broker) *metrics {
	m := &metrics{b: b, reg: prometheus.NewRegistry(), errs: make(map[uint32]prometheus.Counter)}
	m.topics.Store(&map[string]*topicMetrics{})
	f := promFactory{m.reg}

	reqs := f.counterVec("kafka_network_requestmetrics_requests_total",
		"Requests handled, by API (Kafka's request name) and version.", "request", "version")
	latency := f.histogramVec("kafka_network_requestmetrics_totaltime_seconds",
		"Time from a decoded request to its handler's answer (Fetch includes its long-poll wait).", "request")
	m.errorsVec = f.counterVec("kafka_network_requestmetrics_errors_total",
		"Error codes in responses, by API and error (NONE is not counted).", "request", "error")
	resolve := func(name string, h *handler) *apiMetrics {
		am := &apiMetrics{name: name, min: h.min, latency: latency.WithLabelValues(name)}
		for v := h.min; v <= h.max; v++ {
			am.requests = append(am.requests, reqs.WithLabelValues(name, strconv.Itoa(int(v))))
		}
		return am
	}
	for key, h := range handlers {
		if h == nil {
			continue
		}
		name := kmsg.NameForKey(int16(key))
		if int16(key) == kmsg.Fetch.Int16() {
			name = "FetchConsumer"
			m.fetchFollower = resolve("FetchFollower", h)
		}
		m.requests[key] = resolve(name, h)
	}

	m.bytesIn = f.counterVec("kafka_server_brokertopicmetrics_bytesin_total",
		"Record batch bytes appended by Produce, by topic.", "topic")
	m.bytesOut = f.counterVec("kafka_server_brokertopicmetrics_bytesout_total",
		"Record batch bytes returned by consumers' Fetch, by topic.", "topic")
	m.messagesIn = f.counterVec("kafka_server_brokertopicmetrics_messagesin_total",
		"Records appended by Produce, by topic.", "topic")
	m.isrShrinks = f.counter("kafka_server_replicamanager_isrshrinks_total",
		"ISR shrinks of partitions this broker leads, as seen in the metadata.")
	m.isrExpands = f.counter("kafka_server_replicamanager_isrexpands_total",
		"ISR expansions of partitions this broker leads, as seen in the metadata.")
	m.flushTime = f.histogram("kafka_log_logflushstats_logflushtime_seconds",
		"Duration of log flushes that fsynced data (Kafka's LogFlushRateAndTimeMs).")
	m.etcdTime = f.histogramVec("samsa_etcd_request_duration_seconds",
		"Duration of etcd requests, by gRPC method (Kafka's ZooKeeperRequestLatencyMs).", "method")
	m.etcdErrors = f.counterVec("samsa_etcd_request_errors_total",
		"etcd requests that failed, by gRPC method.", "method")

	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(&stateCollector{m: m})

	m.slow = time.Duration(b.cfg.Int64("samsa.request.log.slow.ms")) * time.Millisecond
	m.sampler = &zerolog.BasicSampler{N: uint32(max(b.cfg.Int64("samsa.request.log.debug.sample"), 1))}
	return m
}

// promFactory registers what it makes on one registry.
type promFactory struct{ reg *prometheus.Registry }

func (f promFactory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f promFactory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f promFactory) histogram(name, help string) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets})
	f.reg.MustRegister(h)
	return h
}

func (f promFactory) histogramVec(name, help string, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: latencyBuckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// serveRequest runs the request's handler, counting and timing it and
// logging it (sampled at debug; at warn when slower than
// samsa.request.log.slow.ms). The dev clusters' fault rules act here
// (faults.go), and samsa.advertise.connected.address rewrites the answer
// (advertise.go).
func (b *Broker) serveRequest(h *handler, rc *reqCtx, req kmsg.Request) kmsg.Response {
	start := time.Now()
	var resp kmsg.Response
	if fs := b.dev.Faults; fs != nil && fs.armed() {
		resp = b.serveWithFaults(h, rc, req) // faults.go
	} else {
		resp = h.fn(b, rc, req)
	}
	if b.dev.advertiseConnected {
		b.advertiseConnected(rc, resp) // advertise.go
	}
	m := b.metrics
	if m == nil {
		return resp
	}
	elapsed := time.Since(start)
	am := m.requests[h.key]
	if h.key == kmsg.Fetch.Int16() && isFollowerFetch(req) {
		am = m.fetchFollower
	}
	if am != nil {
		am.requests[rc.hdr.APIVersion-am.min].Inc()
		am.latency.Observe(elapsed.Seconds())
	}
	if resp != nil {
		m.responseErrors(h.key, resp)
	}
	if rc.conn == nil {
		return resp
	}
	log := &rc.conn.log
	if m.slow > 0 && elapsed >= m.slow {
		log.Warn().Str("api", kmsg.NameForKey(h.key)).Int16("api_version", rc.hdr.APIVersion).
			Int32("correlation_id", rc.hdr.CorrelationID).Str("client_id", rc.hdr.ClientID).
			Dur("elapsed", elapsed).Dur("threshold", m.slow).Msg("slow request")
	} else if log.GetLevel() <= zerolog.DebugLevel && m.sampler.Sample(zerolog.DebugLevel) {
		log.Debug().Str("api", kmsg.NameForKey(h.key)).Int16("api_version", rc.hdr.APIVersion).
			Int32("correlation_id", rc.hdr.CorrelationID).Str("client_id", rc.hdr.ClientID).
			Dur("elapsed", elapsed).Msg("request")
	}
	return resp
}

// isFollowerFetch reports whether a Fetch comes from a replica.
func isFollowerFetch(req kmsg.Request) bool {
	fr, ok := req.(*kmsg.FetchRequest)
	if !ok {
		return false
	}
	if fr.Version >= 15 {
		return fr.ReplicaState.ID >= 0
	}
	return fr.ReplicaID >= 0
}

// countError counts one error code in a response of API key.
func (m *metrics) countError(key int16, code int16) {
	if code == 0 {
		return
	}
	k := uint32(uint16(key))<<16 | uint32(uint16(code))
	m.errMu.Lock()
	c := m.errs[k]
	if c == nil {
		name := strconv.Itoa(int(code))
		if ke := kerr.TypedErrorForCode(code); ke != nil && ke.Code == code {
			name = ke.Message
		}
		api := kmsg.NameForKey(key)
		if key == kmsg.Fetch.Int16() {
			api = "FetchConsumer"
		}
		c = m.errorsVec.WithLabelValues(api, name)
		m.errs[k] = c
	}
	m.errMu.Unlock()
	c.Inc()
}

// topic returns the topic's children, made on first use.
func (m *metrics) topic(name string) *topicMetrics {
	if tm := (*m.topics.Load())[name]; tm != nil {
		return tm
	}
	m.topicsMu.Lock()
	defer m.topicsMu.Unlock()
	old := *m.topics.Load()
	if tm := old[name]; tm != nil {
		return tm
	}
	tm := &topicMetrics{
		bytesIn:    m.bytesIn.WithLabelValues(name),
		bytesOut:   m.bytesOut.WithLabelValues(name),
		messagesIn: m.messagesIn.WithLabelValues(name),
	}
	next := make(map[string]*topicMetrics, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[name] = tm
	m.topics.Store(&next)
	return tm
}

// produced counts one appended batch.
func (m *metrics) produced(topic string, bytes int, records int32) {
	if m == nil {
		return
	}
	tm := m.topic(topic)
	tm.bytesIn.Add(float64(bytes))
	tm.messagesIn.Add(float64(records))
}

// fetched counts the record bytes a Fetch response carries (deferred by
// handleFetch, so it sees the final read of a long-poll).
func (m *metrics) fetched(entries []fetchEntry) {
	if m == nil {
		return
	}
	for i := range entries {
		e := &entries[i]
		if e.p == nil {
			continue
		}
		n := int(e.file.Len)
		if n == 0 {
			n = len(e.out.RecordBatches)
		}
		if n > 0 {
			m.topic(e.p.topic).bytesOut.Add(float64(n))
		}
	}
}

// observeFlush is the storage's flush observer.
func (m *metrics) observeFlush(d time.Duration) { m.flushTime.Observe(d.Seconds()) }

// observeSnapshot is called by the reconciler with each snapshot it
// applies: it counts ISR shrinks and expansions of the partitions this
// broker leads (the leader is who changes the ISR, as in Kafka) and drops
// the per-topic children of deleted topics.
func (m *metrics) observeSnapshot(snap *coordinator.Snapshot) {
	if m == nil {
		return
	}
	prev := m.lastSnap
	m.lastSnap = snap
	if prev == nil {
		return
	}
	me := m.b.cfg.BrokerID
	for name, tm := range snap.Topics {
		old := prev.Topics[name]
		// Internal topics have no logs here: their "ISR" is the live
		// replicas the controller keeps, not replication.
		if old == nil || old.Info.ID != tm.Info.ID || tm.Info.Internal {
			continue
		}
		for i, ps := range tm.Partitions {
			// Only an ISR change while this broker leads, in one
			// leader epoch (a new leadership is not a shrink or an
			// expansion).
			if ps.Leader != me || i >= len(old.Partitions) || old.Partitions[i].Leader != me ||
				old.Partitions[i].LeaderEpoch != ps.LeaderEpoch {
				continue
			}
			switch was := len(old.Partitions[i].ISR); {
			case len(ps.ISR) < was:
				m.isrShrinks.Inc()
			case len(ps.ISR) > was:
				m.isrExpands.Inc()
			}
		}
	}
	for name := range *m.topics.Load() {
		if snap.Topics[name] == nil {
			m.dropTopic(name)
		}
	}
}

func (m *metrics) dropTopic(name string) {
	m.topicsMu.Lock()
	defer m.topicsMu.Unlock()
	old := *m.topics.Load()
	next := make(map[string]*topicMetrics, len(old))
	for k, v := range old {
		if k != name {
			next[k] = v
		}
	}
	m.topics.Store(&next)
	m.bytesIn.DeleteLabelValues(name)
	m.bytesOut.DeleteLabelValues(name)
	m.messagesIn.DeleteLabelValues(name)
}

// etcdDialOptions time every unary etcd request (KV, Txn, Lease grants...)
// of the broker's etcd client; watches and keep-alives are streams and
// are not counted.
func (m *metrics) etcdDialOptions() []grpc.DialOption {
	if m == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(m.etcdUnary)}
}

func (m *metrics) etcdUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	em := m.etcdMethod(method)
	em.time.Observe(time.Since(start).Seconds())
	if err != nil {
		em.errors.Inc()
	}
	return err
}

func (m *metrics) etcdMethod(method string) *etcdMethod {
	if v, ok := m.etcdMethods.Load(method); ok {
		return v.(*etcdMethod)
	}
	// "/etcdserverpb.KV/Range" -> "KV/Range"
	label := strings.TrimPrefix(method, "/")
	if i := strings.IndexByte(label, '.'); i >= 0 {
		label = label[i+1:]
	}
	em := &etcdMethod{time: m.etcdTime.WithLabelValues(label), errors: m.etcdErrors.WithLabelValues(label)}
	v, _ := m.etcdMethods.LoadOrStore(method, em)
	return v.(*etcdMethod)
}
