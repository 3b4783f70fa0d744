package admin

// The console's charts: throughput and consumer-group lag sampled every
// SampleInterval into a bounded ring (600 samples: 20 minutes at 2 s), so a
// page opened now shows the recent past. The samples come from the broker's
// own counters and its group coordinator (broker.Traffic, broker.GroupLags),
// no Kafka request at all.

import (
	"sync"
	"time"

	"github.com/samsa-io/samsa/broker"
)

// Sample is one point of the throughput history: rates over the interval
// before T.
type Sample struct {
	T             int64              `json:"t"` // unix ms
	BytesInPerS   float64            `json:"bytesIn"`
	BytesOutPerS  float64            `json:"bytesOut"`
	MessagesPerS  float64            `json:"messagesIn"`
	Connections   int                `json:"connections"`
	TopicMsgsPerS map[string]float64 `json:"topics"`
}

// LagSample is one group's total lag at T.
type LagSample struct {
	T   int64 `json:"t"`
	Lag int64 `json:"lag"`
}

// history is the sampled past; mu guards everything in it.
type history struct {
	mu   sync.Mutex
	max  int
	tput []Sample
	lag  map[string][]LagSample
	last map[string]broker.TopicTraffic
	at   time.Time
}

func newHistory(max int) *history {
	return &history{max: max, lag: make(map[string][]LagSample)}
}

func (s *Server) sampleLoop(a *attached) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.SampleInterval)
	defer t.Stop()
	a.h.sample(a.b, time.Now())
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			a.h.sample(a.b, now)
		}
	}
}

// sample takes one point.
func (h *history) sample(b *broker.Broker, now time.Time) {
	traffic := b.Traffic()
	lags := b.GroupLags()
	conns := b.Connections()

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last != nil {
		secs := now.Sub(h.at).Seconds()
		if secs <= 0 {
			secs = 1
		}
		sm := Sample{T: now.UnixMilli(), Connections: conns, TopicMsgsPerS: map[string]float64{}}
		for topic, cur := range traffic {
			prev := h.last[topic]
			sm.BytesInPerS += (cur.BytesIn - prev.BytesIn) / secs
			sm.BytesOutPerS += (cur.BytesOut - prev.BytesOut) / secs
			mps := (cur.MessagesIn - prev.MessagesIn) / secs
			sm.MessagesPerS += mps
			if mps > 0 {
				sm.TopicMsgsPerS[topic] = mps
			}
		}
		h.tput = appendBounded(h.tput, sm, h.max)
	}
	h.last, h.at = traffic, now

	totals := make(map[string]int64)
	for _, gl := range lags {
		totals[gl.Group] += gl.Lag
	}
	for g, l := range totals {
		h.lag[g] = appendBounded(h.lag[g], LagSample{T: now.UnixMilli(), Lag: l}, h.max)
	}
	for g := range h.lag {
		if _, ok := totals[g]; !ok {
			delete(h.lag, g)
		}
	}
}

func appendBounded[T any](s []T, v T, max int) []T {
	if len(s) >= max {
		copy(s, s[1:])
		s = s[:len(s)-1]
	}
	return append(s, v)
}

func (h *history) throughput() []Sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append(make([]Sample, 0, len(h.tput)), h.tput...) // [] in JSON, never null
}

func (h *history) groupLag(g string) []LagSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append(make([]LagSample, 0, len(h.lag[g])), h.lag[g]...)
}
