package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiVersionsAt sends one ApiVersions request at version v on a raw
// connection (kgo would pick its own version) and decodes the answer.
func apiVersionsAt(t *testing.T, addr string, req *kmsg.ApiVersionsRequest) *kmsg.ApiVersionsResponse {
	t.Helper()
	if req.ClientSoftwareName == "" {
		req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1.0"
	}
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("features-test")).AppendRequest(nil, req, 1)
	raw, err := rawRequest(t, addr, frame)
	if err != nil {
		t.Fatal(err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = req.Version
	if err := resp.ReadFrom(raw[4:]); err != nil {
		t.Fatalf("v%d: %v", req.Version, err)
	}
	return resp
}

func supported(resp *kmsg.ApiVersionsResponse) map[string][2]int16 {
	out := map[string][2]int16{}
	for _, f := range resp.SupportedFeatures {
		out[f.Name] = [2]int16{f.MinVersion, f.MaxVersion}
	}
	return out
}

func finalized(resp *kmsg.ApiVersionsResponse) map[string][2]int16 {
	out := map[string][2]int16{}
	for _, f := range resp.FinalizedFeatures {
		out[f.Name] = [2]int16{f.MinVersionLevel, f.MaxVersionLevel}
	}
	return out
}

// TestApiVersionsFeatures: v3+ lists the feature levels samsa runs at
// (metadata.version 4.4-IV2, group.version 1 for KIP-848, transaction.version 2, the rest 0),
// finalized with an epoch; v3 leaves out the features whose supported
// minimum is 0, as Kafka does.
func TestApiVersionsFeatures(t *testing.T) {
	_, addr := startTestBroker(t)
	for _, v := range []int16{3, 4, 5} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		resp := apiVersionsAt(t, addr, req)
		if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
			t.Fatalf("v%d: error %d, %d keys", v, resp.ErrorCode, len(resp.ApiKeys))
		}
		sup, fin := supported(resp), finalized(resp)
		if sup["metadata.version"] != [2]int16{33, 33} || sup["group.version"] != [2]int16{1, 1} {
			t.Fatalf("v%d: supported %v", v, sup)
		}
		if sup["transaction.version"] != [2]int16{2, 2} {
			t.Fatalf("v%d: supported %v: want transaction.version 2", v, sup)
		}
		if _, ok := sup["share.version"]; ok == (v < 4) {
			t.Fatalf("v%d: supported %v: share.version (minimum 0) must be listed from v4 only", v, sup)
		}
		if len(fin) != 3 || fin["metadata.version"] != [2]int16{33, 33} || fin["group.version"] != [2]int16{1, 1} || fin["transaction.version"] != [2]int16{2, 2} {
			t.Fatalf("v%d: finalized %v, want metadata.version 33, group.version 1 and transaction.version 2 only", v, fin)
		}
		if resp.FinalizedFeaturesEpoch < 0 {
			t.Fatalf("v%d: finalized epoch %d", v, resp.FinalizedFeaturesEpoch)
		}
	}
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 2
	if resp := apiVersionsAt(t, addr, req); len(resp.SupportedFeatures) != 0 {
		t.Fatalf("v2 carries features: %v", resp.SupportedFeatures)
	}
}

// TestApiVersionsErrors: Kafka's error answers list no keys (only
// UNSUPPORTED_VERSION does); v5 checks the cluster and node id the client
// means to reach (KIP-1242).
func TestApiVersionsErrors(t *testing.T) {
	b, addr := startTestBroker(t)
	cluster := b.Store().ClusterID()
	for _, tc := range []struct {
		name string
		req  func(*kmsg.ApiVersionsRequest)
		want *kerr.Error
	}{
		{"bad software name", func(r *kmsg.ApiVersionsRequest) { r.Version = 3; r.ClientSoftwareName = "-bad-" }, kerr.InvalidRequest},
		{"bad software version", func(r *kmsg.ApiVersionsRequest) { r.Version = 4; r.ClientSoftwareVersion = "1.0 beta" }, kerr.InvalidRequest},
		{"cluster id without node id", func(r *kmsg.ApiVersionsRequest) { r.Version = 5; r.ClusterID = &cluster }, kerr.InvalidRequest},
		{"node id without cluster id", func(r *kmsg.ApiVersionsRequest) { r.Version = 5; r.NodeID = 1 }, kerr.InvalidRequest},
		{"another cluster", func(r *kmsg.ApiVersionsRequest) { r.Version = 5; r.ClusterID = kmsg.StringPtr("other"); r.NodeID = 1 }, kerr.RebootstrapRequired},
		{"another node", func(r *kmsg.ApiVersionsRequest) { r.Version = 5; r.ClusterID = &cluster; r.NodeID = 2 }, kerr.RebootstrapRequired},
		{"this node", func(r *kmsg.ApiVersionsRequest) { r.Version = 5; r.ClusterID = &cluster; r.NodeID = 1 }, nil},
		{"v5 bootstrapping", func(r *kmsg.ApiVersionsRequest) { r.Version = 5 }, nil},
	} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1.0"
		tc.req(req)
		resp := apiVersionsAt(t, addr, req)
		if tc.want == nil {
			if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
				t.Errorf("%s: error %d, %d keys", tc.name, resp.ErrorCode, len(resp.ApiKeys))
			}
			continue
		}
		if resp.ErrorCode != tc.want.Code || len(resp.ApiKeys) != 0 || len(resp.SupportedFeatures) != 0 {
			t.Errorf("%s: error %d with %d keys, want %s without keys", tc.name, resp.ErrorCode, len(resp.ApiKeys), tc.want.Message)
		}
	}
}

// TestUpdateFeatures: an update to the level samsa runs at succeeds and
// changes nothing; any other is INVALID_UPDATE_VERSION and fails the
// whole request, as Kafka's controller does.
func TestUpdateFeatures(t *testing.T) {
	_, addr := startTestBroker(t)
	update := func(v int16, ups ...kmsg.UpdateFeaturesRequestFeatureUpdate) *kmsg.UpdateFeaturesResponse {
		t.Helper()
		req := kmsg.NewPtrUpdateFeaturesRequest()
		req.Version = v
		req.FeatureUpdates = ups
		frame := kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)
		raw, err := rawRequest(t, addr, frame)
		if err != nil {
			t.Fatal(err)
		}
		resp := kmsg.NewPtrUpdateFeaturesResponse()
		resp.Version = v
		if err := resp.ReadFrom(raw[5:]); err != nil { // flexible: skip the header's tag buffer
			t.Fatal(err)
		}
		return resp
	}
	up := func(name string, level int16, typ int8) kmsg.UpdateFeaturesRequestFeatureUpdate {
		u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
		u.Feature, u.MaxVersionLevel, u.UpgradeType = name, level, typ
		return u
	}

	resp := update(1, up("group.version", 1, 1), up("metadata.version", 33, 1))
	if resp.ErrorCode != 0 || len(resp.Results) != 2 || resp.Results[0].ErrorCode != 0 || resp.Results[1].ErrorCode != 0 {
		t.Fatalf("no-op update: %+v", resp)
	}
	for _, tc := range []struct {
		name string
		v    int16
		ups  []kmsg.UpdateFeaturesRequestFeatureUpdate
	}{
		{"transaction.version 1", 1, []kmsg.UpdateFeaturesRequestFeatureUpdate{up("group.version", 1, 1), up("transaction.version", 1, 1)}},
		{"disable group.version", 2, []kmsg.UpdateFeaturesRequestFeatureUpdate{up("group.version", 0, 3)}},
		{"downgrade metadata.version", 0, []kmsg.UpdateFeaturesRequestFeatureUpdate{up("metadata.version", 22, 0)}},
		{"unknown feature", 1, []kmsg.UpdateFeaturesRequestFeatureUpdate{up("samsa.version", 1, 1)}},
		{"unknown upgrade type", 1, []kmsg.UpdateFeaturesRequestFeatureUpdate{up("group.version", 1, 9)}},
	} {
		resp := update(tc.v, tc.ups...)
		if resp.ErrorCode != kerr.InvalidUpdateVersion.Code || resp.ErrorMessage == nil || len(resp.Results) != 0 {
			t.Errorf("%s: %+v, want INVALID_UPDATE_VERSION with a message and no results", tc.name, resp)
		}
	}
	// Nothing changed.
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 4
	if fin := finalized(apiVersionsAt(t, addr, req)); fin["group.version"] != [2]int16{1, 1} || fin["transaction.version"] != [2]int16{2, 2} || len(fin) != 3 {
		t.Fatalf("finalized after refused updates: %v", fin)
	}
}
