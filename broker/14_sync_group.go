package broker

// SyncGroup (key 14), served v0-v5.
//
//	v0: the leader sends the assignment; every member gets its own.
//	v1: throttle time.
//	v2: same as v1.
//	v3: group instance id (KIP-345).
//	v4: flexible.
//	v5: protocol type and name, checked against the group's
//	    (INCONSISTENT_GROUP_PROTOCOL) and echoed.
//
// Followers block until the leader's SyncGroup has been stored.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.SyncGroup, 0, 5, handleSyncGroup) }

func handleSyncGroup(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.SyncGroupRequest)
	if e := b.groupAccess(rc, kmsg.ACLOperationRead, req.Group); e != nil { // acl.go
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = e.Code
		return resp
	}
	return b.groups.SyncGroup(rc.ctx, req)
}
