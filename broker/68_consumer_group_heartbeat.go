package broker

// ConsumerGroupHeartbeat (key 68), served v0-v1.
//
//	v0: KIP-848 consumer group protocol: member epochs, server-side
//	    assignors ("uniform", "range"), revocation before reassignment,
//	    static members (epoch -2 to leave temporarily).
//	v1: the client generates its member id; topic regex subscriptions
//	    (RE2, matched against whole names, internal topics excluded).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ConsumerGroupHeartbeat, 0, 1, handleConsumerGroupHeartbeat) }

func handleConsumerGroupHeartbeat(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ConsumerGroupHeartbeatRequest)
	if e := b.groupAccess(rc, kmsg.ACLOperationRead, req.Group); e != nil { // acl.go
		resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.ErrorCode = e.Code
		return resp
	}
	return b.groups.ConsumerGroupHeartbeat(rc.ctx, req, rc.hdr.ClientID, rc.clientHost())
}
