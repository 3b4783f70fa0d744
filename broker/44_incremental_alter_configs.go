package broker

// IncrementalAlterConfigs (key 44), v0-v1.
//
//	v0: resources with per-config operations SET (0), DELETE (1),
//	    APPEND (2) and SUBTRACT (3) (KIP-339); ValidateOnly.
//	v1: flexible.
//
// Resources: TOPIC (the topic's overrides), BROKER (dynamic broker
// configs: "<id>" for this broker, "" for the cluster-wide default; only
// the properties Kafka can alter at run time, configs_alter.go) and GROUP
// (KIP-848 group configs). APPEND and SUBTRACT apply to list-typed configs
// (cleanup.policy, ...) and start from the effective value (the override,
// else the broker's value); on other types they are INVALID_CONFIG. A
// config named twice in one resource, a null value for SET/APPEND/SUBTRACT,
// and a resource named twice are INVALID_REQUEST. The resulting values are
// validated as a whole.

import (
	"fmt"
	"maps"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.IncrementalAlterConfigs, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)

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
		r := kmsg.NewIncrementalAlterConfigsResponseResource()
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
			ops[i] = configOp{name: c.Name, op: c.Op, value: c.Value}
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
		case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeGroupConfig:
			if e, msg := checkOps(ops); e != nil {
				fail(e, msg)
				continue
			}
			change := func(cur map[string]string, effective func(string) (config.Entry, bool)) (map[string]string, *kerr.Error, string) {
				return applyOps(cur, ops, effective)
			}
			var rev int64
			var e *kerr.Error
			var msg string
			if rr.ResourceType == kmsg.ConfigResourceTypeBroker {
				if e, msg = b.checkBrokerResource(rr.ResourceName, true); e != nil {
					fail(e, msg)
					continue
				}
				rev, e, msg = b.alterBrokerConfigs(rc, rr.ResourceName, req.ValidateOnly, change)
			} else {
				rev, e, msg = b.alterGroupConfigs(rc, rr.ResourceName, req.ValidateOnly, change)
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
		tm := snap.Topic(rr.ResourceName)
		if tm == nil {
			fail(kerr.UnknownTopicOrPartition, fmt.Sprintf("Topic '%s' does not exist.", rr.ResourceName))
			continue
		}
		overrides, e, msg := b.applyIncremental(tm, ops)
		if e != nil {
			fail(e, msg)
			continue
		}
		if req.ValidateOnly {
			resp.Resources = append(resp.Resources, r)
			continue
		}
		if maps.Equal(overrides, tm.Info.Configs) {
			resp.Resources = append(resp.Resources, r) // nothing changes
			continue
		}
		rev, err := b.store.SetTopicConfigs(ctx, rr.ResourceName, overrides)
		if err != nil {
			fail(storeError(err, rr.ResourceName))
			continue
		}
		b.log.Info().Str("topic", rr.ResourceName).Int("overrides", len(overrides)).Msg("topic configs altered")
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

// applyIncremental applies one resource's operations to a copy of the
// topic's overrides and validates the result.
func (b *Broker) applyIncremental(tm *coordinator.TopicMeta, ops []configOp) (map[string]string, *kerr.Error, string) {
	if e, msg := checkOps(ops); e != nil {
		return nil, e, msg
	}
	for _, op := range ops {
		if !config.IsTopicConfig(op.name) {
			return nil, kerr.InvalidConfig, "Unknown topic config name: " + op.name
		}
	}
	// The effective values (and types) before the change, for APPEND and
	// SUBTRACT.
	var effective map[string]config.Entry
	effectiveOf := func(name string) (config.Entry, bool) {
		if effective == nil {
			entries := b.topicEntries(tm)
			effective = make(map[string]config.Entry, len(entries))
			for _, e := range entries {
				effective[e.Name] = e
			}
		}
		e, ok := effective[name]
		return e, ok
	}
	out, e, msg := applyOps(tm.Info.Configs, ops, effectiveOf)
	if e != nil {
		return nil, e, msg
	}
	if err := config.ValidateTopicConfigs(out); err != nil {
		return nil, kerr.InvalidConfig, configErrMessage(err)
	}
	if len(out) == 0 {
		out = nil
	}
	return out, nil, ""
}

// splitList splits a LIST config value as Kafka does (comma separated,
// surrounding spaces trimmed, empty items dropped).
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
