package broker

// UpdateFeatures (key 57), v0-v2: kafka-features.sh upgrade / downgrade /
// disable and the admin client's updateFeatures.
//
//	v0: per-feature AllowDowngrade.
//	v1: UpgradeType (1 upgrade, 2 safe downgrade, 3 unsafe downgrade)
//	    and ValidateOnly.
//	v2: no per-feature results: the top-level error alone.
//
// samsa runs each feature at one level (features.go), so an update to the
// level it already has succeeds and changes nothing, and any other is
// refused with INVALID_UPDATE_VERSION saying why. As Kafka's controller,
// the first refused update fails the whole request: its error is the
// top-level one and no per-feature results are listed; a request that
// passes lists every feature with no error (v0-v1).

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.UpdateFeatures, 0, 2, handleUpdateFeatures) }

func handleUpdateFeatures(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.UpdateFeaturesRequest)
	resp := req.ResponseKind().(*kmsg.UpdateFeaturesResponse)
	for _, u := range req.FeatureUpdates {
		if code, msg := checkFeatureUpdate(b, req.Version, u); code != nil {
			resp.ErrorCode = code.Code
			resp.ErrorMessage = strPtr(msg)
			return resp
		}
	}
	if req.Version < 2 {
		for _, u := range req.FeatureUpdates {
			r := kmsg.NewUpdateFeaturesResponseResult()
			r.Feature = u.Feature
			resp.Results = append(resp.Results, r)
		}
	}
	return resp
}

// checkFeatureUpdate refuses an update samsa cannot carry out.
func checkFeatureUpdate(b *Broker, version int16, u kmsg.UpdateFeaturesRequestFeatureUpdate) (*kerr.Error, string) {
	if version >= 1 && (u.UpgradeType < 1 || u.UpgradeType > 3) {
		return kerr.InvalidUpdateVersion, fmt.Sprintf("unknown upgrade type %d for feature %s", u.UpgradeType, u.Feature)
	}
	target := max(u.MaxVersionLevel, 0) // below 1: remove the feature, level 0
	f := featureByName(b, u.Feature)
	if f == nil {
		return kerr.InvalidUpdateVersion, fmt.Sprintf("invalid update version %d for feature %s: samsa does not know this feature", u.MaxVersionLevel, u.Feature)
	}
	if target == f.level {
		return nil, ""
	}
	level := fmt.Sprint(f.level)
	if f.levelName != "" {
		level = fmt.Sprintf("%d (%s)", f.level, f.levelName)
	}
	return kerr.InvalidUpdateVersion, fmt.Sprintf("invalid update version %d for feature %s: samsa runs it at level %s only (%s)",
		u.MaxVersionLevel, u.Feature, level, f.why)
}
