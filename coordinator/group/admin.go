package group

// ListGroups, DescribeGroups, DeleteGroups.

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// GroupListing is one group in ListGroups.
type GroupListing struct {
	Group        string
	ProtocolType string
	State        string
	Type         string // "classic" or "consumer"
}

// ListGroups returns the groups whose state and type match the filters
// (case-insensitive; empty filters match everything), sorted by id.
//
// It lists the groups of the partitions loaded here; while one is loading
// the answer is COORDINATOR_LOAD_IN_PROGRESS, as Kafka's.
func (c *Coordinator) ListGroups(states, types []string) ([]GroupListing, int16) {
	c.mu.Lock()
	closed, loading := c.closed || c.ctx.Err() != nil, c.loadingLocked()
	c.mu.Unlock()
	switch {
	case closed:
		return nil, kerr.CoordinatorNotAvailable.Code
	case loading > 0:
		return nil, kerr.CoordinatorLoadInProgress.Code
	}
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	var out []GroupListing
	for _, g := range c.all() {
		g.mu.Lock()
		if g.dead {
			g.mu.Unlock()
			continue
		}
		l := GroupListing{Group: g.id, ProtocolType: g.protocolTypeLocked(), State: g.stateNameLocked(), Type: g.kind.String()}
		g.mu.Unlock()
		if match(states, l.State) && match(types, l.Type) {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, 0
}

// DescribeGroup describes a classic group (DescribeGroups).
func (c *Coordinator) DescribeGroup(id string, version int16) kmsg.DescribeGroupsResponseGroup {
	dg := kmsg.NewDescribeGroupsResponseGroup()
	dg.Group = id
	dg.AuthorizedOperations = -2147483648
	notFound := func(msg string) kmsg.DescribeGroupsResponseGroup {
		dg.State = "Dead"
		if version >= 6 {
			dg.ErrorCode = kerr.GroupIDNotFound.Code
			dg.ErrorMessage = stringPtr(msg)
		}
		return dg
	}
	g, code := c.find(id, false)
	if code != 0 {
		dg.ErrorCode = code
		return dg
	}
	if g == nil {
		return notFound(fmt.Sprintf("Group %s not found.", id))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.unloaded {
		dg.ErrorCode = kerr.NotCoordinator.Code
		return dg
	}
	if g.dead {
		return notFound(fmt.Sprintf("Group %s not found.", id))
	}
	if g.kind == kindConsumer {
		return notFound(fmt.Sprintf("Group %s is not a classic group.", id))
	}
	dg.State = g.state.String()
	dg.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		dg.Protocol = g.protocol
	}
	for _, mid := range g.sortedMemberIDsLocked() {
		m := g.members[mid]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = m.instanceID
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		dm.ProtocolMetadata = []byte{}
		dm.MemberAssignment = []byte{}
		if stable {
			dm.ProtocolMetadata = m.metadataFor(g.protocol)
			if m.assignment != nil {
				dm.MemberAssignment = m.assignment
			}
		}
		dg.Members = append(dg.Members, dm)
	}
	return dg
}

// DeleteGroup deletes a group without members and its offsets: 0,
// GROUP_ID_NOT_FOUND or NON_EMPTY_GROUP.
func (c *Coordinator) DeleteGroup(ctx context.Context, id string) int16 {
	g, code := c.find(id, false)
	if code != 0 {
		return code
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code
	}
	return c.deleteGroup(ctx, g, true)
}

func (c *Coordinator) deleteGroup(ctx context.Context, g *group, explicit bool) int16 {
	if err := g.lockWrites(ctx); err != nil {
		return storeErrorCode(err)
	}
	defer g.wmu.unlock()
	g.mu.Lock()
	if g.dead {
		g.mu.Unlock()
		return g.goneCode(kerr.GroupIDNotFound.Code)
	}
	if !g.isEmptyLocked() || (g.kind == kindClassic && g.state != stateEmpty) {
		g.mu.Unlock()
		return kerr.NonEmptyGroup.Code
	}
	if !explicit && (len(g.offsets) > 0 || len(g.txnOffsets) > 0) {
		g.mu.Unlock()
		return kerr.NonEmptyGroup.Code
	}
	g.dead = true
	g.transitionLocked(stateDead)
	g.stopTimersLocked()
	c.removeLocked(g)
	g.mu.Unlock()

	// One transaction: the group record, its chunks and every offset (a
	// range delete is one operation), so a deletion is atomic.
	_, err := g.txn(ctx, nil,
		clientv3.OpDelete(c.groupKey(g.id)),
		clientv3.OpDelete(c.chunksPrefix(g.id), clientv3.WithPrefix()),
		clientv3.OpDelete(c.offsetsPrefix(g.id), clientv3.WithPrefix()),
		clientv3.OpDelete(c.txnOffsetsPrefix(g.id), clientv3.WithPrefix()),
	)
	if err != nil {
		c.log.Warn().Err(err).Str("group", g.id).Msg("cannot delete group")
		// Put it back unless a new incarnation exists already or its
		// partition has left (a fenced write unloaded it).
		g.mu.Lock()
		c.mu.Lock()
		if c.groups[g.id] == nil && c.holdsLocked(g) {
			g.dead = false
			g.transitionLocked(stateEmpty)
			c.groups[g.id] = g
		}
		c.mu.Unlock()
		g.mu.Unlock()
		return storeErrorCode(err)
	}
	g.written = math.MaxUint64 // a dead group is never written again
	c.log.Info().Str("group", g.id).Bool("explicit", explicit).Msg("group deleted")
	return 0
}
