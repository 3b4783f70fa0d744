package broker

// DeleteGroups (key 42), served v0-v3.
//
//	v0: per-group error codes.
//	v1: same as v0.
//	v2: flexible.
//	v3: per-group error message.
//
// A group with members is NON_EMPTY_GROUP; an unknown one
// GROUP_ID_NOT_FOUND; deleting removes the group and its offsets from
// etcd in one transaction.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DeleteGroups, 0, 3, handleDeleteGroups) }

func handleDeleteGroups(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	// One deadline for the request (each etcd call also has the group
	// coordinator's own): DeleteGroups has no timeout field.
	ctx, cancel := context.WithTimeout(rc.ctx, adminWriteTimeout)
	defer cancel()
	for _, id := range req.Groups {
		g := kmsg.NewDeleteGroupsResponseGroup()
		g.Group = id
		if e := b.groupAccess(rc, kmsg.ACLOperationDelete, id); e != nil { // acl.go
			g.ErrorCode = e.Code
		} else {
			g.ErrorCode = b.groups.DeleteGroup(ctx, id)
		}
		if req.Version >= 3 && g.ErrorCode != 0 {
			switch g.ErrorCode {
			case kerr.NonEmptyGroup.Code:
				g.ErrorMessage = strPtr(fmt.Sprintf("Group %s is not empty.", id))
			case kerr.GroupIDNotFound.Code:
				g.ErrorMessage = strPtr(fmt.Sprintf("Group %s not found.", id))
			default:
				if e := kerr.ErrorForCode(g.ErrorCode); e != nil {
					g.ErrorMessage = strPtr(e.Error())
				}
			}
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}
