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

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/coordinator"
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
	topicOps   = []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationCreate, kmsg.ACLOperationDelete, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe, kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs}
	groupOps   = []kmsg.ACLOperation{kmsg.ACLOperationRead, kmsg.ACLOperationDescribe, kmsg.ACLOperationDelete}
	clusterOps = []kmsg.ACLOperation{kmsg.ACLOperationCreate, kmsg.ACLOperationClusterAction, kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs, kmsg.ACLOperationIdempotentWrite, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe}
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
