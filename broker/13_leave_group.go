package broker

// LeaveGroup (key 13), served v0-v5.
//
//	v0: one member by id.
//	v1: throttle time.
//	v2: same as v1.
//	v3: a batch of members, by member id or (admin client) instance id,
//	    with per-member errors (KIP-345).
//	v4: flexible.
//	v5: leave reason.
//
// A member of a group that does not exist gets UNKNOWN_MEMBER_ID.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.LeaveGroup, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.LeaveGroupRequest)
	if e := b.groupAccess(rc, kmsg.ACLOperationRead, req.Group); e != nil { // acl.go
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = e.Code
		return resp
	}
	return b.groups.LeaveGroup(req)
}
