package broker

// Placeholders the control plane replaces (see /work/notes/H-ctrl.md): the
// lease fence and the inter-broker endpoint. Delete this file when the
// control plane's definitions are merged.

import (
	"net"
	"strconv"
)

// leaseValid reports whether this broker's etcd lease is still valid from
// etcd's point of view. While it is false the broker acts as the leader of
// nothing: Produce appends nothing, acks=all waits fail and the high
// watermark does not advance. Until the control plane measures the lease,
// it is always valid.
func (b *Broker) leaseValid() bool { return true }

// interBrokerAddr is the host:port a follower fetches from on broker id:
// for now the address the broker registered.
func (b *Broker) interBrokerAddr(brokerID int32) (string, bool) {
	bi, ok := b.store.Snapshot().Brokers[brokerID]
	if !ok {
		return "", false
	}
	return net.JoinHostPort(bi.Host, strconv.Itoa(int(bi.Port))), true
}
