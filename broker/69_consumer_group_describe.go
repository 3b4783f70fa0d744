package broker

// ConsumerGroupDescribe (key 69), served v0-v1.
//
//	v0: KIP-848 group state, epochs, assignor, members with current and
//	    target assignments.
//	v1: member type (1 = consumer protocol).
//
// Authorized operations are not computed (INT32_MIN).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ConsumerGroupDescribe, 0, 1, handleConsumerGroupDescribe) }

func handleConsumerGroupDescribe(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	var local []string
	for _, id := range req.Groups {
		if e := b.groupAccess(rc, kmsg.ACLOperationDescribe, id); e != nil { // acl.go
			g := kmsg.NewConsumerGroupDescribeResponseGroup()
			g.Group = id
			g.ErrorCode = e.Code
			g.AuthorizedOperations = -2147483648
			resp.Groups = append(resp.Groups, g)
			continue
		}
		local = append(local, id)
	}
	resp.Groups = append(resp.Groups, b.groups.ConsumerGroupDescribe(local)...)
	return resp
}
