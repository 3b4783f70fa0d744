package broker

// AlterConfigs (key 33), v0-v2: the legacy, non-incremental alter.
//
//	v0: resources with the complete set of configs; ValidateOnly.
//	v1: same as v0 (throttle applied after the response).
//	v2: flexible.
//
// A resource's configs replace all of its values (a config left out
// returns to the level below): a TOPIC's overrides, a BROKER resource's
// dynamic configs ("<id>" for this broker, "" for the cluster default;
// only the properties Kafka can alter at run time, configs_alter.go), a
// GROUP's configs. A config named twice in one resource, and a resource
// named twice, are INVALID_REQUEST.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
)

func init() { register(kmsg.AlterConfigs, 0, 2, handleAlterConfigs) }

type configResource struct {
	typ  kmsg.ConfigResourceType
	name string
}

func handleAlterConfigs(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)

	counts := make(map[configResource]int, len(req.Resources))
	for _, rr := range req.Resources {
		counts[configResource{rr.ResourceType, rr.ResourceName}]++
	}

	ctx, cancel, _ := adminCtx(rc.ctx, 30_000)
	defer cancel()
	snap := b.store.Snapshot()
	var maxRev int64
	var done []int

	for _, rr := range req.Resources {
		r := kmsg.NewAlterConfigsResponseResource()
		r.ResourceType = rr.ResourceType
		r.ResourceName = rr.ResourceName
		fail := func(e *kerr.Error, msg string) {
			r.ErrorCode = e.Code
			r.ErrorMessage = strPtr(msg)
			resp.Resources = append(resp.Resources, r)
		}
		if counts[configResource{rr.ResourceType, rr.ResourceName}] > 1 {
			fail(kerr.InvalidRequest, "Duplicate resource.")
			continue
		}
		if e := b.authorizeConfigResource(rc, kmsg.ACLOperationAlterConfigs, rr.ResourceType, rr.ResourceName); e != nil { // acl.go
			fail(e, e.Description)
			continue
		}
		ops := make([]configOp, len(rr.Configs))
		for i, c := range rr.Configs {
			ops[i] = configOp{name: c.Name, op: kmsg.IncrementalAlterConfigOpSet, value: c.Value}
		}
		if e, msg := checkOps(ops); e != nil {
			fail(e, msg)
			continue
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
		case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeGroupConfig:
			replace := func(map[string]string, func(string) (config.Entry, bool)) (map[string]string, *kerr.Error, string) {
				return applyOps(nil, ops, nil)
			}
			var rev int64
			var e *kerr.Error
			var msg string
			if rr.ResourceType == kmsg.ConfigResourceTypeBroker {
				if e, msg = b.checkBrokerResource(rr.ResourceName, true); e != nil {
					fail(e, msg)
					continue
				}
				rev, e, msg = b.alterBrokerConfigs(rc, rr.ResourceName, req.ValidateOnly, replace)
			} else {
				rev, e, msg = b.alterGroupConfigs(rc, rr.ResourceName, req.ValidateOnly, replace)
			}
			if e != nil {
				fail(e, msg)
				continue
			}
			if rev > 0 {
				maxRev = max(maxRev, rev)
				done = append(done, len(resp.Resources))
			}
			resp.Resources = append(resp.Resources, r)
			continue
		default:
			fail(kerr.InvalidRequest, fmt.Sprintf("Unexpected resource type %s.", rr.ResourceType))
			continue
		}

		if err := validateTopicName(rr.ResourceName); err != nil {
			fail(kerr.InvalidTopicException, err.Error())
			continue
		}
		if snap.Topic(rr.ResourceName) == nil {
			fail(kerr.UnknownTopicOrPartition, fmt.Sprintf("Topic '%s' does not exist.", rr.ResourceName))
			continue
		}
		overrides := make(map[string]string, len(rr.Configs))
		for _, c := range rr.Configs {
			overrides[c.Name] = *c.Value
		}
		if err := config.ValidateTopicConfigs(overrides); err != nil {
			fail(kerr.InvalidConfig, configErrMessage(err))
			continue
		}
		if req.ValidateOnly {
			resp.Resources = append(resp.Resources, r)
			continue
		}
		rev, err := b.store.SetTopicConfigs(ctx, rr.ResourceName, overrides)
		if err != nil {
			fail(storeError(err, rr.ResourceName))
			continue
		}
		b.log.Info().Str("topic", rr.ResourceName).Int("overrides", len(overrides)).Msg("topic configs replaced")
		b.warnTopicConfigs(rr.ResourceName, overrides)
		maxRev = max(maxRev, rev)
		done = append(done, len(resp.Resources))
		resp.Resources = append(resp.Resources, r)
	}

	if maxRev > 0 {
		if err := b.waitApplied(ctx, maxRev); err != nil {
			e, msg := waitError(err)
			for _, i := range done {
				resp.Resources[i].ErrorCode = e.Code
				resp.Resources[i].ErrorMessage = strPtr(msg)
			}
		}
	}
	return resp
}
