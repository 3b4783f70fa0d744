package broker

// Topic creation shared by CreateTopics and the auto-creation of Metadata
// and Produce: name rules, partition and replication defaults, replica
// placement, config validation, and the write to the metadata store.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/coordinator"
)

// maxTopicNameLength is Kafka's limit (Topic.MAX_NAME_LENGTH): 255 minus the
// room a partition directory needs for "-<partition>" and a deletion suffix.
const maxTopicNameLength = 249

// validateTopicName applies Kafka's Topic.validate rules. The error message
// is Kafka's, for the ErrorMessage fields.
func validateTopicName(name string) error {
	if name == "" {
		return errors.New("Topic name is illegal, it can't be empty")
	}
	if name == "." || name == ".." {
		return errors.New(`Topic name cannot be "." or ".."`)
	}
	if len(name) > maxTopicNameLength {
		return fmt.Errorf("Topic name is illegal, it can't be longer than %d characters, topic name: %s", maxTopicNameLength, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("Topic name %q is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'", name)
		}
	}
	return nil
}

// unifyCollisionChars is Kafka's Topic.unifyCollisionChars: '.' and '_'
// collide in metric names, so Kafka refuses topics that differ only there.
func unifyCollisionChars(name string) string { return strings.ReplaceAll(name, ".", "_") }

// collidingTopic returns an existing topic whose name collides with name
// (same after unifying '.' and '_') but is not equal to it.
func collidingTopic(snap *coordinator.Snapshot, name string, pending map[string]string) (string, bool) {
	if !strings.ContainsAny(name, "._") {
		return "", false
	}
	u := unifyCollisionChars(name)
	if other, ok := pending[u]; ok && other != name {
		return other, true
	}
	for _, t := range snap.TopicNames {
		if t != name && strings.ContainsAny(t, "._") && unifyCollisionChars(t) == u {
			return t, true
		}
	}
	return "", false
}

// configErrMessage turns a config validation error into the message a
// client shows (Kafka's form, without our package prefix); several errors
// are joined with "; ".
func configErrMessage(err error) string {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		var ce *config.Error
		if errors.As(e, &ce) {
			msgs = append(msgs, ce.Message())
		} else {
			msgs = append(msgs, strings.TrimPrefix(e.Error(), "config: "))
		}
	}
	return strings.Join(msgs, "; ")
}

// topicPlan is a validated topic creation, ready to be written.
type topicPlan struct {
	info              coordinator.TopicInfo
	numPartitions     int32
	replicationFactor int16
}

// planTopic runs every CreateTopics check against snap and computes the
// replica assignment. pending maps the unified names of topics created
// earlier in the same request (not yet in the snapshot) to their names.
func (b *Broker) planTopic(snap *coordinator.Snapshot, name string, numPartitions int32, replicationFactor int16,
	assignments [][]int32, configs map[string]string, pending map[string]string,
) (topicPlan, *kerr.Error, string) {
	if err := validateTopicName(name); err != nil {
		return topicPlan{}, kerr.InvalidTopicException, err.Error()
	}
	if snap.Topic(name) != nil {
		return topicPlan{}, kerr.TopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", name)
	}
	if other, ok := collidingTopic(snap, name, pending); ok {
		return topicPlan{}, kerr.InvalidTopicException, fmt.Sprintf("Topic '%s' collides with existing topic: %s", name, other)
	}
	if len(configs) > 0 {
		if err := config.ValidateTopicConfigs(configs); err != nil {
			return topicPlan{}, kerr.InvalidConfig, configErrMessage(err)
		}
	}

	live := snap.BrokerIDs
	usable := usableBrokers(snap)
	var replicas [][]int32
	if len(assignments) > 0 {
		// Kafka: a manual assignment replaces both counts.
		if numPartitions != -1 {
			return topicPlan{}, kerr.InvalidRequest, "A manual partition assignment was specified, but numPartitions was not set to -1."
		}
		if replicationFactor != -1 {
			return topicPlan{}, kerr.InvalidRequest, "A manual partition assignment was specified, but replication factor was not set to -1."
		}
		if msg := b.tooManyPartitions(int64(len(assignments))); msg != "" {
			return topicPlan{}, kerr.InvalidPartitions, msg
		}
		rf := -1
		for _, a := range assignments {
			if msg := validateManualAssignment(a, live, rf); msg != "" {
				return topicPlan{}, kerr.InvalidReplicaAssignment, msg
			}
			rf = len(a)
		}
		replicas = assignments
	} else {
		switch {
		case numPartitions == -1:
			numPartitions = b.cfg.NumPartitions
		case numPartitions <= 0:
			return topicPlan{}, kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value."
		}
		switch {
		case replicationFactor == -1:
			replicationFactor = b.cfg.DefaultReplicationFactor
		case replicationFactor <= 0:
			return topicPlan{}, kerr.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value."
		}
		if numPartitions <= 0 {
			return topicPlan{}, kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value."
		}
		if replicationFactor <= 0 {
			return topicPlan{}, kerr.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value."
		}
		if int(replicationFactor) > len(usable) {
			return topicPlan{}, kerr.InvalidReplicationFactor,
				fmt.Sprintf("Replication factor: %d larger than available brokers: %d.", replicationFactor, len(usable))
		}
		// Before the assignment is built: 2^31-1 partitions, even
		// validate-only, would take the broker's memory.
		if msg := b.tooManyPartitions(int64(numPartitions)); msg != "" {
			return topicPlan{}, kerr.InvalidPartitions, msg
		}
		start := placementStart(name, len(usable))
		replicas = placeReplicas(snap, usable, 0, int(numPartitions), int(replicationFactor), start, start)
	}
	var overrides map[string]string
	if len(configs) > 0 {
		overrides = make(map[string]string, len(configs))
		for k, v := range configs {
			overrides[k] = v
		}
	}
	return topicPlan{
		info: coordinator.TopicInfo{
			Name:     name,
			Replicas: replicas,
			Configs:  overrides,
		},
		numPartitions:     int32(len(replicas)),
		replicationFactor: int16(len(replicas[0])),
	}, nil, ""
}

// validateManualAssignment checks one partition's replica list of a
// CreateTopics or CreatePartitions manual assignment, with Kafka's
// messages. rf is the replica count of the previous partitions (-1: none).
func validateManualAssignment(replicas []int32, live []int32, rf int) string {
	if len(replicas) == 0 {
		return "The manual partition assignment includes an empty replica list."
	}
	// Sized by the brokers, not the list: a list longer than the live
	// brokers fails on a duplicate or an unknown broker by then.
	seen := make(map[int32]struct{}, min(len(replicas), len(live)))
	for _, id := range replicas {
		if _, dup := seen[id]; dup {
			return fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", id)
		}
		seen[id] = struct{}{}
		if !containsID(live, id) {
			return fmt.Sprintf("The manual partition assignment includes broker %d, but no such broker is registered.", id)
		}
	}
	if rf >= 0 && len(replicas) != rf {
		return fmt.Sprintf("The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).", len(replicas), rf)
	}
	return ""
}

// placementStart picks where a topic's round-robin placement starts: a
// hash of the name mixed with randomness, so that many single-partition
// topics do not all land their leader on the first broker.
func placementStart(name string, nBrokers int) int {
	if nBrokers <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return int((h.Sum32() + rand.Uint32()) % uint32(nBrokers))
}

// usableBrokers are the brokers new replicas may be placed on, sorted: the
// live ones that are not shutting down and have not lost their directory
// (Kafka places replicas on unfenced brokers outside controlled shutdown).
// The replica assignment of new topics and partitions is done by the
// broker that receives the request, with this rule, in one CAS-guarded
// etcd write: every broker applies the same placement as the controller
// would.
func usableBrokers(snap *coordinator.Snapshot) []int32 {
	out := make([]int32, 0, len(snap.BrokerIDs))
	for _, id := range snap.BrokerIDs {
		if !snap.Brokers[id].ShuttingDown && !snap.LostDirectory(id) {
			out = append(out, id)
		}
	}
	return out
}

// placeReplicas assigns partitions [first, first+n) to brokers (sorted):
// Kafka's rack-aware assignment when any of them has a broker.rack, the
// rack-unaware one otherwise. A broker without a rack among racked ones
// counts as a rack of its own (as Kafka's KRaft placer does) rather than
// failing the request.
func placeReplicas(snap *coordinator.Snapshot, brokers []int32, first, n, rf, start, shift int) [][]int32 {
	racks := make(map[int32]string, len(brokers))
	anyRack := false
	for _, id := range brokers {
		if r := snap.Brokers[id].Rack; r != nil {
			racks[id] = *r
			anyRack = true
		}
	}
	if !anyRack {
		return assignReplicas(brokers, first, n, rf, start, shift)
	}
	return assignReplicasRackAware(brokers, racks, first, n, rf, start, shift)
}

// rackAlternated is Kafka's getRackAlternatedBrokerList: the brokers taken
// one rack at a time (racks in name order, brokers in id order within a
// rack), so that consecutive entries sit in different racks.
func rackAlternated(brokers []int32, racks map[int32]string) []int32 {
	byRack := map[string][]int32{}
	var names []string
	for _, id := range brokers { // sorted
		r := racks[id]
		if _, ok := byRack[r]; !ok {
			names = append(names, r)
		}
		byRack[r] = append(byRack[r], id)
	}
	slices.Sort(names)
	out := make([]int32, 0, len(brokers))
	for i := 0; len(out) < len(brokers); i = (i + 1) % len(names) {
		if q := byRack[names[i]]; len(q) > 0 {
			out = append(out, q[0])
			byRack[names[i]] = q[1:]
		}
	}
	return out
}

// assignReplicasRackAware is Kafka's assignReplicasToBrokersRackAware: on
// the rack-alternated broker list, the first replica of partition p goes
// to entry (p+start) mod n (leaders spread over brokers and racks), and
// each follower to the next entry, shifted as in the rack-unaware
// assignment, that is in a rack without a replica of the partition yet
// (unless every rack has one) and on a broker without one (unless every
// broker has one).
func assignReplicasRackAware(brokers []int32, racks map[int32]string, firstPartition, nPartitions, rf, start, shift int) [][]int32 {
	arranged := rackAlternated(brokers, racks)
	n := len(arranged)
	rackSet := map[string]bool{}
	for _, id := range arranged {
		rackSet[racks[id]] = true
	}
	numRacks := len(rackSet)
	out := make([][]int32, 0, nPartitions)
	nextShift := shift
	for i := 0; i < nPartitions; i++ {
		p := firstPartition + i
		if p > 0 && p%n == 0 {
			nextShift++
		}
		first := (p + start) % n
		leader := arranged[first]
		rs := []int32{leader}
		usedRacks := map[string]bool{racks[leader]: true}
		usedBrokers := map[int32]bool{leader: true}
		k := 0
		for len(rs) < rf {
			idx := (first + 1 + (nextShift*numRacks+k)%(n-1)) % n
			b := arranged[idx]
			k++
			r := racks[b]
			if (!usedRacks[r] || len(usedRacks) == numRacks) && (!usedBrokers[b] || len(usedBrokers) == n) {
				rs = append(rs, b)
				usedRacks[r] = true
				usedBrokers[b] = true
			}
		}
		out = append(out, rs)
	}
	return out
}

// assignReplicas is Kafka's rack-unaware replica assignment
// (AdminUtils.assignReplicasToBrokersRackUnaware): the first replica of
// partition p goes to broker (p+start) mod n, the followers are shifted by
// an amount that grows every n partitions so that they spread as well.
// brokers must be sorted and rf <= len(brokers).
func assignReplicas(brokers []int32, firstPartition, nPartitions, rf, start, shift int) [][]int32 {
	n := len(brokers)
	out := make([][]int32, 0, nPartitions)
	nextShift := shift
	for i := 0; i < nPartitions; i++ {
		p := firstPartition + i
		if p > 0 && p%n == 0 {
			nextShift++
		}
		first := (p + start) % n
		rs := make([]int32, 0, rf)
		rs = append(rs, brokers[first])
		for j := 0; j < rf-1; j++ {
			s := 1 + (nextShift+j)%(n-1)
			rs = append(rs, brokers[(first+s)%n])
		}
		out = append(out, rs)
	}
	return out
}

// writeTopic writes a planned topic and returns its id and the etcd
// revision of the write.
func (b *Broker) writeTopic(ctx context.Context, plan topicPlan) (coordinator.TopicID, int64, *kerr.Error, string) {
	info := plan.info
	info.ID = coordinator.NewTopicID()
	rev, err := b.store.CreateTopic(ctx, info)
	if err != nil {
		e, msg := storeError(err, info.Name)
		return coordinator.TopicID{}, 0, e, msg
	}
	b.log.Info().Str("topic", info.Name).Str("topic_id", info.ID.String()).
		Int("partitions", len(info.Replicas)).Int("replication_factor", len(info.Replicas[0])).
		Msg("topic created")
	return info.ID, rev, nil, ""
}

// storeError maps a metadata store error to a Kafka error and message.
func storeError(err error, topic string) (*kerr.Error, string) {
	switch {
	case errors.Is(err, coordinator.ErrTopicExists):
		return kerr.TopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", topic)
	case errors.Is(err, coordinator.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition, fmt.Sprintf("Topic '%s' does not exist.", topic)
	case errors.Is(err, coordinator.ErrInvalidPartitions):
		return kerr.InvalidPartitions, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut, "Timed out waiting for the metadata store."
	case errors.Is(err, context.Canceled), errors.Is(err, coordinator.ErrClosed):
		return kerr.UnknownServerError, "The broker is shutting down."
	default:
		return kerr.UnknownServerError, err.Error()
	}
}

// waitError maps a waitApplied failure after a successful write: the write
// happened, but the broker could not confirm it in time.
func waitError(err error) (*kerr.Error, string) {
	if errors.Is(err, context.DeadlineExceeded) {
		return kerr.RequestTimedOut, "The change was written but is not applied yet; it will be shortly."
	}
	return kerr.UnknownServerError, err.Error()
}

// tooManyPartitions applies max.partitions.per.request to n partitions (a
// request's total, or one topic's); the message is empty when n is within
// it. Kafka's controller has the same limit (10000, fixed) and message.
func (b *Broker) tooManyPartitions(n int64) string {
	if max := b.cfg.MaxPartitionsPerRequest; n > int64(max) {
		return fmt.Sprintf("Excessively large number of partitions per request: %d requested, max.partitions.per.request is %d.", n, max)
	}
	return ""
}

// Deadlines of the etcd calls made while serving a request. Requests that
// carry a timeout use it, within adminMaxTimeout; the others get a fixed
// bound, short enough that the client's own request timeout has not fired
// yet, so that it gets an error it can act on rather than a dead
// connection.
const (
	// adminWriteTimeout bounds the writes of an admin request that asked
	// not to wait (TimeoutMillis <= 0) and of AlterConfigs, which has no
	// timeout field.
	adminWriteTimeout = 30 * time.Second
	// adminMaxTimeout caps a request's TimeoutMillis: 2^31-1 ms would
	// leave a request hanging for weeks while etcd is down.
	adminMaxTimeout = 2 * time.Minute
	// autoCreateTimeout bounds the topic creations one Metadata request
	// asks for, together (Metadata has no timeout field; clients such as
	// franz-go give it about 10 s).
	autoCreateTimeout = 5 * time.Second
)

// adminCtx derives the context of an admin request from its TimeoutMillis
// (Kafka: the time to wait for the change to be applied), capped at
// adminMaxTimeout. Zero or negative means "do not wait"; writes still get
// adminWriteTimeout.
func adminCtx(parent context.Context, timeoutMillis int32) (context.Context, context.CancelFunc, bool) {
	if timeoutMillis <= 0 {
		ctx, cancel := context.WithTimeout(parent, adminWriteTimeout)
		return ctx, cancel, false
	}
	ctx, cancel := context.WithTimeout(parent, min(time.Duration(timeoutMillis)*time.Millisecond, adminMaxTimeout))
	return ctx, cancel, true
}

// createTopic validates and (unless validateOnly) creates one topic, then
// waits until this broker's metadata includes it. numPartitions and
// replicationFactor -1 take the broker defaults; assignments, when given,
// is the manual replica assignment by partition (both counts must be -1).
// It returns the new topic's id, the error (nil: success) and its message.
func (b *Broker) createTopic(ctx context.Context, name string, numPartitions int32, replicationFactor int16,
	assignments [][]int32, configs map[string]string, validateOnly bool,
) (coordinator.TopicID, *kerr.Error, string) {
	plan, e, msg := b.planTopic(b.store.Snapshot(), name, numPartitions, replicationFactor, assignments, configs, nil)
	if e != nil || validateOnly {
		return coordinator.TopicID{}, e, msg
	}
	id, rev, e, msg := b.writeTopic(ctx, plan)
	if e != nil {
		return coordinator.TopicID{}, e, msg
	}
	if err := b.waitApplied(ctx, rev); err != nil {
		e, msg := waitError(err)
		return id, e, msg
	}
	return id, nil, ""
}

// autoCreateTopic creates a topic a Metadata or Produce request named, with
// the broker defaults (auto.create.topics.enable). Losing a creation race
// to another client is success.
func (b *Broker) autoCreateTopic(ctx context.Context, name string) (*kerr.Error, string) {
	if !b.cfg.AutoCreateTopics {
		return kerr.UnknownTopicOrPartition, fmt.Sprintf("Topic '%s' does not exist and auto.create.topics.enable is false.", name)
	}
	if err := validateTopicName(name); err != nil {
		return kerr.InvalidTopicException, err.Error()
	}
	_, e, msg := b.createTopic(ctx, name, -1, -1, nil, nil, false)
	if e == kerr.TopicAlreadyExists {
		return nil, ""
	}
	return e, msg
}

// warnTopicConfigs logs the configs a topic sets that samsa accepts but does
// not act on yet.
func (b *Broker) warnTopicConfigs(topic string, configs map[string]string) {
	for _, in := range config.InertTopicConfigs(configs) {
		b.log.Warn().Str("topic", topic).Str("config", in.Name).Str("value", in.Value).Str("reason", in.Reason).
			Msg("topic config has no effect in samsa")
	}
}

// brokerIDString formats a broker id as a config resource name.
func brokerIDString(id int32) string { return strconv.Itoa(int(id)) }
