package broker

// ConsumerGroupDescribe (key 69), served v0-v1.
//
//	v0: KIP-848 group state, epochs, assignor, members with current and
//	    target assignments.
//	v1: member type (1 = consumer protocol).
//
// IncludeAuthorizedOperations lists every group operation: there is no
// authorizer, and Kafka answers so without one. An empty group id is
// INVALID_GROUP_ID, as Kafka's coordinator answers it.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ConsumerGroupDescribe, 0, 1, handleConsumerGroupDescribe) }

func handleConsumerGroupDescribe(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	var local []string
	for _, id := range req.Groups {
		if id == "" {
			g := kmsg.NewConsumerGroupDescribeResponseGroup()
			g.ErrorCode = kerr.InvalidGroupID.Code
			g.ErrorMessage = strPtr("the group id must not be empty")
			g.AuthorizedOperations = authorizedOpsOmitted
			resp.Groups = append(resp.Groups, g)
			continue
		}
		if e := b.groupAccess(rc, kmsg.ACLOperationDescribe, id); e != nil { // acl.go
			g := kmsg.NewConsumerGroupDescribeResponseGroup()
			g.Group = id
			g.ErrorCode = e.Code
			g.AuthorizedOperations = authorizedOpsOmitted
			resp.Groups = append(resp.Groups, g)
			continue
		}
		local = append(local, id)
	}
	described := b.groups.ConsumerGroupDescribe(local)
	for i := range described {
		if req.IncludeAuthorizedOperations && described[i].ErrorCode == 0 {
			described[i].AuthorizedOperations = groupAllOps
		}
	}
	resp.Groups = append(resp.Groups, described...)
	return resp
}
