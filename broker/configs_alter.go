package broker

// Altering dynamic configs: BROKER resources (Kafka's dynamic broker
// configs, per broker "<id>" or the cluster default "") and GROUP
// resources (KIP-848 group configs), for AlterConfigs (33) and
// IncrementalAlterConfigs (44). Both write one etcd key per entity
// (coordinator/configs.go) with a read-modify-write that compares its
// revision; the handler then waits until this broker has applied the
// change, as it does for topic configs.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
)

// errRefused carries a Kafka error out of a coordinator update callback.
type errRefused struct {
	code *kerr.Error
	msg  string
}

func (e *errRefused) Error() string { return e.msg }

func refusedErr(code *kerr.Error, msg string) error { return &errRefused{code, msg} }

// alterError maps an update's error to the answer.
func alterError(err error, what string) (*kerr.Error, string) {
	var r *errRefused
	if errors.As(err, &r) {
		return r.code, r.msg
	}
	return storeError(err, what)
}

// configOp is one change of an incremental alter, or a SET of a legacy one.
type configOp struct {
	name  string
	op    kmsg.IncrementalAlterConfigOp
	value *string
}

// checkOps applies Kafka's request-level checks to a resource's
// operations: no config twice, a value for everything but DELETE, known
// operations.
func checkOps(ops []configOp) (*kerr.Error, string) {
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		if seen[op.name] {
			return kerr.InvalidRequest, "Error due to duplicate config keys"
		}
		seen[op.name] = true
		if op.value == nil && op.op != kmsg.IncrementalAlterConfigOpDelete {
			return kerr.InvalidRequest, "Null value not supported for : " + op.name
		}
		if op.op < kmsg.IncrementalAlterConfigOpSet || op.op > kmsg.IncrementalAlterConfigOpSubtract {
			return kerr.InvalidRequest, fmt.Sprintf("Unknown operation type %d for config %s.", op.op, op.name)
		}
	}
	return nil, ""
}

// applyOps applies operations to a copy of cur (the stored values).
// effective gives a config's effective value and type before the change,
// for APPEND and SUBTRACT on lists.
func applyOps(cur map[string]string, ops []configOp, effective func(name string) (config.Entry, bool)) (map[string]string, *kerr.Error, string) {
	out := make(map[string]string, len(cur))
	for k, v := range cur {
		out[k] = v
	}
	for _, op := range ops {
		switch op.op {
		case kmsg.IncrementalAlterConfigOpSet:
			out[op.name] = *op.value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(out, op.name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			e, ok := effective(op.name)
			verb := "APPEND"
			if op.op == kmsg.IncrementalAlterConfigOpSubtract {
				verb = "SUBTRACT"
			}
			if !ok || e.Type != config.TypeList {
				return nil, kerr.InvalidConfig, fmt.Sprintf("Can't %s to key %s because its type is not LIST.", verb, op.name)
			}
			old := e.Value
			if v, ok := out[op.name]; ok {
				old = v
			}
			list := splitList(old)
			for _, item := range splitList(*op.value) {
				if op.op == kmsg.IncrementalAlterConfigOpAppend {
					if !slices.Contains(list, item) {
						list = append(list, item)
					}
				} else {
					list = slices.DeleteFunc(list, func(s string) bool { return s == item })
				}
			}
			out[op.name] = strings.Join(list, ",")
		}
	}
	return out, nil, ""
}

// brokerEntity is the etcd entity of a BROKER resource name (checked by
// checkBrokerResource): "" is the cluster default.
func brokerEntity(name string) string {
	if name == "" {
		return coordinator.BrokerConfigsDefault
	}
	return name
}

// alterBrokerConfigs replaces the dynamic values of a BROKER resource with
// what change makes of them, after checking that every key may be altered
// at run time and that the result, layered with the other dynamic level
// and the static configuration, passes the start-up rules. Nothing is
// written with validateOnly. Returns the revision to wait for (0 when
// nothing was written).
func (b *Broker) alterBrokerConfigs(rc *reqCtx, name string, validateOnly bool,
	change func(cur map[string]string, effective func(string) (config.Entry, bool)) (map[string]string, *kerr.Error, string),
) (int64, *kerr.Error, string) {
	entity := brokerEntity(name)
	check := func(cur map[string]string) (map[string]string, error) {
		eff := b.conf()
		effective := func(n string) (config.Entry, bool) { return eff.Get(n) }
		next, code, msg := change(cur, effective)
		if code != nil {
			return nil, refusedErr(code, msg)
		}
		// Kafka answers every refusal of a broker config with
		// INVALID_REQUEST (its controller's validation).
		if err := config.ValidateDynamic(next); err != nil {
			return nil, refusedErr(kerr.InvalidRequest, configErrMessage(err))
		}
		d := eff.DynamicValues()
		if entity == coordinator.BrokerConfigsDefault {
			d.Default = next
		} else {
			d.Broker = next
		}
		if _, err := b.cfg.WithDynamic(d); err != nil {
			return nil, refusedErr(kerr.InvalidRequest, configErrMessage(err))
		}
		return next, nil
	}
	if validateOnly {
		cur := b.store.Snapshot().Configs.Broker(entity)
		if _, err := check(cloneMap(cur)); err != nil {
			code, msg := alterError(err, name)
			return 0, code, msg
		}
		return 0, nil, ""
	}
	ctx, cancel, _ := adminCtx(rc.ctx, 30_000)
	defer cancel()
	var written map[string]string
	rev, err := b.store.UpdateBrokerConfigs(ctx, entity, func(cur map[string]string) (map[string]string, error) {
		next, err := check(cur)
		written = next
		return next, err
	})
	if err != nil {
		code, msg := alterError(err, name)
		return 0, code, msg
	}
	b.log.Info().Str("entity", entity).Interface("configs", written).Msg("dynamic broker configs altered")
	return rev, nil, ""
}

// alterGroupConfigs is alterBrokerConfigs for a GROUP resource: the
// group's configs, validated against the broker's bounds. The group need
// not exist (Kafka keeps configs of groups to come).
func (b *Broker) alterGroupConfigs(rc *reqCtx, groupID string, validateOnly bool,
	change func(cur map[string]string, effective func(string) (config.Entry, bool)) (map[string]string, *kerr.Error, string),
) (int64, *kerr.Error, string) {
	if groupID == "" {
		return 0, kerr.InvalidRequest, "Group name must not be empty."
	}
	check := func(cur map[string]string) (map[string]string, error) {
		eff := b.conf()
		entries := eff.GroupEntries(cur)
		effective := func(n string) (config.Entry, bool) {
			for _, e := range entries {
				if e.Name == n {
					return e, true
				}
			}
			return config.Entry{}, false
		}
		next, code, msg := change(cur, effective)
		if code != nil {
			return nil, refusedErr(code, msg)
		}
		if err := eff.ValidateGroupConfigs(next); err != nil {
			return nil, refusedErr(kerr.InvalidConfig, configErrMessage(err))
		}
		return next, nil
	}
	if validateOnly {
		if _, err := check(cloneMap(b.store.Snapshot().Configs.Group(groupID))); err != nil {
			code, msg := alterError(err, groupID)
			return 0, code, msg
		}
		return 0, nil, ""
	}
	ctx, cancel, _ := adminCtx(rc.ctx, 30_000)
	defer cancel()
	var written map[string]string
	rev, err := b.store.UpdateGroupConfigs(ctx, groupID, func(cur map[string]string) (map[string]string, error) {
		next, err := check(cur)
		written = next
		return next, err
	})
	if err != nil {
		code, msg := alterError(err, groupID)
		return 0, code, msg
	}
	for _, in := range config.InertGroupConfigs(written) {
		b.log.Warn().Str("group", groupID).Str("config", in.Name).Str("value", in.Value).Str("reason", in.Reason).
			Msg("group config has no effect in samsa")
	}
	b.log.Info().Str("group", groupID).Interface("configs", written).Msg("group configs altered")
	return rev, nil, ""
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
