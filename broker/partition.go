package broker

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/storage"
)

// partition is one partition replica hosted by this broker: its log and its
// role. The reconciler (reconcile.go) creates it and moves it between roles;
// the handlers read it through Broker.partition.
//
// A replica whose log could not be opened is hosted all the same, with a
// nil log and openErr saying why: it is offline (Metadata reports it, and
// Produce and Fetch answer KAFKA_STORAGE_ERROR) until a later start can open
// it. A log that fails a write later (storage's sticky error) takes the
// replica offline the same way.
type partition struct {
	topic   string
	index   int32
	topicID coordinator.TopicID
	log     *storage.Log // nil when the log could not be opened
	openErr error        // why log is nil

	cfg atomic.Pointer[config.Topic]
	// resolvedWith is the broker configuration cfg was resolved with
	// (a new one: the dynamic defaults changed); guarded by
	// Broker.reconcileMu.
	resolvedWith *config.Broker

	leaderEpoch atomic.Int32
	leader      atomic.Bool // this broker leads the partition
	// meta is the TopicMeta the config was resolved from; a new pointer
	// means the topic changed.
	meta atomic.Pointer[coordinator.TopicMeta]

	// replMu guards repl, the leader's view of its followers and the ISR
	// (replica.go). Never held across etcd or the network.
	replMu sync.Mutex
	repl   replicaState

	// Fetch long-polls and acks=all produces waiting for appends, high
	// watermark, ISR or role changes.
	nwaiters atomic.Int32
	waitMu   sync.Mutex
	waiters  []chan struct{} // guarded by waitMu
}

// offlineErr is why the replica cannot serve, nil when it can.
func (p *partition) offlineErr() error {
	if p.log == nil {
		return p.openErr
	}
	return p.log.Err()
}

// offlineMessage is the ErrorMessage of an answer about an offline replica.
func (p *partition) offlineMessage(err error) string {
	return fmt.Sprintf("the log of %s-%d is offline on this broker: %v", p.topic, p.index, err)
}

// addWaiter registers ch to be signalled (non-blocking) on the next append.
func (p *partition) addWaiter(ch chan struct{}) {
	p.waitMu.Lock()
	p.waiters = append(p.waiters, ch)
	p.nwaiters.Store(int32(len(p.waiters)))
	p.waitMu.Unlock()
}

// removeWaiter unregisters ch.
func (p *partition) removeWaiter(ch chan struct{}) {
	p.waitMu.Lock()
	for i, w := range p.waiters {
		if w == ch {
			p.waiters[i] = p.waiters[len(p.waiters)-1]
			p.waiters = p.waiters[:len(p.waiters)-1]
			break
		}
	}
	p.nwaiters.Store(int32(len(p.waiters)))
	p.waitMu.Unlock()
}

// notify wakes every waiting fetch and produce. Cheap when nobody waits.
func (p *partition) notify() {
	if p.nwaiters.Load() == 0 {
		return
	}
	p.waitMu.Lock()
	for _, w := range p.waiters {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}

// partitionMap is an immutable set of hosted partitions.
type partitionMap struct {
	byTopic map[string][]*partition // index = partition number; nil entries allowed
}

func (m *partitionMap) get(topic string, p int32) *partition {
	ps := m.byTopic[topic]
	if p < 0 || int(p) >= len(ps) {
		return nil
	}
	return ps[p]
}

// all calls fn for every hosted partition.
func (m *partitionMap) all(fn func(p *partition)) {
	for _, ps := range m.byTopic {
		for _, p := range ps {
			if p != nil {
				fn(p)
			}
		}
	}
}

// partition returns the partition if this broker leads it and its log is
// open and healthy, else nil (notServedError says why): the replica the
// client-facing handlers serve.
func (b *Broker) partition(topic string, p int32) *partition {
	pt := b.parts.Load().get(topic, p)
	if pt == nil || pt.log == nil || !pt.leader.Load() || pt.log.Err() != nil {
		return nil
	}
	return pt
}

// hosted returns the hosted replica whatever its state, or nil.
func (b *Broker) hosted(topic string, p int32) *partition {
	return b.parts.Load().get(topic, p)
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
