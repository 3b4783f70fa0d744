package broker

// JoinGroup (key 11), served v0-v9.
//
//	v0: session timeout (also the rebalance timeout).
//	v1: rebalance timeout.
//	v2: throttle time.
//	v3: same as v2.
//	v4: KIP-394: a new dynamic member first gets MEMBER_ID_REQUIRED with
//	    its member id and must join again with it.
//	v5: group instance id (KIP-345 static membership).
//	v6: flexible.
//	v7: protocol type in the response; protocol name nullable.
//	v8: leave reason.
//	v9: skip_assignment (KIP-814): a static leader rejoining a stable
//	    group is told not to reassign.
//
// The request blocks until the rebalance completes (Kafka parks it in the
// rebalance purgatory); requests on one connection are answered in order,
// as Kafka does by muting the channel.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.JoinGroup, 0, 9, handleJoinGroup) }

func handleJoinGroup(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.JoinGroupRequest)
	if e := b.groupAccess(rc, kmsg.ACLOperationRead, req.Group); e != nil { // acl.go
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = e.Code
		resp.Generation = -1
		resp.MemberID = req.MemberID
		if req.Version < 7 {
			resp.Protocol = strPtr("")
		}
		return resp
	}
	return b.groups.JoinGroup(rc.ctx, req, rc.hdr.ClientID, rc.clientHost())
}
