package broker

// ListGroups (key 16), served v0-v5.
//
//	v0: group ids and protocol types.
//	v1: throttle time.
//	v2: same as v1.
//	v3: flexible.
//	v4: states filter and group state (KIP-518), case-insensitive.
//	v5: types filter ("classic", "consumer") and group type (KIP-848).
//
// A broker lists the groups it coordinates.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ListGroups, 0, 5, handleListGroups) }

func handleListGroups(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	if b.groups == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	groups, code := b.groups.ListGroups(req.StatesFilter, req.TypesFilter)
	resp.ErrorCode = code
	for _, l := range groups {
		if info, e, _ := b.coordinatorFor(l.Group, 0); e != nil || info.ID != b.cfg.BrokerID {
			continue
		}
		if !b.authorizeListGroup(rc, l.Group) { // acl.go
			continue
		}
		g := kmsg.NewListGroupsResponseGroup()
		g.Group = l.Group
		g.ProtocolType = l.ProtocolType
		g.GroupState = l.State
		g.GroupType = l.Type
		resp.Groups = append(resp.Groups, g)
	}
	return resp
}
