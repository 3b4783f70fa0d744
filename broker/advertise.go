package broker

// samsa.advertise.connected.address: every answer that tells a client
// where this broker is (Metadata, FindCoordinator, DescribeCluster, and the
// KIP-951 new-leader endpoints of Produce and Fetch) gives, for this
// broker, the address the client's connection reached it on: the
// connection's local address. A broker in a container is then found at its
// container address whatever advertised.listeners says (the address the
// Docker host routes to on Linux, a pod IP, ...). Behind a port mapping
// that changes the port (docker run -p 49153:9092) the broker cannot see
// the client's address, only its own; README.md's Testcontainers recipes
// say what to do there.
//
// The rewrite runs on the handler's response, in serveRequest, so that no
// handler carries it; the entries of other brokers are left as they are.

import (
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// initAdvertise reads the property once (Start).
func (b *Broker) initAdvertise() {
	b.dev.advertiseConnected = b.cfg.Bool("samsa.advertise.connected.address")
}

// advertiseConnected rewrites this broker's address in resp to the local
// address of the connection rc arrived on.
func (b *Broker) advertiseConnected(rc *reqCtx, resp kmsg.Response) {
	if rc.conn == nil || resp == nil {
		return
	}
	ta, ok := rc.conn.nc.LocalAddr().(*net.TCPAddr)
	if !ok {
		return
	}
	host, port := ta.IP.String(), int32(ta.Port)
	if ta.IP.To4() != nil {
		host = ta.IP.To4().String()
	}
	me := b.cfg.BrokerID
	set := func(id int32, h *string, p *int32) {
		if id == me {
			*h, *p = host, port
		}
	}
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		for i := range r.Brokers {
			set(r.Brokers[i].NodeID, &r.Brokers[i].Host, &r.Brokers[i].Port)
		}
	case *kmsg.FindCoordinatorResponse:
		set(r.NodeID, &r.Host, &r.Port)
		for i := range r.Coordinators {
			set(r.Coordinators[i].NodeID, &r.Coordinators[i].Host, &r.Coordinators[i].Port)
		}
	case *kmsg.DescribeClusterResponse:
		for i := range r.Brokers {
			set(r.Brokers[i].NodeID, &r.Brokers[i].Host, &r.Brokers[i].Port)
		}
	case *kmsg.ProduceResponse:
		for i := range r.Brokers {
			set(r.Brokers[i].NodeID, &r.Brokers[i].Host, &r.Brokers[i].Port)
		}
	case *kmsg.FetchResponse:
		for i := range r.Brokers {
			set(r.Brokers[i].NodeID, &r.Brokers[i].Host, &r.Brokers[i].Port)
		}
	}
}
