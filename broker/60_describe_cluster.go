package broker

// DescribeCluster (key 60), v0-v2.
//
//	v0: cluster id, controller id, brokers, and the cluster authorized
//	    operations when asked (KIP-700).
//	v1: EndpointType (KIP-919): 1 = brokers, 2 = controllers. A broker
//	    asked for controllers answers MISMATCHED_ENDPOINT_TYPE, as Kafka's
//	    brokers do (controllers have their own listeners there); another
//	    type is UNSUPPORTED_ENDPOINT_TYPE.
//	v2: IncludeFencedBrokers and IsFenced per broker (KIP-1073). A broker
//	    here is either registered (live) or absent, so none is fenced.
//
// The controller id is the etcd election holder, or this broker while the
// election is unknown, so clients always get a node they can talk to.
// Brokers are given with the endpoint of the listener the request came
// through; one without that listener is left out.

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeCluster, 0, 2, handleDescribeCluster) }

const (
	endpointTypeBroker     int8 = 1
	endpointTypeController int8 = 2
)

// authorizedOpsOmitted is Kafka's "not requested" value (Integer.MIN_VALUE).
const authorizedOpsOmitted = int32(-2147483648)

func handleDescribeCluster(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = endpointTypeBroker
	resp.ClusterAuthorizedOperations = authorizedOpsOmitted

	if req.Version >= 1 && req.EndpointType != endpointTypeBroker && req.EndpointType != endpointTypeController {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = strPtr(fmt.Sprintf("Unsupported endpoint type %d", req.EndpointType))
		return resp
	}
	if req.Version >= 1 && req.EndpointType != endpointTypeBroker {
		resp.ErrorCode = kerr.MismatchedEndpointType.Code
		resp.ErrorMessage = strPtr("The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type " +
			endpointTypeName(req.EndpointType))
		return resp
	}

	snap := b.store.Snapshot()
	resp.ClusterID = b.store.ClusterID()
	resp.ControllerID = snap.ControllerID
	if resp.ControllerID < 0 {
		resp.ControllerID = b.cfg.BrokerID
	}
	ids := make([]int32, 0, len(snap.Brokers))
	for id := range snap.Brokers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	listener := b.listenerName(rc)
	for _, id := range ids {
		info := snap.Brokers[id]
		ep, ok := info.Endpoint(listener)
		if !ok {
			continue
		}
		br := kmsg.NewDescribeClusterResponseBroker()
		br.NodeID = info.ID
		br.Host = ep.Host
		br.Port = ep.Port
		br.Rack = info.Rack
		resp.Brokers = append(resp.Brokers, br)
	}
	if _, registered := snap.Brokers[b.cfg.BrokerID]; !registered {
		// Not in the snapshot yet (registration racing the watch): at
		// least this broker is up.
		self := b.brokerInfo()
		if ep, ok := self.Endpoint(listener); ok {
			br := kmsg.NewDescribeClusterResponseBroker()
			br.NodeID, br.Host, br.Port, br.Rack = self.ID, ep.Host, ep.Port, self.Rack
			resp.Brokers = append(resp.Brokers, br)
			sort.Slice(resp.Brokers, func(i, j int) bool { return resp.Brokers[i].NodeID < resp.Brokers[j].NodeID })
		}
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = b.authorizedOps(rc, kmsg.ACLResourceTypeCluster, clusterName, aclClusterOps) // acl.go
	}
	return resp
}

func endpointTypeName(t int8) string {
	switch t {
	case endpointTypeBroker:
		return "BROKER"
	case endpointTypeController:
		return "CONTROLLER"
	default:
		return "UNKNOWN"
	}
}
