package broker

// Wiring of the group coordinator (coordinator/group): placement of groups
// and transactional ids on the internal topics, creation of those topics,
// and the helpers the group API handlers share.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/coordinator/group"
	"github.com/samsa-io/samsa/coordinator/placement"
)

const (
	offsetsTopic     = "__consumer_offsets"
	transactionTopic = "__transaction_state"
)

// javaStringHashCode is Java's String.hashCode (placement's; the tests pin
// Kafka's values through it).
func javaStringHashCode(s string) int32 { return placement.JavaStringHashCode(s) }

// coordinatorPartition is Kafka's Utils.abs(key.hashCode) % n.
func coordinatorPartition(key string, n int32) int32 { return placement.Partition(key, n) }

// startGroups builds and starts the group coordinator, makes sure the
// internal topics exist and starts the placement tracker that elects the
// coordinator for the __consumer_offsets partitions this broker leads
// (coordinator/placement): it loads their groups when elected, drops them
// when it resigns, and fences every group write with the partition's
// tenure. The tracker runs until the broker's context ends (b.wg). Called
// from Start once the broker is registered.
func (b *Broker) startGroups(ctx context.Context) error {
	cfg := b.cfg
	ms := func(name string, dflt time.Duration) time.Duration {
		if e, ok := cfg.Get(name); ok && !e.Null {
			if n, err := strconv.ParseInt(e.Value, 10, 64); err == nil {
				return time.Duration(n) * time.Millisecond
			}
		}
		return dflt
	}
	intProp := func(name string, dflt int) int {
		if e, ok := cfg.Get(name); ok && !e.Null {
			if n, err := strconv.Atoi(e.Value); err == nil {
				return n
			}
		}
		return dflt
	}
	var assignors []string
	if e, ok := cfg.Get("group.consumer.assignors"); ok && !e.Null {
		for _, a := range strings.Split(e.Value, ",") {
			if a = strings.TrimSpace(a); a != "" {
				// Kafka also accepts the class names.
				switch {
				case strings.HasSuffix(a, "UniformAssignor"):
					a = "uniform"
				case strings.HasSuffix(a, "RangeAssignor"):
					a = "range"
				}
				assignors = append(assignors, a)
			}
		}
	}
	gc, err := group.New(group.Config{
		Placed:                    true,
		Client:                    b.store.Client(),
		Key:                       b.store.Key,
		Logger:                    b.log,
		Clock:                     b.clock(),
		InitialRebalanceDelay:     cfg.GroupInitialRebalanceDelay,
		MinSessionTimeout:         cfg.GroupMinSessionTimeout,
		MaxSessionTimeout:         cfg.GroupMaxSessionTimeout,
		MaxGroupSize:              intProp("group.max.size", 0),
		OffsetsRetention:          cfg.OffsetsRetention,
		RetentionCheckInterval:    ms("offsets.retention.check.interval.ms", 10*time.Minute),
		OffsetMetadataMaxBytes:    intProp("offset.metadata.max.bytes", 4096),
		ConsumerSessionTimeout:    ms("group.consumer.session.timeout.ms", 45*time.Second),
		ConsumerHeartbeatInterval: ms("group.consumer.heartbeat.interval.ms", 5*time.Second),
		ConsumerAssignors:         assignors,
		Topics:                    b.groupTopics,
	})
	if err != nil {
		return err
	}
	b.groups = gc
	gc.Start()
	for _, t := range []struct {
		name string
		n    int32
		rf   int16
	}{
		{offsetsTopic, cfg.OffsetsTopicNumPartitions, cfg.OffsetsTopicReplication},
		{transactionTopic, cfg.TxnTopicNumPartitions, cfg.TxnTopicReplication},
	} {
		if err := b.ensureInternalTopic(ctx, t.name, t.n, t.rf); err != nil {
			return err
		}
	}
	b.runPlacement(ctx, offsetsTopic, gc, gc.WaitLoaded, "group-placement", "groups")
	return nil
}

// runPlacement starts a coordinator's placement.Tracker on topic (h is
// told which of its partitions this broker leads, now and on every
// change) and waits a little for the first loads: the coordinator then
// serves from the first request when its load is quick (the usual case);
// a slow etcd leaves it loading while the broker starts (requests
// meanwhile get COORDINATOR_LOAD_IN_PROGRESS).
func (b *Broker) runPlacement(ctx context.Context, topic string, h placement.Handler,
	waitLoaded func(context.Context) error, component, what string) {
	tr := placement.NewTracker(placement.TrackerConfig{
		Broker:    b.cfg.BrokerID,
		View:      b.placementView(topic),
		Subscribe: b.store.Subscribe,
		Handler:   h,
		Logger:    b.log.With().Str("component", component).Logger(),
	})
	tr.Sync() // elect the partitions led now
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		tr.Run(b.ctx)
	}()
	wctx, cancel := context.WithTimeout(ctx, initialGroupLoadWait)
	defer cancel()
	if err := waitLoaded(wctx); err != nil && ctx.Err() == nil {
		b.log.Warn().Dur("waited", initialGroupLoadWait).Msg(what + " still loading; starting anyway")
	}
}

// initialGroupLoadWait bounds Start's wait for the groups of the
// partitions this broker leads at start.
const initialGroupLoadWait = 5 * time.Second

// placementView is an internal topic's partitions (leader, leader epoch,
// etcd key of the state) as this broker's Snapshot shows them, for a
// placement.Tracker. The key is coordinator.Store's partition key
// (partitions/<topic-id>/<n>): the fence compares it.
func (b *Broker) placementView(topic string) func() placement.View {
	return func() placement.View {
		tm := b.store.Snapshot().Topic(topic)
		if tm == nil || !tm.Info.Internal {
			return placement.View{}
		}
		id := tm.Info.ID.String()
		v := placement.View{Partitions: make([]placement.PartitionView, len(tm.Partitions))}
		for i, st := range tm.Partitions {
			v.Partitions[i] = placement.PartitionView{Leader: st.Leader, LeaderEpoch: st.LeaderEpoch,
				Key: b.store.Key("partitions", id, strconv.Itoa(i))}
		}
		return v
	}
}

// ensureInternalTopic creates an internal topic if it does not exist (any
// broker may; losing the race is fine). The replication factor is capped
// by the live brokers, as for a single-node cluster.
func (b *Broker) ensureInternalTopic(ctx context.Context, name string, partitions int32, rf int16) error {
	snap := b.store.Snapshot()
	if snap.Topic(name) != nil {
		return nil
	}
	if n := int16(len(usableBrokers(snap))); n > 0 && rf > n {
		rf = n
	}
	plan, e, msg := b.planTopic(snap, name, partitions, rf, nil, nil, nil)
	if e != nil {
		if e == kerr.TopicAlreadyExists {
			return nil
		}
		return fmt.Errorf("broker: plan internal topic %s: %s: %s", name, e.Message, msg)
	}
	plan.info.Internal = true
	plan.info.Configs = b.cfg.InternalTopicConfigs(name) // Kafka's overrides (descriptive: no logs here)
	plan.info.ID = coordinator.NewTopicID()
	rev, err := b.store.CreateTopic(ctx, plan.info)
	if errors.Is(err, coordinator.ErrTopicExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("broker: create internal topic %s: %w", name, err)
	}
	b.log.Info().Str("topic", name).Int32("partitions", partitions).Msg("internal topic created")
	return b.waitApplied(ctx, rev)
}

// groupTopics is the group coordinator's view of the topics.
func (b *Broker) groupTopics() map[string]group.TopicMeta {
	snap := b.store.Snapshot()
	out := make(map[string]group.TopicMeta, len(snap.Topics))
	for name, tm := range snap.Topics {
		out[name] = group.TopicMeta{ID: tm.Info.ID, Partitions: int32(len(tm.Partitions)), Internal: tm.Info.Internal}
	}
	return out
}

// coordinatorFor returns the broker that coordinates key (a group id or
// a transactional id, by keyType 0 or 1), or an error.
func (b *Broker) coordinatorFor(key string, keyType int8) (coordinator.BrokerInfo, *kerr.Error, string) {
	topic := offsetsTopic
	if keyType == 1 {
		topic = transactionTopic
	}
	snap := b.store.Snapshot()
	tm := snap.Topic(topic)
	if tm == nil || len(tm.Partitions) == 0 {
		return coordinator.BrokerInfo{}, kerr.CoordinatorNotAvailable, fmt.Sprintf("The coordinator is not available: %s does not exist yet.", topic)
	}
	p := coordinatorPartition(key, int32(len(tm.Partitions)))
	leader := tm.Partitions[p].Leader
	info, ok := snap.Brokers[leader]
	if leader < 0 || !ok {
		return coordinator.BrokerInfo{}, kerr.CoordinatorNotAvailable, fmt.Sprintf("The coordinator is not available: %s-%d has no leader.", topic, p)
	}
	return info, nil, ""
}

// groupError is the error of a group request reaching this broker:
// NOT_COORDINATOR when the metadata names another coordinator,
// COORDINATOR_NOT_AVAILABLE while this broker's lease is not certainly
// valid (cut off from etcd, it may have been replaced already),
// COORDINATOR_LOAD_IN_PROGRESS while the group's partition loads, else
// nil. The coordinator checks its own placement again (a partition it
// resigns in between answers NOT_COORDINATOR).
func (b *Broker) groupError(groupID string) *kerr.Error {
	if b.groups == nil {
		return kerr.CoordinatorNotAvailable
	}
	info, e, _ := b.coordinatorFor(groupID, 0)
	if e != nil {
		return e
	}
	if info.ID != b.cfg.BrokerID {
		return kerr.NotCoordinator
	}
	if !b.leaseValid() {
		return kerr.CoordinatorNotAvailable
	}
	switch code := b.groups.GroupCode(groupID); code {
	case 0:
		return nil
	case kerr.NotCoordinator.Code:
		// The metadata names this broker but the coordinator does not
		// hold the partition: elected a moment ago (the tracker's next
		// pass tells it), or it found the partition moved before the
		// metadata did. Either way the client should wait and retry.
		return kerr.CoordinatorLoadInProgress
	default:
		if ke, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
			return ke
		}
		return kerr.CoordinatorNotAvailable
	}
}

// clientHost is the client address as Kafka shows it ("/127.0.0.1").
func (rc *reqCtx) clientHost() string {
	if rc.conn == nil || rc.conn.nc == nil {
		return ""
	}
	addr := rc.conn.nc.RemoteAddr()
	if ta, ok := addr.(*net.TCPAddr); ok {
		return "/" + ta.IP.String()
	}
	return "/" + addr.String()
}
