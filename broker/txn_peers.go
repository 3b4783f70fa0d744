package broker

// Connections from the transaction machinery to other brokers: the
// marker writer sends WriteTxnMarkers to partition leaders, a partition
// leader sends AddPartitionsToTxn v4+ (verify, or add for TV2) to the
// producer's transaction coordinator. One connection per broker, one
// request at a time on it (brokerConn is not safe for concurrent use),
// dialed through the inter-broker listener with its security
// (replica_auth.go) and dropped after any failure.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnPeerTimeout bounds a dial and a request to another broker.
const txnPeerTimeout = 30 * time.Second

type txnPeers struct {
	b *Broker

	mu     sync.Mutex
	conns  map[int32]*txnPeer // guarded by mu
	closed bool               // guarded by mu
}

// txnPeer is the connection to one broker; mu serialises its requests
// (held across the network: only the requests to that broker wait on it).
type txnPeer struct {
	mu   sync.Mutex
	conn *brokerConn // guarded by mu; nil until dialed or after a failure
}

func newTxnPeers(b *Broker) *txnPeers {
	return &txnPeers{b: b, conns: make(map[int32]*txnPeer)}
}

var errTxnPeersClosed = errors.New("broker: inter-broker transaction connections closed")

// request sends req to broker id at the highest version of req's API
// both serve, at most maxV, at least minV, and returns the response.
func (ps *txnPeers) request(ctx context.Context, id int32, req kmsg.Request, minV, maxV int16) (kmsg.Response, error) {
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		return nil, errTxnPeersClosed
	}
	p := ps.conns[id]
	if p == nil {
		p = &txnPeer{}
		ps.conns[id] = p
	}
	ps.mu.Unlock()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		addr, ok := ps.b.interBrokerAddr(id)
		if !ok {
			return nil, fmt.Errorf("broker %d is not registered", id)
		}
		dctx, cancel := context.WithTimeout(ctx, txnPeerTimeout)
		c, err := dialBrokerWith(dctx, addr, fmt.Sprintf("samsa-txn-%d", ps.b.cfg.BrokerID), 64<<20, txnPeerTimeout, ps.b.interAuth)
		cancel()
		if err != nil {
			return nil, err
		}
		ps.mu.Lock()
		closed := ps.closed
		ps.mu.Unlock()
		if closed {
			c.close()
			return nil, errTxnPeersClosed
		}
		p.conn = c
	}
	v := min(p.conn.maxVersion(kmsg.Key(req.Key())), maxV)
	if v < minV {
		return nil, fmt.Errorf("broker %d serves %s up to v%d; v%d is needed", id, kmsg.NameForKey(req.Key()), v, minV)
	}
	req.SetVersion(v)
	resp, err := p.conn.request(ctx, req, txnPeerTimeout)
	if err != nil {
		p.conn.close()
		p.conn = nil
		return nil, err
	}
	return resp, nil
}

// close closes every connection; later requests fail.
func (ps *txnPeers) close() {
	ps.mu.Lock()
	ps.closed = true
	conns := ps.conns
	ps.conns = map[int32]*txnPeer{}
	ps.mu.Unlock()
	for _, p := range conns {
		// A request in flight holds p.mu; its connection ends with the
		// coordinator's context (request's AfterFunc), so this waits
		// at most until it returns.
		p.mu.Lock()
		if p.conn != nil {
			p.conn.close()
			p.conn = nil
		}
		p.mu.Unlock()
	}
}
