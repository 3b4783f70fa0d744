package broker

// FindCoordinator (key 10), served v0-v6.
//
//	v0: group coordinator by group id.
//	v1: key type (0 GROUP, 1 TRANSACTION), error message, throttle time.
//	v2: same as v1.
//	v3: flexible.
//	v4: several keys per request (KIP-699), one answer per key.
//	v5: same as v4 (transaction errors, KIP-890 era).
//	v6: same as v5 (share groups' key type 2 is refused: INVALID_REQUEST).
//
// The coordinator of a key is the leader of partition
// abs(javaHashCode(key)) % partitions of __consumer_offsets (groups) or
// __transaction_state (transactional ids), as Kafka places them. It is
// given with the endpoint of the listener the request came through; a
// coordinator without that listener is not available (as Kafka answers).

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.FindCoordinator, 0, 6, handleFindCoordinator) }

func handleFindCoordinator(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	for _, key := range keys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		c.NodeID, c.Port = -1, -1
		var e *kerr.Error
		var msg string
		switch {
		case req.CoordinatorType != 0 && req.CoordinatorType != 1:
			e, msg = kerr.InvalidRequest, fmt.Sprintf("Unsupported key type %d.", req.CoordinatorType)
		case req.CoordinatorType == 1 && key == "":
			e, msg = kerr.InvalidRequest, "Transactional id cannot be empty."
		case !b.authorizeCoordinatorKey(rc, req.CoordinatorType, key): // acl.go
			e, msg = kerr.GroupAuthorizationFailed, "Not authorized to describe the group."
			if req.CoordinatorType == 1 {
				e, msg = kerr.TransactionalIDAuthorizationFailed, "Not authorized to describe the transactional id."
			}
		default:
			info, ce, cmsg := b.coordinatorFor(key, req.CoordinatorType)
			if ce != nil {
				e, msg = ce, cmsg
			} else if ep, ok := info.Endpoint(b.listenerName(rc)); !ok {
				e, msg = kerr.CoordinatorNotAvailable, fmt.Sprintf("The coordinator (broker %d) has no listener named %s.", info.ID, b.listenerName(rc))
			} else {
				c.NodeID, c.Host, c.Port = info.ID, ep.Host, ep.Port
			}
		}
		if e != nil {
			c.ErrorCode = e.Code
			c.ErrorMessage = strPtr(msg)
		} else {
			c.ErrorMessage = nil
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	if req.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.NodeID, c.Host, c.Port
		if req.Version >= 1 {
			resp.ErrorMessage = c.ErrorMessage
		}
	}
	return resp
}
