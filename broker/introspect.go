package broker

// The broker's read-only surface for its operators: the admin listener
// (/metrics, /readyz, the console's JSON API) reads the broker through these
// and nothing else. Everything here is safe to call concurrently with the
// request path, once Start has returned; nothing here changes state or
// calls etcd.

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/coordinator/group"
)

// ID is the broker's id (node.id).
func (b *Broker) ID() int32 { return b.cfg.BrokerID }

// Uptime is the time since New.
func (b *Broker) Uptime() time.Duration { return time.Since(b.start) }

// Snapshot is the metadata snapshot the broker serves from.
func (b *Broker) Snapshot() *coordinator.Snapshot { return b.store.Snapshot() }

// Gatherer is the broker's Prometheus registry (metrics.go).
func (b *Broker) Gatherer() prometheus.Gatherer { return b.metrics.reg }

// HostedPartition describes one replica this broker hosts.
type HostedPartition struct {
	Topic       string
	Partition   int32
	TopicID     coordinator.TopicID
	Leader      bool // this broker leads it
	LeaderEpoch int32
	// Offsets and size of the log; -1 when the log is offline.
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
	SizeBytes      int64
	// Offline is why the replica cannot serve ("" when it can).
	Offline string
}

// HostedPartitions lists the replicas this broker hosts, by topic and
// partition.
func (b *Broker) HostedPartitions() []HostedPartition {
	var out []HostedPartition
	b.parts.Load().all(func(p *partition) {
		hp := HostedPartition{Topic: p.topic, Partition: p.index, TopicID: p.topicID,
			Leader: p.leader.Load(), LeaderEpoch: p.leaderEpoch.Load(),
			LogStartOffset: -1, LogEndOffset: -1, HighWatermark: -1, SizeBytes: -1}
		if err := p.offlineErr(); err != nil {
			hp.Offline = err.Error()
		}
		if l := p.log; l != nil {
			hp.LogStartOffset, hp.LogEndOffset, hp.HighWatermark = l.LogStartOffset(), l.LogEndOffset(), l.HighWatermark()
			hp.SizeBytes = l.Size()
		}
		out = append(out, hp)
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// GroupLag is a group's committed offset on one partition and how far it
// is behind the partition's high watermark.
type GroupLag struct {
	Group     string
	Topic     string
	Partition int32
	Committed int64
	End       int64 // high watermark
	Lag       int64
}

// GroupLags is the lag of every group this broker coordinates on every
// partition it leads (the partitions whose end it knows). Sorted.
func (b *Broker) GroupLags() []GroupLag {
	if b.groups == nil || !b.groups.Loaded() {
		return nil
	}
	groups, code := b.groups.ListGroups(nil, nil)
	if code != 0 {
		return nil
	}
	var out []GroupLag
	for _, g := range groups {
		offs, code := b.groups.FetchOffsets(group.FetchArgs{Group: g.Group})
		if code != 0 {
			continue
		}
		for topic, ps := range offs {
			for p, o := range ps {
				pt := b.partition(topic, p)
				if pt == nil || o.Offset < 0 {
					continue
				}
				end := pt.log.HighWatermark()
				out = append(out, GroupLag{Group: g.Group, Topic: topic, Partition: p,
					Committed: o.Offset, End: end, Lag: max(end-o.Offset, 0)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, c := out[i], out[j]
		if a.Group != c.Group {
			return a.Group < c.Group
		}
		if a.Topic != c.Topic {
			return a.Topic < c.Topic
		}
		return a.Partition < c.Partition
	})
	return out
}

// TopicTraffic is what the broker counted for one topic since it started.
type TopicTraffic struct {
	BytesIn, BytesOut, MessagesIn float64
}

// Traffic returns the produce and fetch counters by topic (the console's
// throughput charts take their differences).
func (b *Broker) Traffic() map[string]TopicTraffic {
	out := make(map[string]TopicTraffic)
	for name, tm := range *b.metrics.topics.Load() {
		out[name] = TopicTraffic{BytesIn: counterValue(tm.bytesIn), BytesOut: counterValue(tm.bytesOut),
			MessagesIn: counterValue(tm.messagesIn)}
	}
	return out
}

// Connections is the number of open client connections.
func (b *Broker) Connections() int {
	b.connsMu.Lock()
	defer b.connsMu.Unlock()
	return len(b.conns)
}

// ErrNotReady wraps every reason Ready gives.
var ErrNotReady = errors.New("broker: not ready")

// Ready is nil when the broker serves clients: the Kafka listener accepts
// connections, the metadata snapshot is loaded and lists this broker, the
// group coordinator has loaded its groups, and every partition of the
// group and transaction coordinators' internal topics has a live leader.
// Otherwise it says what is missing.
func (b *Broker) Ready() error {
	if b.closed.Load() {
		return fmt.Errorf("%w: shutting down", ErrNotReady)
	}
	if len(b.listeners) == 0 {
		return fmt.Errorf("%w: no Kafka listener", ErrNotReady)
	}
	addr := dialable(b.listeners[0].Addr())
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return fmt.Errorf("%w: the Kafka listener %s does not accept: %v", ErrNotReady, addr, err)
	}
	c.Close()
	if b.store == nil {
		return fmt.Errorf("%w: metadata not loaded", ErrNotReady)
	}
	snap := b.store.Snapshot()
	if snap == nil {
		return fmt.Errorf("%w: metadata not loaded", ErrNotReady)
	}
	if _, ok := snap.Brokers[b.cfg.BrokerID]; !ok {
		return fmt.Errorf("%w: broker %d is not registered in the metadata", ErrNotReady, b.cfg.BrokerID)
	}
	if b.groups == nil || !b.groups.Loaded() {
		return fmt.Errorf("%w: the group coordinator is loading", ErrNotReady)
	}
	for _, name := range []string{offsetsTopic, transactionTopic} {
		tm := snap.Topic(name)
		if tm == nil || len(tm.Partitions) == 0 {
			return fmt.Errorf("%w: %s does not exist yet", ErrNotReady, name)
		}
		for i, ps := range tm.Partitions {
			if _, live := snap.Brokers[ps.Leader]; ps.Leader < 0 || !live {
				return fmt.Errorf("%w: %s-%d has no live leader", ErrNotReady, name, i)
			}
		}
	}
	return nil
}

// KafkaAddr is an address of the broker's first Kafka listener that a
// client on this host can dial (loopback for a wildcard bind).
func (b *Broker) KafkaAddr() string { return dialable(b.listeners[0].Addr()) }

func dialable(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := ta.IP.String()
	if ta.IP == nil || ta.IP.IsUnspecified() {
		host = "127.0.0.1"
		if ta.IP != nil && ta.IP.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(ta.Port))
}
