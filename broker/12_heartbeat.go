package broker

// Heartbeat (key 12), served v0-v4.
//
//	v0: group, generation, member.
//	v1: throttle time.
//	v2: same as v1.
//	v3: group instance id (KIP-345).
//	v4: flexible.
//
// REBALANCE_IN_PROGRESS tells a member to rejoin; in CompletingRebalance a
// heartbeat is a plain heartbeat, as in Kafka.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.Heartbeat, 0, 4, handleHeartbeat) }

func handleHeartbeat(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.HeartbeatRequest)
	if e := b.groupAccess(rc, kmsg.ACLOperationRead, req.Group); e != nil { // acl.go
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = e.Code
		return resp
	}
	return b.groups.Heartbeat(req)
}
