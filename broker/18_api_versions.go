package broker

// ApiVersions (key 18), v0-v5.
//
//	v0: the key table.
//	v1: throttle time.
//	v2: same as v1 (throttle applied after the response).
//	v3: flexible; client software name and version (KIP-511); even an
//	    UNSUPPORTED_VERSION answer carries the key table. Supported and
//	    finalized features (KIP-584, features.go) in tagged fields;
//	    features with a supported minimum of 0 are left out below v4.
//	v4: same as v3 (KAFKA-17011: minimum 0 allowed).
//	v5: the cluster and node id the client means to reach (KIP-1242):
//	    one without the other is INVALID_REQUEST, a mismatch
//	    REBOOTSTRAP_REQUIRED.
//
// As Kafka, an error answer (an invalid software name or version, a
// cluster or node id mismatch) lists no keys; only UNSUPPORTED_VERSION does.
// A request at a version above ours gets a v0-layout response with
// UNSUPPORTED_VERSION and our table, so the client retries at our maximum
// (conn.handleFrame).

import (
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ApiVersions, 0, 5, handleApiVersions) }

// Kafka's rule for ClientSoftwareName/Version (KIP-511).
var softwareRe = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func handleApiVersions(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	if req.Version >= 5 && (req.ClusterID == nil) != (req.NodeID == -1) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	if req.Version >= 3 && (!softwareRe.MatchString(req.ClientSoftwareName) || !softwareRe.MatchString(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	if req.Version >= 5 && req.ClusterID != nil && (*req.ClusterID != b.store.ClusterID() || req.NodeID != b.cfg.BrokerID) {
		// The client reached another cluster or node than it meant to
		// (an address reused): it should bootstrap again.
		resp.ErrorCode = kerr.RebootstrapRequired.Code
		return resp
	}
	resp.ApiKeys = apiVersionsTable(b)
	fillFeatures(b, resp)
	return resp
}

// unsupportedApiVersions is the answer to an ApiVersions request newer than
// we serve: v0 layout, UNSUPPORTED_VERSION, and our table.
func unsupportedApiVersions(b *Broker) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = apiVersionsTable(b)
	return resp
}
