package broker

// The ACL authorizer: on when authorizer.class.name names Kafka's
// StandardAuthorizer (or the older AclAuthorizer). It decides as Kafka's
// StandardAuthorizer does:
//
//  1. a principal in super.users is allowed everything;
//  2. the ACLs that apply to the resource are the LITERAL ones of its name,
//     the LITERAL ones of "*" and the PREFIXED ones whose name starts its
//     name; when there are none at all (for any principal),
//     allow.everyone.if.no.acl.found decides;
//  3. of those, an ACL matches when its principal is the request's or
//     User:*, and its host is the client's address or *;
//  4. a matching DENY of the operation (or ALL) denies;
//  5. a matching ALLOW of the operation, of ALL, or of an operation that
//     implies it (READ, WRITE, DELETE and ALTER imply DESCRIBE;
//     ALTER_CONFIGS implies DESCRIBE_CONFIGS) allows;
//  6. anything else is denied.
//
// The ACLs come from the metadata Snapshot (coordinator/acls.go): an index
// is rebuilt when the Snapshot's ACLRevision moves. Each connection caches
// its decisions (aclCache), keyed by operation and resource, dropped when
// the revision moves, so Produce and Fetch check a map, not the ACLs; with
// no authorizer, authorize returns true before touching anything.

import (
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
	"github.com/samsa-io/samsa/coordinator/group"
)

// authorizer is the ACL authorizer; nil on a broker without one.
type authorizer struct {
	b            *Broker
	superUsers   map[string]bool
	allowIfNoACL bool

	mu  sync.Mutex
	idx *aclIndex // guarded by mu; replaced when the ACLs change
}

// aclIndex is the ACLs of one revision, by resource.
type aclIndex struct {
	rev      int64
	literal  map[aclResource][]coordinator.ACL
	prefixed map[kmsg.ACLResourceType][]coordinator.ACL
}

type aclResource struct {
	typ  kmsg.ACLResourceType
	name string
}

func newAuthorizer(b *Broker) *authorizer {
	a := &authorizer{b: b, superUsers: map[string]bool{}, allowIfNoACL: b.cfg.Bool("allow.everyone.if.no.acl.found")}
	for _, p := range b.cfg.SuperUsers() {
		a.superUsers[p] = true
	}
	return a
}

// index returns the index of the snapshot's ACLs.
func (a *authorizer) index(snap *coordinator.Snapshot) *aclIndex {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.idx != nil && a.idx.rev == snap.ACLRevision {
		return a.idx
	}
	idx := &aclIndex{rev: snap.ACLRevision, literal: map[aclResource][]coordinator.ACL{}, prefixed: map[kmsg.ACLResourceType][]coordinator.ACL{}}
	for _, acl := range snap.ACLs {
		rt := kmsg.ACLResourceType(acl.ResourceType)
		switch kmsg.ACLResourcePatternType(acl.PatternType) {
		case kmsg.ACLResourcePatternTypeLiteral:
			k := aclResource{rt, acl.ResourceName}
			idx.literal[k] = append(idx.literal[k], acl)
		case kmsg.ACLResourcePatternTypePrefixed:
			idx.prefixed[rt] = append(idx.prefixed[rt], acl)
		}
	}
	a.idx = idx
	return idx
}

// decide is the authorizer's decision, uncached.
func (a *authorizer) decide(idx *aclIndex, principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if a.superUsers[principal] {
		return true
	}
	found := false
	allowed := false
	check := func(acls []coordinator.ACL) bool { // false: denied
		for i := range acls {
			acl := &acls[i]
			found = true
			if acl.Principal != principal && acl.Principal != "User:*" {
				continue
			}
			if acl.Host != "*" && acl.Host != host {
				continue
			}
			aop := kmsg.ACLOperation(acl.Operation)
			switch kmsg.ACLPermissionType(acl.Permission) {
			case kmsg.ACLPermissionTypeDeny:
				if aop == op || aop == kmsg.ACLOperationAll {
					return false
				}
			case kmsg.ACLPermissionTypeAllow:
				if aop == op || aop == kmsg.ACLOperationAll || implies(aop, op) {
					allowed = true
				}
			}
		}
		return true
	}
	if !check(idx.literal[aclResource{rt, name}]) || !check(idx.literal[aclResource{rt, "*"}]) {
		return false
	}
	for _, acl := range idx.prefixed[rt] {
		if strings.HasPrefix(name, acl.ResourceName) && !check([]coordinator.ACL{acl}) {
			return false
		}
	}
	if !found {
		return a.allowIfNoACL
	}
	return allowed
}

// implies reports whether allowing have allows want too.
func implies(have, want kmsg.ACLOperation) bool {
	switch want {
	case kmsg.ACLOperationDescribe:
		return have == kmsg.ACLOperationRead || have == kmsg.ACLOperationWrite ||
			have == kmsg.ACLOperationDelete || have == kmsg.ACLOperationAlter
	case kmsg.ACLOperationDescribeConfigs:
		return have == kmsg.ACLOperationAlterConfigs
	}
	return false
}

// aclCache is one connection's cached decisions. Read loop only.
type aclCache struct {
	rev       int64
	decisions map[aclDecisionKey]bool
}

type aclDecisionKey struct {
	op   kmsg.ACLOperation
	rt   kmsg.ACLResourceType
	name string
}

// maxCachedDecisions bounds a connection's cache (a client naming many
// topics starts over rather than growing it).
const maxCachedDecisions = 4096

// clusterName is the cluster resource's name (Kafka's "kafka-cluster").
const clusterName = "kafka-cluster"

// authorize reports whether the request's principal may perform op on the
// resource. Without an authorizer it is true at once.
func (b *Broker) authorize(rc *reqCtx, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	az := b.authz
	if az == nil {
		return true
	}
	snap := b.store.Snapshot()
	if rc == nil || rc.conn == nil {
		return az.decide(az.index(snap), rc.principal(), rc.aclHost(), op, rt, name)
	}
	c := &rc.conn.acl
	k := aclDecisionKey{op, rt, name}
	if c.rev == snap.ACLRevision && c.decisions != nil {
		if d, ok := c.decisions[k]; ok {
			return d
		}
	}
	if c.rev != snap.ACLRevision || c.decisions == nil || len(c.decisions) >= maxCachedDecisions {
		c.rev, c.decisions = snap.ACLRevision, make(map[aclDecisionKey]bool)
	}
	d := az.decide(az.index(snap), rc.principal(), rc.aclHost(), op, rt, name)
	c.decisions[k] = d
	return d
}

// authorizeCluster is authorize on the cluster resource.
func (b *Broker) authorizeCluster(rc *reqCtx, op kmsg.ACLOperation) bool {
	return b.authorize(rc, op, kmsg.ACLResourceTypeCluster, clusterName)
}

// Operations each resource type supports (Kafka's AclEntry.supportedOperations),
// for the authorized-operations bit sets.
var (
	aclTopicOps   = []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationCreate, kmsg.ACLOperationDelete, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe, kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs}
	aclGroupOps   = []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationDescribe, kmsg.ACLOperationDelete, kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs}
	aclClusterOps = []kmsg.ACLOperation{kmsg.ACLOperationCreate, kmsg.ACLOperationClusterAction, kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs, kmsg.ACLOperationIdempotentWrite, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe}
)

// authorizedOps is the bit set of ops the request's principal may perform
// on the resource (every supported one without an authorizer).
func (b *Broker) authorizedOps(rc *reqCtx, rt kmsg.ACLResourceType, name string, ops []kmsg.ACLOperation) int32 {
	var bits int32
	for _, op := range ops {
		if b.authorize(rc, op, rt, name) {
			bits |= 1 << op
		}
	}
	return bits
}

// aclsEnabledError is the error of an ACL API on a broker without an
// authorizer (Kafka: SECURITY_DISABLED).
const noAuthorizerMessage = "No Authorizer is configured on the broker (set authorizer.class.name)"

// authorizeFetch is Fetch's check: a follower needs CLUSTER_ACTION on the
// cluster, a consumer READ on the topic (Kafka answers both with
// TOPIC_AUTHORIZATION_FAILED per partition).
func (b *Broker) authorizeFetch(rc *reqCtx, replica int32, topic string) bool {
	if b.authz == nil {
		return true
	}
	if replica >= 0 {
		return b.authorizeCluster(rc, kmsg.ACLOperationClusterAction)
	}
	return b.authorize(rc, kmsg.ACLOperationRead, kmsg.ACLResourceTypeTopic, topic)
}

// authorizeEpochs is OffsetForLeaderEpoch's check: CLUSTER_ACTION for a
// follower (v3+ names its replica id), DESCRIBE on the topic for a
// consumer; 0 when allowed, else the error code.
func (b *Broker) authorizeEpochs(rc *reqCtx, replica int32, topic string) int16 {
	if b.authz == nil {
		return 0
	}
	if replica >= 0 && !b.authorizeCluster(rc, kmsg.ACLOperationClusterAction) {
		return kerr.ClusterAuthorizationFailed.Code
	}
	if !b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, topic) {
		return kerr.TopicAuthorizationFailed.Code
	}
	return 0
}

// authorizeMetadataCreate: Metadata may auto-create a topic only for a
// principal allowed CREATE on the cluster or on the topic.
func (b *Broker) authorizeMetadataCreate(rc *reqCtx, topic string) bool {
	if b.authz == nil {
		return true
	}
	return b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, topic) &&
		(b.authorizeCluster(rc, kmsg.ACLOperationCreate) || b.authorize(rc, kmsg.ACLOperationCreate, kmsg.ACLResourceTypeTopic, topic))
}

// authorizeMetadataTopic: a named topic that does not exist is
// TOPIC_AUTHORIZATION_FAILED to a principal that may not describe it, or
// may not create it when the request would have created it (Kafka's
// handleTopicMetadataRequest).
func (b *Broker) authorizeMetadataTopic(rc *reqCtx, topic string, autoCreate bool) bool {
	if b.authz == nil {
		return true
	}
	if !b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, topic) {
		return false
	}
	return !autoCreate || !b.cfg.AutoCreateTopics || validateTopicName(topic) != nil || b.authorizeMetadataCreate(rc, topic)
}

// groupAccess is groupError behind the group's ACL check
// (GROUP_AUTHORIZATION_FAILED first, as Kafka checks it first).
func (b *Broker) groupAccess(rc *reqCtx, op kmsg.ACLOperation, group string) *kerr.Error {
	if !b.authorize(rc, op, kmsg.ACLResourceTypeGroup, group) {
		return kerr.GroupAuthorizationFailed
	}
	return b.groupError(group)
}

// authorizeCoordinatorKey: FindCoordinator needs DESCRIBE on the group
// (type 0) or the transactional id (type 1).
func (b *Broker) authorizeCoordinatorKey(rc *reqCtx, typ int8, key string) bool {
	if typ == 1 {
		return b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTransactionalId, key)
	}
	return b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeGroup, key)
}

// authorizeListGroup: ListGroups lists every group to DESCRIBE on the
// cluster, else the groups the principal may describe.
func (b *Broker) authorizeListGroup(rc *reqCtx, group string) bool {
	return b.authz == nil || b.authorizeCluster(rc, kmsg.ACLOperationDescribe) ||
		b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeGroup, group)
}

// authorizeOffsetFetch applies OffsetFetch's checks to an answer: without
// DESCRIBE on the group, GROUP_AUTHORIZATION_FAILED; topics the principal
// may not describe are left out of an all-topics answer and
// TOPIC_AUTHORIZATION_FAILED when named.
func (b *Broker) authorizeOffsetFetch(rc *reqCtx, groupID string, asked []fetchTopic, code int16, out []fetchedTopic, all bool) (int16, []fetchedTopic) {
	if b.authz == nil {
		return code, out
	}
	if !b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeGroup, groupID) {
		denied := make([]fetchedTopic, 0, len(asked))
		for _, t := range asked {
			ft := fetchedTopic{name: t.name, id: t.id}
			for _, p := range t.partitions {
				ft.partitions = append(ft.partitions, offsetFetchPartition(p, group.Offset{Offset: -1, LeaderEpoch: -1}, kerr.GroupAuthorizationFailed.Code))
			}
			denied = append(denied, ft)
		}
		return kerr.GroupAuthorizationFailed.Code, denied
	}
	kept := out[:0]
	for _, ft := range out {
		if b.authorize(rc, kmsg.ACLOperationDescribe, kmsg.ACLResourceTypeTopic, ft.name) {
			kept = append(kept, ft)
			continue
		}
		if all {
			continue
		}
		for i := range ft.partitions {
			ft.partitions[i].Offset, ft.partitions[i].LeaderEpoch, ft.partitions[i].Metadata = -1, -1, nil
			ft.partitions[i].ErrorCode = kerr.TopicAuthorizationFailed.Code
		}
		kept = append(kept, ft)
	}
	return code, kept
}

// authorizeCreateTopic: CREATE on the cluster or on the topic.
func (b *Broker) authorizeCreateTopic(rc *reqCtx, topic string) bool {
	return b.authz == nil || b.authorizeCluster(rc, kmsg.ACLOperationCreate) ||
		b.authorize(rc, kmsg.ACLOperationCreate, kmsg.ACLResourceTypeTopic, topic)
}

// authorizeIdempotentWrite is InitProducerId's check without a
// transactional id: IDEMPOTENT_WRITE on the cluster, or (KIP-679) WRITE on
// some topic.
func (b *Broker) authorizeIdempotentWrite(rc *reqCtx) bool {
	if b.authz == nil || b.authorizeCluster(rc, kmsg.ACLOperationIdempotentWrite) {
		return true
	}
	return b.authz.mayWriteSomeTopic(b.store.Snapshot(), rc.principal(), rc.aclHost())
}

// mayWriteSomeTopic is Kafka's authorizeByResourceType(WRITE, TOPIC): some
// ALLOW of WRITE (or ALL) on topics matches the principal and host and no
// DENY of it on every topic (the literal "*") does.
func (a *authorizer) mayWriteSomeTopic(snap *coordinator.Snapshot, principal, host string) bool {
	if a.superUsers[principal] {
		return true
	}
	allowed, any := false, false
	for _, acl := range snap.ACLs {
		if kmsg.ACLResourceType(acl.ResourceType) != kmsg.ACLResourceTypeTopic {
			continue
		}
		any = true
		if acl.Principal != principal && acl.Principal != "User:*" || acl.Host != "*" && acl.Host != host {
			continue
		}
		op := kmsg.ACLOperation(acl.Operation)
		if op != kmsg.ACLOperationWrite && op != kmsg.ACLOperationAll {
			continue
		}
		if kmsg.ACLPermissionType(acl.Permission) == kmsg.ACLPermissionTypeDeny {
			if kmsg.ACLResourcePatternType(acl.PatternType) == kmsg.ACLResourcePatternTypeLiteral && acl.ResourceName == "*" {
				return false
			}
			continue
		}
		allowed = true
	}
	return allowed || !any && a.allowIfNoACL
}

// authorizeConfigResource: a topic's configs need op on the topic
// (TOPIC_AUTHORIZATION_FAILED), a broker's (and its loggers') op on the
// cluster (CLUSTER_AUTHORIZATION_FAILED).
func (b *Broker) authorizeConfigResource(rc *reqCtx, op kmsg.ACLOperation, rt kmsg.ConfigResourceType, name string) *kerr.Error {
	if b.authz == nil {
		return nil
	}
	switch rt {
	case kmsg.ConfigResourceTypeTopic:
		if !b.authorize(rc, op, kmsg.ACLResourceTypeTopic, name) {
			return kerr.TopicAuthorizationFailed
		}
	case kmsg.ConfigResourceTypeBroker, kmsg.ConfigResourceTypeBrokerLogger:
		if !b.authorizeCluster(rc, op) {
			return kerr.ClusterAuthorizationFailed
		}
	}
	return nil
}
