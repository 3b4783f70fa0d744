package config

// Dynamic broker configuration, Kafka's DynamicBrokerConfig: the broker
// properties marked dynamic may be altered at run time with AlterConfigs or
// IncrementalAlterConfigs on a BROKER resource, for one broker (resource
// name "<id>") or cluster-wide (resource name ""). The broker stores them
// in etcd (coordinator/configs.go) and layers them over its static
// properties with WithDynamic, so that a value's precedence is Kafka's:
//
//	DYNAMIC_BROKER_CONFIG          this broker's dynamic value
//	DYNAMIC_DEFAULT_BROKER_CONFIG  the cluster-wide dynamic default
//	STATIC_BROKER_CONFIG           server.properties, flags, KAFKA_* variables
//	DEFAULT_CONFIG                 the property's default
//
// A dynamic value acts as the static one would (topic defaults, produce
// limits, connection limits); inert ones are accepted and logged as having
// no effect, as at start-up.

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
)

// Dynamic is the dynamic layer of a broker's configuration.
type Dynamic struct {
	// Broker holds this broker's own dynamic values.
	Broker map[string]string
	// Default holds the cluster-wide dynamic defaults.
	Default map[string]string
}

// IsDynamic reports whether name is a broker property that may be altered
// at run time.
func IsDynamic(name string) bool {
	d := brokerDefs[name]
	return d != nil && d.dynamic
}

// ValidateDynamic checks the dynamic values of one BROKER resource: every
// key a broker property Kafka and samsa can alter at run time, every value
// valid. Errors are *Error values (joined when several), ordered by key.
// The rules that span properties are checked by WithDynamic on the result.
func ValidateDynamic(values map[string]string) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	var static []string
	for _, k := range keys {
		v := strings.TrimSpace(values[k])
		d := brokerDefs[k]
		switch {
		case d == nil && topicDefs[k] != nil:
			errs = append(errs, &Error{Key: k, Value: v, Unknown: true, Reason: fmt.Sprintf("%s is a topic config, not a broker property", k)})
		case d == nil:
			errs = append(errs, &Error{Key: k, Value: v, Unknown: true, Reason: fmt.Sprintf("unknown broker property %q", k)})
		case !d.dynamic:
			static = append(static, k)
		default:
			if err := d.validate(v); err != nil {
				errs = append(errs, &Error{Key: k, Value: v, Reason: err.Error()})
			}
		}
	}
	if len(static) > 0 {
		// Kafka's wording (DynamicBrokerConfig.validateConfigs).
		errs = append(errs, &Error{Key: static[0], Value: strings.TrimSpace(values[static[0]]), Unknown: true,
			Reason: "Cannot update these configs dynamically: [" + strings.Join(static, ", ") +
				"] (set them in server.properties, flags or KAFKA_* environment variables and restart)"})
	}
	return errors.Join(errs...)
}

// WithDynamic returns the configuration with d layered over b's static
// properties (and b's own dynamic layer replaced), its typed fields derived
// again. b is not changed. The result must pass the rules that span
// properties (max.connections.per.ip=0 needs overrides, ...); keys that are
// not dynamic broker properties, or values that do not validate (a
// hand-edited etcd key), are dropped and reported by Dropped.
func (b *Broker) WithDynamic(d Dynamic) (*Broker, error) {
	nb := *b
	nb.dynBroker, nb.dynDefault, nb.dropped = nil, nil, nil
	nb.dynBroker = nb.cleanDynamic(d.Broker, "per-broker")
	nb.dynDefault = nb.cleanDynamic(d.Default, "cluster-wide")
	warnings := b.warnings
	if err := nb.derive(); err != nil {
		return nil, err
	}
	nb.warnings = warnings // derive's notes are about static properties, already noted
	return &nb, nil
}

func (b *Broker) cleanDynamic(in map[string]string, layer string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		v = strings.TrimSpace(v)
		d := brokerDefs[k]
		if d == nil || !d.dynamic {
			b.dropped = append(b.dropped, fmt.Sprintf("%s dynamic config %s=%s: not a dynamic broker property", layer, k, v))
			continue
		}
		if err := d.validate(v); err != nil {
			b.dropped = append(b.dropped, fmt.Sprintf("%s dynamic config %s=%s: %v", layer, k, v, err))
			continue
		}
		out[k] = v
	}
	return out
}

// Dropped lists the dynamic values WithDynamic could not apply, for the
// caller to log.
func (b *Broker) Dropped() []string { return append([]string(nil), b.dropped...) }

// DynamicValues returns copies of the dynamic layers in effect.
func (b *Broker) DynamicValues() Dynamic {
	return Dynamic{Broker: maps.Clone(b.dynBroker), Default: maps.Clone(b.dynDefault)}
}

// InertDynamic returns, sorted by name, the dynamic values in effect that
// set an inert property to a value other than its default, for the caller
// to log at warn level.
func (b *Broker) InertDynamic() []Inert {
	var out []Inert
	seen := map[string]bool{}
	for _, layer := range []map[string]string{b.dynBroker, b.dynDefault} {
		for k, v := range layer {
			if d := brokerDefs[k]; d != nil && d.status == inert && !seen[k] && !d.isDefault(v) {
				out = append(out, Inert{Name: k, Value: v, Reason: d.why})
			}
			seen[k] = true
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// layered returns the value of broker property name from the most specific
// layer that sets it (dynamic per broker, dynamic default, static) and that
// layer's source; ok is false when no layer sets it.
func (b *Broker) layered(name string) (v string, src Source, ok bool) {
	if v, ok := b.dynBroker[name]; ok {
		return v, SourceDynamicBroker, true
	}
	if v, ok := b.dynDefault[name]; ok {
		return v, SourceDynamicDefault, true
	}
	if v, ok := b.static[name]; ok {
		return v, SourceStaticBroker, true
	}
	return "", SourceDefault, false
}

// DefaultEntries returns the cluster-wide dynamic defaults for
// DescribeConfigs of the default BROKER resource (""), sorted by name:
// Kafka lists only those, each with itself as its only synonym.
func (b *Broker) DefaultEntries() []Entry {
	names := make([]string, 0, len(b.dynDefault))
	for n := range b.dynDefault {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Entry, 0, len(names))
	for _, n := range names {
		d := brokerDefs[n]
		e := Entry{Name: n, Value: b.dynDefault[n], Source: SourceDynamicDefault, Type: d.typ, ReadOnly: d.readOnly, Doc: d.doc}
		e.Synonyms = []Entry{{Name: n, Value: e.Value, Source: SourceDynamicDefault, Type: d.typ}}
		out = append(out, e)
	}
	return out
}
