package group

// Per-group settings: the GROUP configs of KIP-848 (Kafka's GroupConfig)
// that override the coordinator's KIP-848 timings for one group. The
// broker resolves them from etcd and hands the whole set over with
// SetGroupSettings whenever one changes; a member sees a new session
// timeout from its next heartbeat on (its session timer is re-armed with
// it) and a new heartbeat interval in its next heartbeat's answer, as
// Kafka's members do.

import "time"

// GroupSettings are one group's overrides; a zero field takes the
// Config's value.
type GroupSettings struct {
	SessionTimeout    time.Duration // consumer.session.timeout.ms
	HeartbeatInterval time.Duration // consumer.heartbeat.interval.ms
}

// SetGroupSettings replaces the overrides of every group (groups not in m
// have none). m is not modified afterwards by either side. Safe to call at
// any time, from any goroutine; it takes no lock.
func (c *Coordinator) SetGroupSettings(m map[string]GroupSettings) {
	c.settings.Store(&m)
}

func (c *Coordinator) groupSettings(group string) GroupSettings {
	if m := c.settings.Load(); m != nil {
		return (*m)[group]
	}
	return GroupSettings{}
}

// consumerSessionTimeout is a KIP-848 group's member session timeout.
func (c *Coordinator) consumerSessionTimeout(group string) time.Duration {
	if d := c.groupSettings(group).SessionTimeout; d > 0 {
		return d
	}
	return c.cfg.ConsumerSessionTimeout
}

// consumerHeartbeatInterval is the heartbeat interval a KIP-848 group's
// members are given.
func (c *Coordinator) consumerHeartbeatInterval(group string) time.Duration {
	if d := c.groupSettings(group).HeartbeatInterval; d > 0 {
		return d
	}
	return c.cfg.ConsumerHeartbeatInterval
}
