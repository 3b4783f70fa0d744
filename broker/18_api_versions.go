package broker

// ApiVersions (key 18), v0-v4.
//
//	v0: the key table.
//	v1: throttle time.
//	v2: same as v1 (throttle applied after the response).
//	v3: flexible; client software name and version (KIP-511); even an
//	    UNSUPPORTED_VERSION answer carries the key table.
//	v4: same as v3 (KIP-896 marks v0-v3 old; all still served).
//
// v5 (cluster and node id validation) is not served yet.
//
// A request at a version above ours gets a v0-layout response with
// UNSUPPORTED_VERSION and our table, so the client retries at our maximum
// (conn.handleFrame).

import (
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.ApiVersions, 0, 4, handleApiVersions) }

// Kafka's rule for ClientSoftwareName/Version (KIP-511).
var softwareRe = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

func handleApiVersions(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = apiVersionsTable()
	if req.Version >= 3 && (!softwareRe.MatchString(req.ClientSoftwareName) || !softwareRe.MatchString(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
	}
	return resp
}

// unsupportedApiVersions is the answer to an ApiVersions request newer than
// we serve: v0 layout, UNSUPPORTED_VERSION, and our table.
func unsupportedApiVersions() kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = apiVersionsTable()
	return resp
}
