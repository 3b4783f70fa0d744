package broker

// Which address of a broker a client or a peer is given, lease fencing as
// the broker sees it, and whether this broker may lead a partition.
//
// Every advertised listener is registered (BrokerInfo.Endpoints). A client
// is answered with the endpoint of the listener it connected through
// (Metadata, FindCoordinator, DescribeCluster, the KIP-951 node endpoints
// of Produce and Fetch); a broker without that listener is left out, as
// Kafka does. Replica fetchers dial inter.broker.listener.name.

import (
	"net"
	"strconv"

	"github.com/samsa-io/samsa/coordinator"
)

// listenerName is the name of the listener the request came through; the
// first listener's for a request without a connection (tests).
func (b *Broker) listenerName(rc *reqCtx) string {
	if rc != nil && rc.conn != nil && rc.conn.listener != "" {
		return rc.conn.listener
	}
	if len(b.cfg.Listeners) > 0 {
		return b.cfg.Listeners[0].Name
	}
	return ""
}

// clientEndpoint returns broker id's endpoint for the listener of the
// request, false when the broker is not live or has no such listener.
func (b *Broker) clientEndpoint(snap *coordinator.Snapshot, rc *reqCtx, id int32) (coordinator.BrokerInfo, coordinator.Endpoint, bool) {
	bi, ok := snap.Brokers[id]
	if !ok {
		return coordinator.BrokerInfo{}, coordinator.Endpoint{}, false
	}
	ep, ok := bi.Endpoint(b.listenerName(rc))
	return bi, ep, ok
}

// interBrokerAddr is the host:port of broker id's inter-broker listener
// (inter.broker.listener.name), for the replica fetcher; false when the
// broker is not live or does not advertise that listener.
func (b *Broker) interBrokerAddr(brokerID int32) (string, bool) {
	bi, ok := b.store.Snapshot().Brokers[brokerID]
	if !ok {
		return "", false
	}
	ep, ok := bi.Endpoint(b.cfg.InterBrokerListener)
	if !ok {
		return "", false
	}
	return net.JoinHostPort(ep.Host, strconv.Itoa(int(ep.Port))), true
}

// leaseValid reports whether this broker's registration lease is certainly
// still valid in etcd (coordinator/lease.go). While it is not, the broker
// must act as the leader of nothing: a new leader may be elected as soon
// as the lease has expired.
func (b *Broker) leaseValid() bool {
	return b.store != nil && b.store.LeaseValid()
}

// mayLead reports whether this broker may act as the leader the snapshot
// names it for a partition in state st: it is in the ISR, and the
// controller has recorded the directory id it registered with (a broker
// whose disk was lost is first removed from every ISR and ELR; until its
// new directory is recorded it leads nothing, even if a stale state still
// names it).
func (b *Broker) mayLead(snap *coordinator.Snapshot, st coordinator.PartitionState) bool {
	if !containsID(st.ISR, b.cfg.BrokerID) {
		return false
	}
	return b.dirID == "" || snap.BrokerDirs[b.cfg.BrokerID] == b.dirID
}

// brokerEndpoints are this broker's advertised listeners as registered: a
// port of 0 is replaced by the port its listener was bound to.
func (b *Broker) brokerEndpoints() []coordinator.Endpoint {
	adv := b.cfg.AdvertisedListeners
	if len(adv) == 0 {
		adv = b.cfg.Listeners
	}
	out := make([]coordinator.Endpoint, 0, len(adv))
	for _, l := range adv {
		host, port := l.Host, l.Port
		if port == 0 {
			for i, bl := range b.cfg.Listeners {
				if bl.Name == l.Name && i < len(b.listeners) {
					port = int32(b.listeners[i].Addr().(*net.TCPAddr).Port)
				}
			}
		}
		if host == "" {
			host = "localhost"
		}
		proto := b.cfg.ListenerProtocols[l.Name]
		if proto == "" {
			proto = "PLAINTEXT"
		}
		out = append(out, coordinator.Endpoint{Name: l.Name, Host: host, Port: port, SecurityProtocol: proto})
	}
	return out
}

// embeddedMember is the combined-mode etcd member of this broker, nil when
// not in combined mode.
func (b *Broker) embeddedMember() *coordinator.Member {
	if !b.cfg.Combined {
		return nil
	}
	m := &coordinator.Member{
		Name:       strconv.Itoa(int(b.cfg.BrokerID)),
		PeerListen: net.JoinHostPort(b.cfg.ControllerListener.Host, strconv.Itoa(int(b.cfg.ControllerListener.Port))),
	}
	if b.cfg.ControllerListener.Host == "" {
		m.PeerListen = net.JoinHostPort("0.0.0.0", strconv.Itoa(int(b.cfg.ControllerListener.Port)))
	}
	for _, v := range b.cfg.QuorumVoters {
		addr := net.JoinHostPort(v.Host, strconv.Itoa(int(v.Port)))
		m.Peers = append(m.Peers, coordinator.MemberPeer{Name: strconv.Itoa(int(v.ID)), Addr: addr})
		if v.ID == b.cfg.BrokerID {
			m.PeerAdvertise = addr
		}
	}
	return m
}
