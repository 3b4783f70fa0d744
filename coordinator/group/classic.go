package group

// The classic group protocol (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup), after Kafka's GroupCoordinator / ClassicGroup: the same
// states, transitions and error codes.

import (
	"bytes"
	"context"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newMemberJoinTimeout bounds how long a new member's JoinGroup may sit in
// a rebalance before the member is dropped (Kafka's 5 minutes).
const newMemberJoinTimeout = 5 * time.Minute

func stringPtr(s string) *string { return &s }

func joinError(req *kmsg.JoinGroupRequest, memberID string, code int16) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode = code
	resp.Generation = -1
	resp.MemberID = memberID
	if req.Version < 7 {
		resp.Protocol = stringPtr("")
	}
	return resp
}

// JoinGroup serves a JoinGroup request; it blocks until the rebalance the
// member joined completes (or ctx ends). clientID and clientHost identify
// the connection.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest, clientID, clientHost string) *kmsg.JoinGroupResponse {
	if code := c.groupCode(req.Group); code != 0 {
		return joinError(req, req.MemberID, code)
	}
	if req.Group == "" {
		return joinError(req, req.MemberID, kerr.InvalidGroupID.Code)
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		return joinError(req, req.MemberID, kerr.InvalidSessionTimeout.Code)
	}
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 || rebalance <= 0 {
		rebalance = session
	}
	for {
		g, code := c.find(req.Group, req.MemberID == "")
		if code != 0 {
			return joinError(req, req.MemberID, code)
		}
		if g == nil {
			return joinError(req, req.MemberID, kerr.UnknownMemberID.Code)
		}
		g.mu.Lock()
		if g.dead {
			g.mu.Unlock()
			continue // deleted or unloaded meanwhile; look again
		}
		if g.kind == kindConsumer {
			if !g.isEmptyLocked() {
				g.mu.Unlock()
				return joinError(req, req.MemberID, kerr.InconsistentGroupProtocol.Code)
			}
			// An empty consumer group (offsets only) becomes classic.
			g.kind, g.cg = kindClassic, nil
			g.transitionLocked(stateEmpty)
		}
		j := joinArgs{
			req: req, clientID: clientID, clientHost: clientHost,
			session: session, rebalance: rebalance,
			requireKnown: req.Version >= 4 && req.InstanceID == nil,
		}
		resp, wait, rec := g.joinLocked(&j)
		g.mu.Unlock()
		if rec.seq != 0 {
			if err := g.flush(ctx, rec); err != nil && resp != nil {
				resp = joinError(req, resp.MemberID, storeErrorCode(err))
			}
		}
		if resp != nil {
			return resp
		}
		select {
		case resp := <-wait:
			resp.Version = req.Version
			if req.Version < 7 && resp.Protocol == nil {
				resp.Protocol = stringPtr("")
			}
			return resp
		case <-ctx.Done():
			return joinError(req, req.MemberID, kerr.CoordinatorNotAvailable.Code)
		case <-c.ctx.Done():
			return joinError(req, req.MemberID, kerr.CoordinatorNotAvailable.Code)
		}
	}
}

type joinArgs struct {
	req                  *kmsg.JoinGroupRequest
	clientID, clientHost string
	session, rebalance   time.Duration
	requireKnown         bool
}

// joinLocked returns an immediate response, or a channel that will carry
// it; rec is a record to store before answering.
func (g *group) joinLocked(j *joinArgs) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse, pendingRecord) {
	req := j.req
	if req.MemberID == "" {
		return g.newMemberJoinLocked(j)
	}
	// doCurrentMemberJoinGroup
	if !g.supportsProtocolsLocked(req.ProtocolType, req.Protocols) {
		return joinError(req, req.MemberID, kerr.InconsistentGroupProtocol.Code), nil, pendingRecord{}
	}
	if t, ok := g.pending[req.MemberID]; ok {
		// The second JoinGroup of KIP-394: the id we handed out.
		t.Stop()
		delete(g.pending, req.MemberID)
		return g.addMemberAndRebalanceLocked(j, req.MemberID)
	}
	if g.staticFencedLocked(req.InstanceID, req.MemberID) {
		return joinError(req, req.MemberID, kerr.FencedInstanceID.Code), nil, pendingRecord{}
	}
	m := g.members[req.MemberID]
	if m == nil || (req.InstanceID != nil && g.static[*req.InstanceID] == "") {
		return joinError(req, req.MemberID, kerr.UnknownMemberID.Code), nil, pendingRecord{}
	}
	switch g.state {
	case statePreparingRebalance:
		return g.updateMemberAndRebalanceLocked(j, m)
	case stateCompletingRebalance:
		if m.matches(req.Protocols) {
			// The member lost our response; answer again.
			return g.joinResponseLocked(req.Version, m, false), nil, pendingRecord{}
		}
		return g.updateMemberAndRebalanceLocked(j, m)
	case stateStable:
		if g.leader == m.id || !m.matches(req.Protocols) {
			// A leader's JoinGroup forces a rebalance (it may have seen
			// a metadata change the member metadata does not show).
			return g.updateMemberAndRebalanceLocked(j, m)
		}
		resp := g.joinResponseLocked(req.Version, m, false)
		resp.Members = nil
		return resp, nil, pendingRecord{}
	default:
		return joinError(req, req.MemberID, kerr.UnknownMemberID.Code), nil, pendingRecord{}
	}
}

func (g *group) newMemberJoinLocked(j *joinArgs) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse, pendingRecord) {
	req := j.req
	if !g.supportsProtocolsLocked(req.ProtocolType, req.Protocols) {
		return joinError(req, "", kerr.InconsistentGroupProtocol.Code), nil, pendingRecord{}
	}
	if max := g.c.cfg.MaxGroupSize; max > 0 && len(g.members)+len(g.pending) >= max {
		if req.InstanceID == nil || g.static[*req.InstanceID] == "" {
			return joinError(req, "", kerr.GroupMaxSizeReached.Code), nil, pendingRecord{}
		}
	}
	var newID string
	if req.InstanceID != nil {
		newID = *req.InstanceID + "-" + newUUID()
	} else {
		newID = j.clientID + "-" + newUUID()
	}
	if req.InstanceID != nil {
		return g.staticMemberJoinLocked(j, newID)
	}
	if j.requireKnown {
		// KIP-394: hand out the id first; the member must come back
		// with it within its session timeout.
		id := newID
		g.pending[id] = g.c.afterFunc(j.session, func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if _, ok := g.pending[id]; ok {
				delete(g.pending, id)
				if g.state == statePreparingRebalance {
					g.tryCompleteJoinLocked()
				}
			}
		})
		return joinError(req, id, kerr.MemberIDRequired.Code), nil, pendingRecord{}
	}
	return g.addMemberAndRebalanceLocked(j, newID)
}

func (g *group) staticMemberJoinLocked(j *joinArgs, newID string) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse, pendingRecord) {
	req := j.req
	oldID := g.static[*req.InstanceID]
	old := g.members[oldID]
	if old == nil {
		return g.addMemberAndRebalanceLocked(j, newID)
	}
	// A known static member rejoins with a new id: it replaces the old
	// one, whose pending responses are fenced.
	if old.joinCh != nil {
		ch := old.joinCh
		old.joinCh = nil
		g.awaitingJoin--
		resp := joinError(req, oldID, kerr.FencedInstanceID.Code)
		ch <- resp
	}
	if old.syncCh != nil {
		ch := old.syncCh
		old.syncCh = nil
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.ErrorCode = kerr.FencedInstanceID.Code
		ch <- resp
	}
	if old.hbTimer != nil {
		old.hbTimer.Stop()
	}
	delete(g.members, oldID)
	if _, ok := g.pendingSync[oldID]; ok {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = struct{}{}
	}
	m := old
	m.id = newID
	m.hbSeq++
	g.members[newID] = m
	g.static[*req.InstanceID] = newID
	prevLeader := g.leader
	wasLeader := prevLeader == oldID
	if wasLeader {
		g.leader = newID
	}
	oldProtocols := m.protocols
	m.protocols = cloneProtocols(req.Protocols)
	m.rebalanceTimeout, m.sessionTimeout = j.rebalance, j.session
	m.clientID, m.clientHost = j.clientID, j.clientHost
	g.scheduleHeartbeatLocked(m, m.sessionTimeout)

	switch g.state {
	case stateStable:
		if g.selectProtocolLocked() == g.protocol {
			// No rebalance: the member keeps its assignment (it will
			// SyncGroup for it). From v9 (KIP-814) a new leader is told
			// to skip assigning; before, as Kafka, the answer names the
			// previous leader so the member does not act as leader.
			resp := g.joinResponseLocked(req.Version, m, false)
			if req.Version >= 9 {
				resp.SkipAssignment = wasLeader
			} else {
				resp.LeaderID = prevLeader
				resp.Members = nil
			}
			return resp, nil, g.recordLocked()
		}
		_ = oldProtocols
		ch := g.setJoinWaitLocked(m)
		g.prepareRebalanceLocked()
		return nil, ch, pendingRecord{}
	case stateCompletingRebalance:
		// The old id may already be in the leader's assignment: rebalance.
		ch := g.setJoinWaitLocked(m)
		g.prepareRebalanceLocked()
		return nil, ch, pendingRecord{}
	case statePreparingRebalance:
		ch := g.setJoinWaitLocked(m)
		g.tryCompleteJoinLocked()
		return nil, ch, pendingRecord{}
	default:
		ch := g.setJoinWaitLocked(m)
		g.maybePrepareRebalanceLocked()
		return nil, ch, pendingRecord{}
	}
}

func (g *group) setJoinWaitLocked(m *member) chan *kmsg.JoinGroupResponse {
	if m.joinCh == nil {
		g.awaitingJoin++
	}
	m.joinCh = make(chan *kmsg.JoinGroupResponse, 1)
	return m.joinCh
}

func (g *group) addMemberAndRebalanceLocked(j *joinArgs, id string) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse, pendingRecord) {
	req := j.req
	m := &member{
		id:               id,
		instanceID:       req.InstanceID,
		clientID:         j.clientID,
		clientHost:       j.clientHost,
		sessionTimeout:   j.session,
		rebalanceTimeout: j.rebalance,
		protocolType:     req.ProtocolType,
		protocols:        cloneProtocols(req.Protocols),
		isNew:            true,
	}
	if g.state == statePreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true
	}
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	if g.leader == "" {
		g.leader = id
	}
	g.members[id] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = id
	}
	g.c.log.Debug().Str("group", g.id).Str("member", id).Str("client_id", m.clientID).Str("state", g.state.String()).Msg("member joined")
	ch := g.setJoinWaitLocked(m)
	// New members cannot heartbeat yet; bound their wait instead.
	g.scheduleHeartbeatLocked(m, newMemberJoinTimeout)
	g.maybePrepareRebalanceLocked()
	if g.state == statePreparingRebalance {
		g.tryCompleteJoinLocked()
	}
	return nil, ch, pendingRecord{}
}

func (g *group) updateMemberAndRebalanceLocked(j *joinArgs, m *member) (*kmsg.JoinGroupResponse, chan *kmsg.JoinGroupResponse, pendingRecord) {
	m.protocols = cloneProtocols(j.req.Protocols)
	m.rebalanceTimeout, m.sessionTimeout = j.rebalance, j.session
	ch := g.setJoinWaitLocked(m)
	g.maybePrepareRebalanceLocked()
	if g.state == statePreparingRebalance {
		g.tryCompleteJoinLocked()
	}
	return nil, ch, pendingRecord{}
}

func cloneProtocols(ps []kmsg.JoinGroupRequestProtocol) []protocolEntry {
	out := make([]protocolEntry, len(ps))
	for i, p := range ps {
		out[i] = protocolEntry{Name: p.Name, Metadata: append([]byte(nil), p.Metadata...)}
	}
	return out
}

func (m *member) matches(ps []kmsg.JoinGroupRequestProtocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i, p := range ps {
		if p.Name != m.protocols[i].Name || !bytes.Equal(p.Metadata, m.protocols[i].Metadata) {
			return false
		}
	}
	return true
}

func (m *member) metadataFor(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// validateMemberLocked is Kafka's ClassicGroup.validateMember: with an
// instance id, the instance must be known (else UNKNOWN_MEMBER_ID) and
// mapped to memberID (else FENCED_INSTANCE_ID); the member must exist.
func (g *group) validateMemberLocked(memberID string, instanceID *string) (*member, int16) {
	if instanceID != nil {
		id, ok := g.static[*instanceID]
		if !ok {
			return nil, kerr.UnknownMemberID.Code
		}
		if id != memberID {
			return nil, kerr.FencedInstanceID.Code
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, kerr.UnknownMemberID.Code
	}
	return m, 0
}

func (g *group) staticFencedLocked(instanceID *string, memberID string) bool {
	if instanceID == nil {
		return false
	}
	id, ok := g.static[*instanceID]
	return ok && id != memberID
}

func (g *group) supportsProtocolsLocked(protocolType string, ps []kmsg.JoinGroupRequestProtocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(ps) > 0
	}
	if g.protocolType != protocolType {
		return false
	}
	for _, p := range ps {
		all := true
		for _, m := range g.members {
			if m.metadataFor(p.Name) == nil && !m.hasProtocol(p.Name) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (m *member) hasProtocol(name string) bool {
	for _, p := range m.protocols {
		if p.Name == name {
			return true
		}
	}
	return false
}

// selectProtocolLocked: among the protocols every member supports, each
// member votes for the first it lists; the most votes win.
func (g *group) selectProtocolLocked() string {
	ids := g.sortedMemberIDsLocked()
	if len(ids) == 0 {
		return ""
	}
	var candidates []string
	for _, p := range g.members[ids[0]].protocols {
		all := true
		for _, id := range ids {
			if !g.members[id].hasProtocol(p.Name) {
				all = false
				break
			}
		}
		if all {
			candidates = append(candidates, p.Name)
		}
	}
	votes := make(map[string]int)
	for _, id := range ids {
		for _, p := range g.members[id].protocols {
			if contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", -1
	for _, c := range candidates {
		if votes[c] > bestVotes {
			best, bestVotes = c, votes[c]
		}
	}
	return best
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (g *group) sortedMemberIDsLocked() []string {
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// joinResponseLocked is the successful JoinGroup answer for m; the leader
// gets every member's metadata.
func (g *group) joinResponseLocked(version int16, m *member, skip bool) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = version
	resp.Generation = g.generation
	resp.ProtocolType = stringPtr(g.protocolType)
	resp.Protocol = stringPtr(g.protocol)
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	resp.SkipAssignment = skip
	if g.leader == m.id {
		for _, id := range g.sortedMemberIDsLocked() {
			om := g.members[id]
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID = om.id
			rm.InstanceID = om.instanceID
			rm.ProtocolMetadata = om.metadataFor(g.protocol)
			resp.Members = append(resp.Members, rm)
		}
	}
	return resp
}

func (g *group) rebalanceTimeoutLocked() time.Duration {
	var max time.Duration
	for _, m := range g.members {
		if m.rebalanceTimeout > max {
			max = m.rebalanceTimeout
		}
	}
	return max
}

func (g *group) maybePrepareRebalanceLocked() {
	switch g.state {
	case stateStable, stateCompletingRebalance, stateEmpty:
		g.prepareRebalanceLocked()
	}
}

func (g *group) prepareRebalanceLocked() {
	if g.state == stateCompletingRebalance {
		g.resetAndPropagateAssignmentErrorLocked(kerr.RebalanceInProgress.Code)
	}
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	g.syncSeq++
	wasEmpty := g.state == stateEmpty
	g.transitionLocked(statePreparingRebalance)
	g.joinSeq++
	if g.joinTimer != nil {
		g.joinTimer.Stop()
	}
	seq := g.joinSeq
	delay := g.c.cfg.InitialRebalanceDelay
	if wasEmpty && delay > 0 {
		g.initialDelay = true
		g.newMemberAdded = false
		g.initialRemaining = g.rebalanceTimeoutLocked() - delay
		if g.initialRemaining < 0 {
			g.initialRemaining = 0
		}
		g.scheduleInitialJoinLocked(seq, delay)
		return
	}
	g.initialDelay = false
	g.joinTimer = g.c.afterFunc(g.rebalanceTimeoutLocked(), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.joinSeq == seq && g.state == statePreparingRebalance {
			g.completeJoinLocked()
		}
	})
	// Kafka's tryCompleteElseWatch: complete at once when every member
	// has joined already (none left: the last member left a Stable group,
	// which becomes Empty now rather than after the rebalance timeout).
	g.tryCompleteJoinLocked()
}

// scheduleInitialJoinLocked is Kafka's InitialDelayedJoin: while new
// members keep arriving, wait another delay, up to the rebalance timeout.
func (g *group) scheduleInitialJoinLocked(seq uint64, d time.Duration) {
	g.joinTimer = g.c.afterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.joinSeq != seq || g.state != statePreparingRebalance {
			return
		}
		if g.newMemberAdded && g.initialRemaining > 0 {
			g.newMemberAdded = false
			next := min(g.c.cfg.InitialRebalanceDelay, g.initialRemaining)
			g.initialRemaining -= next
			g.scheduleInitialJoinLocked(seq, next)
			return
		}
		g.initialDelay = false
		g.completeJoinLocked()
	})
}

// tryCompleteJoinLocked completes the join phase once every member has
// rejoined and no KIP-394 member is pending (Kafka's DelayedJoin).
func (g *group) tryCompleteJoinLocked() {
	if g.state != statePreparingRebalance || g.initialDelay {
		return
	}
	if g.awaitingJoin == len(g.members) && len(g.pending) == 0 {
		g.completeJoinLocked()
	}
}

// completeJoinLocked is Kafka's onCompleteJoin.
func (g *group) completeJoinLocked() {
	g.joinSeq++
	if g.joinTimer != nil {
		g.joinTimer.Stop()
		g.joinTimer = nil
	}
	// Dynamic members that did not rejoin are dropped; static ones stay.
	for _, id := range g.sortedMemberIDsLocked() {
		m := g.members[id]
		if m.joinCh == nil && m.instanceID == nil {
			g.removeMemberLocked(m)
		}
	}
	if g.dead {
		return
	}
	if !g.electJoinedLeaderLocked() && len(g.members) > 0 {
		// Nobody rejoined: wait another rebalance timeout for the
		// sessions of the silent members to expire.
		seq := g.joinSeq
		g.joinTimer = g.c.afterFunc(g.rebalanceTimeoutLocked(), func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.joinSeq == seq && g.state == statePreparingRebalance {
				g.completeJoinLocked()
			}
		})
		return
	}
	g.generation++
	for k := range g.pendingSync {
		delete(g.pendingSync, k)
	}
	if len(g.members) == 0 {
		g.protocol = ""
		g.transitionLocked(stateEmpty)
		rec := g.recordLocked()
		g.asyncFlushLocked(rec)
		return
	}
	g.protocol = g.selectProtocolLocked()
	g.transitionLocked(stateCompletingRebalance)
	// Kafka logs "Stabilized group ... generation ..." the same way.
	g.c.log.Info().Str("group", g.id).Int32("generation", g.generation).Int("members", len(g.members)).
		Str("protocol", g.protocol).Msg("group rebalanced")
	for id := range g.members {
		g.pendingSync[id] = struct{}{}
	}
	for _, id := range g.sortedMemberIDsLocked() {
		m := g.members[id]
		if m.joinCh != nil {
			ch := m.joinCh
			m.joinCh = nil
			g.awaitingJoin--
			ch <- g.joinResponseLocked(0, m, false)
		}
		m.isNew = false
		g.scheduleHeartbeatLocked(m, m.sessionTimeout)
	}
	// Members that do not SyncGroup within the rebalance timeout are
	// removed (Kafka's DelayedSync).
	g.syncSeq++
	seq, gen := g.syncSeq, g.generation
	g.syncTimer = g.c.afterFunc(g.rebalanceTimeoutLocked(), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.syncSeq != seq || g.generation != gen || len(g.pendingSync) == 0 {
			return
		}
		if g.state != stateCompletingRebalance && g.state != stateStable {
			return
		}
		for id := range g.pendingSync {
			if m := g.members[id]; m != nil {
				g.removeMemberLocked(m)
			}
		}
		if !g.dead {
			g.prepareRebalanceLocked()
		}
	})
}

// asyncFlushLocked stores rec without blocking the caller (used from
// timers, which have no request to answer). The write runs in a goroutine
// tracked by the coordinator's timer group, so Close waits for it.
func (g *group) asyncFlushLocked(rec pendingRecord) {
	if rec.seq == 0 || g.dead {
		return // a dead group (deleted, unloaded) is not written
	}
	c := g.c
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.timers.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.timers.Done()
		_ = g.flush(c.ctx, rec)
	}()
}

// electJoinedLeaderLocked keeps the leader if it rejoined, else picks a
// member that did; false when no member rejoined.
func (g *group) electJoinedLeaderLocked() bool {
	if m := g.members[g.leader]; m != nil && m.joinCh != nil {
		return true
	}
	for _, id := range g.sortedMemberIDsLocked() {
		if g.members[id].joinCh != nil {
			g.leader = id
			return true
		}
	}
	g.leader = ""
	return false
}

func (g *group) resetAndPropagateAssignmentErrorLocked(code int16) {
	for _, m := range g.members {
		m.assignment = nil
		if m.syncCh != nil {
			ch := m.syncCh
			m.syncCh = nil
			resp := kmsg.NewPtrSyncGroupResponse()
			resp.ErrorCode = code
			ch <- resp
		}
	}
}

// removeMemberLocked drops m, answering a pending join with
// UNKNOWN_MEMBER_ID (Kafka's removeMemberAndUpdateGroup without the
// rebalance trigger).
func (g *group) removeMemberLocked(m *member) {
	if m.joinCh != nil {
		ch := m.joinCh
		m.joinCh = nil
		g.awaitingJoin--
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.ErrorCode = kerr.UnknownMemberID.Code
		resp.Generation = -1
		resp.MemberID = m.id
		ch <- resp
	}
	if m.syncCh != nil {
		ch := m.syncCh
		m.syncCh = nil
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.ErrorCode = kerr.UnknownMemberID.Code
		ch <- resp
	}
	if m.hbTimer != nil {
		m.hbTimer.Stop()
	}
	m.hbSeq++
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if ids := g.sortedMemberIDsLocked(); len(ids) > 0 {
			g.leader = ids[0]
		}
	}
}

// removeMemberAndUpdateGroupLocked removes m and moves the group on.
func (g *group) removeMemberAndUpdateGroupLocked(m *member) {
	g.removeMemberLocked(m)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		g.prepareRebalanceLocked()
	case statePreparingRebalance:
		g.tryCompleteJoinLocked()
	}
}

func (g *group) scheduleHeartbeatLocked(m *member, d time.Duration) {
	if m.hbTimer != nil {
		m.hbTimer.Stop()
	}
	m.hbSeq++
	seq := m.hbSeq
	m.hbTimer = g.c.afterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.members[m.id] != m || m.hbSeq != seq || g.dead {
			return
		}
		if !m.isNew && (m.joinCh != nil || m.syncCh != nil) {
			// Waiting in a rebalance counts as alive.
			g.scheduleHeartbeatLocked(m, m.sessionTimeout)
			return
		}
		g.c.log.Info().Str("group", g.id).Str("member", m.id).Msg("member session expired")
		g.removeMemberAndUpdateGroupLocked(m)
	})
}

func syncError(code int16) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.ErrorCode = code
	return resp
}

// SyncGroup serves a SyncGroup request; members other than the leader
// wait for the leader's assignment.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp, wait := c.syncGroup(ctx, req)
	if resp == nil {
		select {
		case resp = <-wait:
		case <-ctx.Done():
			resp = syncError(kerr.CoordinatorNotAvailable.Code)
		case <-c.ctx.Done():
			resp = syncError(kerr.CoordinatorNotAvailable.Code)
		}
	}
	resp.Version = req.Version
	return resp
}

func (c *Coordinator) syncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) (*kmsg.SyncGroupResponse, chan *kmsg.SyncGroupResponse) {
	if code := c.groupCode(req.Group); code != 0 {
		return syncError(code), nil
	}
	if req.Group == "" {
		return syncError(kerr.InvalidGroupID.Code), nil
	}
	g, code := c.find(req.Group, false)
	if code != 0 {
		return syncError(code), nil
	}
	if g == nil {
		return syncError(kerr.UnknownMemberID.Code), nil
	}
	g.mu.Lock()
	switch {
	case g.dead:
		g.mu.Unlock()
		return syncError(g.goneCode(kerr.CoordinatorNotAvailable.Code)), nil
	case g.kind == kindConsumer:
		g.mu.Unlock()
		return syncError(kerr.UnknownMemberID.Code), nil
	}
	m, code := g.validateMemberLocked(req.MemberID, req.InstanceID)
	switch {
	case code != 0:
		g.mu.Unlock()
		return syncError(code), nil
	case req.Generation != g.generation:
		g.mu.Unlock()
		return syncError(kerr.IllegalGeneration.Code), nil
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		g.mu.Unlock()
		return syncError(kerr.InconsistentGroupProtocol.Code), nil
	}
	switch g.state {
	case stateEmpty:
		g.mu.Unlock()
		return syncError(kerr.UnknownMemberID.Code), nil
	case statePreparingRebalance:
		g.mu.Unlock()
		return syncError(kerr.RebalanceInProgress.Code), nil
	case stateStable:
		delete(g.pendingSync, m.id)
		resp := g.syncResponseLocked(m)
		g.scheduleHeartbeatLocked(m, m.sessionTimeout)
		g.mu.Unlock()
		return resp, nil
	}
	// CompletingRebalance.
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	m.syncCh = ch
	delete(g.pendingSync, m.id)
	if g.leader != m.id {
		g.mu.Unlock()
		return nil, ch
	}
	assignments := make(map[string][]byte, len(req.GroupAssignment))
	for _, a := range req.GroupAssignment {
		// Copy: the request aliases the connection's read buffer, which
		// the next request on that connection overwrites.
		assignments[a.MemberID] = append([]byte{}, a.MemberAssignment...)
	}
	for id, om := range g.members {
		om.assignment = assignments[id] // missing members get an empty one
		if om.assignment == nil {
			om.assignment = []byte{}
		}
	}
	gen := g.generation
	rec := g.recordWithStateLocked(stateStable)
	g.mu.Unlock()

	err := g.flush(ctx, rec)

	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != stateCompletingRebalance || g.generation != gen || g.dead {
		return nil, ch // a newer rebalance already answered (or will answer) ch
	}
	if err != nil {
		g.resetAndPropagateAssignmentErrorLocked(storeErrorCode(err))
		g.maybePrepareRebalanceLocked()
		return nil, ch
	}
	for _, om := range g.members {
		if om.syncCh != nil {
			c := om.syncCh
			om.syncCh = nil
			c <- g.syncResponseLocked(om)
		}
	}
	g.transitionLocked(stateStable)
	return nil, ch
}

// recordWithStateLocked is recordLocked for the state the group is about
// to enter (the stored state timestamp is now either way).
func (g *group) recordWithStateLocked(s classicState) pendingRecord {
	old := g.state
	g.state = s
	rec := g.recordLocked()
	g.state = old
	return rec
}

func (g *group) syncResponseLocked(m *member) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.ProtocolType = stringPtr(g.protocolType)
	resp.Protocol = stringPtr(g.protocol)
	resp.MemberAssignment = m.assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp
}

// Heartbeat serves a classic Heartbeat request.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = c.heartbeat(req)
	return resp
}

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if code := c.groupCode(req.Group); code != 0 {
		return code
	}
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	g, code := c.find(req.Group, false)
	if code != 0 {
		return code
	}
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.dead:
		return g.goneCode(kerr.CoordinatorNotAvailable.Code)
	case g.kind == kindConsumer:
		return kerr.UnknownMemberID.Code
	}
	m, code := g.validateMemberLocked(req.MemberID, req.InstanceID)
	if code != 0 {
		return code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	switch g.state {
	case stateEmpty:
		return kerr.UnknownMemberID.Code
	case statePreparingRebalance:
		g.scheduleHeartbeatLocked(m, m.sessionTimeout)
		return kerr.RebalanceInProgress.Code
	default:
		g.scheduleHeartbeatLocked(m, m.sessionTimeout)
		return 0
	}
}

// LeaveGroup serves a LeaveGroup request (v0-v2: one member by id; v3+:
// a batch, by member id or, from the admin client, by instance id).
func (c *Coordinator) LeaveGroup(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	top, codes := c.leaveGroup(req.Group, leaving)
	if req.Version < 3 {
		resp.ErrorCode = top
		if top == 0 && len(codes) == 1 {
			resp.ErrorCode = codes[0]
		}
		return resp
	}
	resp.ErrorCode = top
	if top == 0 {
		for i, l := range leaving {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID = l.MemberID
			rm.InstanceID = l.InstanceID
			rm.ErrorCode = codes[i]
			resp.Members = append(resp.Members, rm)
		}
	}
	return resp
}

func (c *Coordinator) leaveGroup(groupID string, leaving []kmsg.LeaveGroupRequestMember) (int16, []int16) {
	if code := c.groupCode(groupID); code != 0 {
		return code, nil
	}
	if groupID == "" {
		return kerr.InvalidGroupID.Code, nil
	}
	codes := make([]int16, len(leaving))
	g, code := c.find(groupID, false)
	if code != 0 {
		return code, nil
	}
	if g == nil {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return 0, codes
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.dead {
		return g.goneCode(kerr.CoordinatorNotAvailable.Code), nil
	}
	if g.kind == kindConsumer {
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
		return 0, codes
	}
	for i, l := range leaving {
		id := l.MemberID
		if t, ok := g.pending[id]; ok && id != "" {
			t.Stop()
			delete(g.pending, id)
			if g.state == statePreparingRebalance {
				g.tryCompleteJoinLocked()
			}
			continue
		}
		var m *member
		if id == "" {
			// The admin client removes static members by instance id.
			if l.InstanceID != nil {
				m = g.members[g.static[*l.InstanceID]]
			}
			if m == nil {
				codes[i] = kerr.UnknownMemberID.Code
				continue
			}
			id = m.id
		} else {
			var code int16
			if m, code = g.validateMemberLocked(id, l.InstanceID); code != 0 {
				codes[i] = code
				continue
			}
		}
		g.c.log.Debug().Str("group", g.id).Str("member", id).Msg("member left")
		g.removeMemberAndUpdateGroupLocked(m)
	}
	return 0, codes
}
