package broker

// DescribeConfigs (key 32), v1-v4 (Kafka 4's floor is v1).
//
//	v0: resources (type, name, config names or null for all); each config
//	    with value, read-only, is-default, is-sensitive.
//	v1: IncludeSynonyms; Source replaces IsDefault; synonyms per config.
//	v2: same as v1 (throttle applied after the response).
//	v3: IncludeDocumentation; ConfigType and Documentation per config.
//	v4: flexible.
//
// Resources served:
//
//	TOPIC (2)          every topic config, its overrides over the broker's
//	                   values over the defaults; internal topics with the
//	                   overrides Kafka creates them with.
//	BROKER (4)         this broker's id: every broker property, dynamic
//	                   values over static ones over the defaults; name ""
//	                   (the cluster default): the cluster-wide dynamic
//	                   defaults only, as Kafka lists them. Another id is
//	                   INVALID_REQUEST, as Kafka answers a broker asked
//	                   about another one.
//	BROKER_LOGGER (8)  this broker's id: an empty list (log levels are not
//	                   configurable per logger).
//	GROUP (32)         a group's configs (KIP-848), its overrides over the
//	                   broker's group.* values; the group need not exist.
//
// Synonyms are Kafka 4.4's (config.Entry); sensitive values and properties
// without any value are returned as null.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
)

func init() { register(kmsg.DescribeConfigs, 1, 4, handleDescribeConfigs) }

func handleDescribeConfigs(b *Broker, rc *reqCtx, kreq kmsg.Request) kmsg.Response {
	req := kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	snap := b.store.Snapshot()

	for _, rr := range req.Resources {
		r := kmsg.NewDescribeConfigsResponseResource()
		r.ResourceType = rr.ResourceType
		r.ResourceName = rr.ResourceName
		fail := func(e *kerr.Error, msg string) {
			r.ErrorCode = e.Code
			r.ErrorMessage = strPtr(msg)
			r.Configs = []kmsg.DescribeConfigsResponseResourceConfig{}
			resp.Resources = append(resp.Resources, r)
		}

		if e := b.authorizeConfigResource(rc, kmsg.ACLOperationDescribeConfigs, rr.ResourceType, rr.ResourceName); e != nil { // acl.go
			fail(e, e.Description)
			continue
		}
		var entries []config.Entry
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			if err := validateTopicName(rr.ResourceName); err != nil {
				fail(kerr.InvalidTopicException, err.Error())
				continue
			}
			tm := snap.Topic(rr.ResourceName)
			if tm == nil {
				fail(kerr.UnknownTopicOrPartition, fmt.Sprintf("Topic '%s' does not exist.", rr.ResourceName))
				continue
			}
			entries = b.topicEntries(tm)
		case kmsg.ConfigResourceTypeBroker:
			if e, msg := b.checkBrokerResource(rr.ResourceName, true); e != nil {
				fail(e, msg)
				continue
			}
			if rr.ResourceName == "" {
				entries = b.conf().DefaultEntries()
			} else {
				entries = b.conf().Entries()
			}
		case kmsg.ConfigResourceTypeGroupConfig:
			if rr.ResourceName == "" {
				fail(kerr.InvalidRequest, "Group name must not be empty.")
				continue
			}
			entries = b.conf().GroupEntries(snap.Configs.Group(rr.ResourceName))
		case kmsg.ConfigResourceTypeBrokerLogger:
			if e, msg := b.checkBrokerResource(rr.ResourceName, false); e != nil {
				fail(e, msg)
				continue
			}
		default:
			fail(kerr.InvalidRequest, fmt.Sprintf("Unsupported resource type: %s.", rr.ResourceType))
			continue
		}

		var want map[string]bool
		if rr.ConfigNames != nil {
			want = make(map[string]bool, len(rr.ConfigNames))
			for _, n := range rr.ConfigNames {
				want[n] = true
			}
		}
		r.Configs = make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(entries))
		for _, e := range entries {
			if want != nil && !want[e.Name] {
				continue
			}
			r.Configs = append(r.Configs, describeConfigEntry(e, req.IncludeSynonyms, req.IncludeDocumentation))
		}
		resp.Resources = append(resp.Resources, r)
	}
	return resp
}

// checkBrokerResource checks a BROKER or BROKER_LOGGER resource name: this
// broker's id, or "" (the cluster-wide default) where allowEmpty.
func (b *Broker) checkBrokerResource(name string, allowEmpty bool) (*kerr.Error, string) {
	if name == "" && allowEmpty {
		return nil, ""
	}
	if name == brokerIDString(b.cfg.BrokerID) {
		return nil, ""
	}
	if allowEmpty {
		return kerr.InvalidRequest, fmt.Sprintf("Unexpected broker id, expected %d or empty string, but received %s", b.cfg.BrokerID, name)
	}
	return kerr.InvalidRequest, fmt.Sprintf("Unexpected broker id, expected %d, but received %s", b.cfg.BrokerID, name)
}

func describeConfigEntry(e config.Entry, synonyms, docs bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = e.Name
	if !e.Sensitive && !e.Null {
		c.Value = strPtr(e.Value)
	}
	c.ReadOnly = e.ReadOnly
	c.Source = kmsg.ConfigSource(e.Source)
	c.IsDefault = e.Source == config.SourceDefault // v0 only; kept coherent
	c.IsSensitive = e.Sensitive
	c.ConfigType = kmsg.ConfigType(e.Type)
	if docs && e.Doc != "" {
		c.Documentation = strPtr(e.Doc)
	}
	if synonyms {
		c.ConfigSynonyms = make([]kmsg.DescribeConfigsResponseResourceConfigConfigSynonym, 0, len(e.Synonyms))
		for _, s := range e.Synonyms {
			syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			syn.Name = s.Name
			if !e.Sensitive && !s.Sensitive {
				syn.Value = strPtr(s.Value)
			}
			syn.Source = kmsg.ConfigSource(s.Source)
			c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
		}
	}
	return c
}

// topicEntries is a topic's DescribeConfigs listing from the effective
// broker configuration. An internal topic created before samsa stored
// Kafka's overrides for it still shows them (its stored ones win).
func (b *Broker) topicEntries(tm *coordinator.TopicMeta) []config.Entry {
	overrides := tm.Info.Configs
	if tm.Info.Internal {
		if in := b.cfg.InternalTopicConfigs(tm.Info.Name); in != nil {
			for k, v := range overrides {
				in[k] = v
			}
			overrides = in
		}
	}
	return b.conf().TopicEntries(overrides)
}
