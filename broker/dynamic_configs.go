package broker

// Dynamic configs from etcd (coordinator/configs.go), applied without a
// restart: the reconciler layers the dynamic broker configs of this broker
// and of the cluster default over the static ones (config.WithDynamic) and
// installs the result as the effective configuration, re-resolves every
// hosted partition's topic config from it, and hands the group configs to
// the group coordinator.

import (
	"maps"
	"strconv"
	"time"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/coordinator/group"
	"github.com/samsa-io/samsa/storage"
)

// dynamicState is what the reconciler last applied; guarded by
// Broker.reconcileMu.
type dynamicState struct {
	broker, dflt map[string]string
	groups       map[string]map[string]string
	applied      bool
}

// conf is the effective broker configuration: the static one with the
// dynamic configs layered over it. Read it, never b.cfg, for the
// properties that may change at run time.
func (b *Broker) conf() *config.Broker {
	if c := b.eff.Load(); c != nil {
		return c
	}
	return b.cfg
}

// applyDynamic installs the effective configuration for the snapshot's
// dynamic broker configs when they changed, and returns the one in effect.
// A combination that does not validate (two alters racing past each
// other's checks) is logged and leaves the previous one in effect.
// reconcileMu held.
func (b *Broker) applyDynamic(snap *coordinator.Snapshot) *config.Broker {
	mine := snap.Configs.Broker(strconv.Itoa(int(b.cfg.BrokerID)))
	dflt := snap.Configs.Broker(coordinator.BrokerConfigsDefault)
	st := &b.dyn
	if st.applied && maps.Equal(st.broker, mine) && maps.Equal(st.dflt, dflt) {
		return b.conf()
	}
	st.broker, st.dflt, st.applied = mine, dflt, true
	eff, err := b.cfg.WithDynamic(config.Dynamic{Broker: mine, Default: dflt})
	if err != nil {
		b.log.Error().Err(err).Interface("broker", mine).Interface("default", dflt).
			Msg("dynamic broker configs in etcd do not validate together; the previous configuration stays in effect")
		return b.conf()
	}
	for _, d := range eff.Dropped() {
		b.log.Warn().Str("config", d).Msg("ignoring a dynamic broker config in etcd")
	}
	for _, in := range eff.InertDynamic() {
		b.log.Warn().Str("property", in.Name).Str("value", in.Value).Str("reason", in.Reason).
			Msg("dynamic broker config has no effect in samsa")
	}
	if len(mine) > 0 || len(dflt) > 0 || b.eff.Load() != nil {
		b.log.Info().Interface("broker", mine).Interface("default", dflt).Msg("dynamic broker configs applied")
	}
	prev := b.conf()
	b.eff.Store(eff)
	if co := cleanerOptions(eff); co != cleanerOptions(prev) && b.logs != nil {
		b.log.Info().Int("threads", co.Threads).Int64("dedupe_buffer_size", co.DedupeBufferSize).
			Dur("backoff", co.Backoff).Float64("load_factor", co.LoadFactor).
			Float64("max_bytes_per_second", co.MaxBytesPerSecond).Msg("log cleaner reconfigured")
		b.logs.ReconfigureCleaner(co)
	}
	return eff
}

// cleanerOptions are the log cleaner's settings in cfg (log.cleaner.*;
// all but log.cleaner.enable can change at run time, as in Kafka).
func cleanerOptions(cfg *config.Broker) storage.CleanerOptions {
	co := storage.CleanerOptions{
		DedupeBufferSize:  cfg.Int64("log.cleaner.dedupe.buffer.size"),
		Backoff:           time.Duration(cfg.Int64("log.cleaner.backoff.ms")) * time.Millisecond,
		LoadFactor:        cfg.Float64("log.cleaner.io.buffer.load.factor"),
		MaxBytesPerSecond: cfg.Float64("log.cleaner.io.max.bytes.per.second"),
	}
	if cfg.Bool("log.cleaner.enable") {
		co.Threads = int(cfg.Int64("log.cleaner.threads"))
	}
	return co
}

// applyGroupConfigs hands the snapshot's group configs, resolved over the
// effective broker configuration, to the group coordinator when they
// changed. reconcileMu held.
func (b *Broker) applyGroupConfigs(snap *coordinator.Snapshot, cfg *config.Broker, cfgChanged bool) {
	if b.groups == nil {
		return
	}
	groups := snap.Configs.Groups
	st := &b.dyn
	if !cfgChanged && st.groups != nil && maps.EqualFunc(st.groups, groups, maps.Equal[map[string]string]) {
		return
	}
	st.groups = groups
	if st.groups == nil {
		st.groups = map[string]map[string]string{}
	}
	settings := make(map[string]group.GroupSettings, len(groups))
	for id, overrides := range groups {
		g := cfg.ResolveGroup(overrides)
		settings[id] = group.GroupSettings{SessionTimeout: g.SessionTimeout, HeartbeatInterval: g.HeartbeatInterval}
	}
	b.groups.SetGroupSettings(settings)
}
