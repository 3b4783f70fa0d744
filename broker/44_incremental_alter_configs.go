package broker

// IncrementalAlterConfigs (key 44), v0-v1.
//
//	v0: resources with per-config operations SET (0), DELETE (1),
//	    APPEND (2) and SUBTRACT (3) (KIP-339); ValidateOnly.
//	v1: flexible.
//
// TOPIC resources only, as for AlterConfigs: BROKER resources are refused
// with INVALID_REQUEST since broker properties are static here. APPEND and
// SUBTRACT apply to list-typed configs (cleanup.policy, ...) and start from
// the effective value (the override, else the broker's value); on other
// types they are INVALID_CONFIG. A config named twice in one resource, a
// null value for SET/APPEND/SUBTRACT, and a resource named twice are
// INVALID_REQUEST. The resulting overrides are validated as a whole.

import (
	"fmt"
	"maps"
	"slices"
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
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
		case kmsg.ConfigResourceTypeBroker:
			if e, msg := b.checkBrokerResource(rr.ResourceName, true); e != nil {
				fail(e, msg)
				continue
			}
			if len(rr.Configs) == 0 {
				resp.Resources = append(resp.Resources, r)
				continue
			}
			fail(kerr.InvalidRequest, "Broker configs cannot be altered dynamically; set them in server.properties, flags or KAFKA_* environment variables and restart.")
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
		overrides, e, msg := b.applyIncremental(tm, rr.Configs)
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
func (b *Broker) applyIncremental(tm *coordinator.TopicMeta, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) (map[string]string, *kerr.Error, string) {
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		if seen[op.Name] {
			return nil, kerr.InvalidRequest, "Error due to duplicate config keys"
		}
		seen[op.Name] = true
		if op.Value == nil && op.Op != kmsg.IncrementalAlterConfigOpDelete {
			return nil, kerr.InvalidRequest, "Null value not supported for : " + op.Name
		}
		if op.Op < kmsg.IncrementalAlterConfigOpSet || op.Op > kmsg.IncrementalAlterConfigOpSubtract {
			return nil, kerr.InvalidRequest, fmt.Sprintf("Unknown operation type %d for config %s.", op.Op, op.Name)
		}
		if !config.IsTopicConfig(op.Name) {
			return nil, kerr.InvalidConfig, "Unknown topic config name: " + op.Name
		}
	}

	// The effective values (and types) before the change, for APPEND and
	// SUBTRACT.
	var effective map[string]config.Entry
	effectiveOf := func(name string) config.Entry {
		if effective == nil {
			entries := b.cfg.TopicEntries(tm.Info.Configs)
			effective = make(map[string]config.Entry, len(entries))
			for _, e := range entries {
				effective[e.Name] = e
			}
		}
		return effective[name]
	}

	out := maps.Clone(tm.Info.Configs)
	if out == nil {
		out = make(map[string]string)
	}
	for _, op := range ops {
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			out[op.Name] = *op.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(out, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			cur := effectiveOf(op.Name)
			if cur.Type != config.TypeList {
				verb := "APPEND"
				if op.Op == kmsg.IncrementalAlterConfigOpSubtract {
					verb = "SUBTRACT"
				}
				return nil, kerr.InvalidConfig, fmt.Sprintf("Can't %s to key %s because its type is not LIST.", verb, op.Name)
			}
			old := cur.Value
			if v, ok := out[op.Name]; ok {
				old = v
			}
			list := splitList(old)
			for _, item := range splitList(*op.Value) {
				if op.Op == kmsg.IncrementalAlterConfigOpAppend {
					if !slices.Contains(list, item) {
						list = append(list, item)
					}
				} else {
					list = slices.DeleteFunc(list, func(s string) bool { return s == item })
				}
			}
			out[op.Name] = strings.Join(list, ",")
		}
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
