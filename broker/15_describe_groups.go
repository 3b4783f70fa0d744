package broker

// DescribeGroups (key 15), served v0-v6.
//
//	v0: state, protocol type, protocol, members with metadata and
//	    assignment (only in Stable, as Kafka).
//	v1: throttle time.
//	v2: same as v1.
//	v3: authorized operations when asked: every group operation, as Kafka
//	    answers without an authorizer.
//	v4: member instance ids.
//	v5: flexible.
//	v6: error message; an unknown group (or a KIP-848 consumer group) is
//	    GROUP_ID_NOT_FOUND instead of state Dead (KIP-1043).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeGroups, 0, 6, handleDescribeGroups) }

func handleDescribeGroups(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		if e := b.groupAccess(rc, kmsg.ACLOperationDescribe, id); e != nil { // acl.go
			g := kmsg.NewDescribeGroupsResponseGroup()
			g.Group = id
			g.ErrorCode = e.Code
			g.AuthorizedOperations = authorizedOpsOmitted
			resp.Groups = append(resp.Groups, g)
			continue
		}
		g := b.groups.DescribeGroup(id, req.Version)
		if req.IncludeAuthorizedOperations && g.ErrorCode == 0 {
			g.AuthorizedOperations = b.authorizedOps(rc, kmsg.ACLResourceTypeGroup, id, aclGroupOps)
		}
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}
