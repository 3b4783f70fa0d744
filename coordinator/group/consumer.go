package group

// KIP-848 consumer groups: ConsumerGroupHeartbeat and ConsumerGroupDescribe,
// after Kafka's GroupMetadataManager and CurrentAssignmentBuilder. The
// coordinator computes a target assignment per group epoch with a
// server-side assignor; each member converges to its target through its
// own heartbeats: partitions it must give up are revoked first (the member
// keeps its epoch until it reports them released), and partitions still
// owned by another member are handed over only once released.

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type memberState int8

const (
	mStable memberState = iota
	mUnrevoked
	mUnreleased
)

type consumerGroup struct {
	g               *group
	epoch           int32 // group epoch
	assignmentEpoch int32 // epoch of target
	members         map[string]*cgMember
	static          map[string]string // instance id -> member id
	target          assignment
	owners          map[tp]string // partition -> member that holds it (assigned or revoking)
	metaSig         string        // signature of the subscribed topics' metadata
	assignor        string        // assignor of the current target
	names           map[string][16]byte
}

type cgMember struct {
	id               string
	instanceID       *string
	rackID           *string
	clientID         string
	clientHost       string
	topics           []string
	regex            string
	re               *regexp.Regexp
	assignor         string
	rebalanceTimeout time.Duration
	epoch, prevEpoch int32
	state            memberState
	assigned         map[[16]byte][]int32
	revoking         map[[16]byte][]int32
	leftStatic       bool
	lastSent         string

	sessTimer, revokeTimer Timer
	sessSeq, revokeSeq     uint64
}

func newConsumerGroup(g *group) *consumerGroup {
	return &consumerGroup{
		g:       g,
		members: make(map[string]*cgMember),
		static:  make(map[string]string),
		target:  make(assignment),
		owners:  make(map[tp]string),
		names:   make(map[string][16]byte),
	}
}

func (cg *consumerGroup) stateName() string {
	switch {
	case len(cg.members) == 0:
		return "Empty"
	case cg.epoch > cg.assignmentEpoch:
		return "Assigning"
	}
	for _, m := range cg.members {
		if m.epoch != cg.assignmentEpoch || m.state != mStable {
			return "Reconciling"
		}
	}
	return "Stable"
}

func (cg *consumerGroup) stopTimers() {
	for _, m := range cg.members {
		if m.sessTimer != nil {
			m.sessTimer.Stop()
		}
		if m.revokeTimer != nil {
			m.revokeTimer.Stop()
		}
		m.sessSeq++
		m.revokeSeq++
	}
}

func encodeParts(m map[[16]byte][]int32) []topicParts {
	out := make([]topicParts, 0, len(m))
	for t, ps := range m {
		if len(ps) == 0 {
			continue
		}
		out = append(out, topicParts{TopicID: append([]byte(nil), t[:]...), Partitions: ps})
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].TopicID) < string(out[j].TopicID) })
	return out
}

func decodeParts(tps []topicParts) map[[16]byte][]int32 {
	out := make(map[[16]byte][]int32, len(tps))
	for _, x := range tps {
		var id [16]byte
		copy(id[:], x.TopicID)
		out[id] = x.Partitions
	}
	return out
}

func (cg *consumerGroup) toRecord(rec *groupRecord) {
	rec.GroupEpoch = cg.epoch
	rec.AssignmentEpoch = cg.assignmentEpoch
	rec.Protocol = cg.assignor
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := cg.members[id]
		rec.Members = append(rec.Members, memberRecord{
			ID: m.id, InstanceID: m.instanceID, RackID: m.rackID,
			ClientID: m.clientID, ClientHost: m.clientHost,
			RebalanceTimeoutMs: int32(m.rebalanceTimeout / time.Millisecond),
			SubscribedTopics:   m.topics, SubscribedRegex: m.regex, Assignor: m.assignor,
			Epoch: m.epoch, PrevEpoch: m.prevEpoch,
			Assigned: encodeParts(m.assigned), Revoking: encodeParts(m.revoking),
			Target: encodeParts(cg.target[id]),
		})
	}
}

func (cg *consumerGroup) fromRecord(rec *groupRecord) {
	cg.epoch = rec.GroupEpoch
	cg.assignmentEpoch = rec.AssignmentEpoch
	cg.assignor = rec.Protocol
	for _, mr := range rec.Members {
		m := &cgMember{
			id: mr.ID, instanceID: mr.InstanceID, rackID: mr.RackID,
			clientID: mr.ClientID, clientHost: mr.ClientHost,
			rebalanceTimeout: time.Duration(mr.RebalanceTimeoutMs) * time.Millisecond,
			topics:           mr.SubscribedTopics, regex: mr.SubscribedRegex, assignor: mr.Assignor,
			epoch: mr.Epoch, prevEpoch: mr.PrevEpoch,
			assigned: decodeParts(mr.Assigned), revoking: decodeParts(mr.Revoking),
		}
		if m.regex != "" {
			m.re, _ = regexp.Compile("^(?:" + m.regex + ")$")
		}
		if len(m.revoking) > 0 {
			m.state = mUnrevoked
		}
		cg.members[m.id] = m
		cg.target[m.id] = decodeParts(mr.Target)
		if m.instanceID != nil {
			cg.static[*m.instanceID] = m.id
		}
	}
}

func (cg *consumerGroup) afterLoad() {
	for _, m := range cg.members {
		cg.own(m)
		cg.scheduleSession(m)
	}
}

func (cg *consumerGroup) own(m *cgMember) {
	for t, ps := range m.assigned {
		for _, p := range ps {
			cg.owners[tp{t, p}] = m.id
		}
	}
	for t, ps := range m.revoking {
		for _, p := range ps {
			cg.owners[tp{t, p}] = m.id
		}
	}
}

func (cg *consumerGroup) release(m *cgMember, parts map[[16]byte][]int32) {
	for t, ps := range parts {
		for _, p := range ps {
			if cg.owners[tp{t, p}] == m.id {
				delete(cg.owners, tp{t, p})
			}
		}
	}
}

func (cg *consumerGroup) subscribedTopicNames() map[string]bool {
	out := make(map[string]bool)
	for _, m := range cg.members {
		for _, t := range m.topics {
			out[t] = true
		}
		if m.re != nil {
			for name := range cg.names {
				if m.re.MatchString(name) {
					out[name] = true
				}
			}
		}
	}
	return out
}

// resolve maps a member's subscription to topic ids present in topics.
func (m *cgMember) resolve(topics map[string]TopicMeta) [][16]byte {
	var out [][16]byte
	seen := make(map[[16]byte]bool)
	add := func(name string) {
		tm, ok := topics[name]
		if !ok || seen[tm.ID] {
			return
		}
		seen[tm.ID] = true
		out = append(out, tm.ID)
	}
	for _, t := range m.topics {
		add(t)
	}
	if m.re != nil {
		// Every topic, internal ones too, as Kafka resolves a regex
		// (RE2, whole name: GroupMetadataManager.refreshRegularExpressions).
		for name := range topics {
			if m.re.MatchString(name) {
				add(name)
			}
		}
	}
	return out
}

// metaSignature summarises the metadata of every subscribed topic; a
// change (new topic matching, partitions added, topic re-created) bumps
// the group epoch.
func (cg *consumerGroup) metaSignature(topics map[string]TopicMeta) string {
	set := make(map[[16]byte]int32)
	for _, m := range cg.members {
		for _, id := range m.resolve(topics) {
			set[id] = 0
		}
	}
	for _, tm := range topics {
		if _, ok := set[tm.ID]; ok {
			set[tm.ID] = tm.Partitions
		}
	}
	keys := sortedTopics(set)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%x:%d;", k, set[k])
	}
	return b.String()
}

func (cg *consumerGroup) chooseAssignor() string {
	defaultName := cg.g.c.cfg.ConsumerAssignors[0]
	votes := make(map[string]int)
	for _, m := range cg.members {
		if m.assignor != "" {
			votes[m.assignor]++
		}
	}
	best, n := defaultName, 0
	for _, name := range cg.g.c.cfg.ConsumerAssignors {
		if votes[name] > n {
			best, n = name, votes[name]
		}
	}
	return best
}

func (cg *consumerGroup) computeTarget(topics map[string]TopicMeta) {
	spec := &assignSpec{
		subscribed: make(map[string][][16]byte),
		partitions: make(map[[16]byte]int32),
		current:    cg.target,
	}
	for id, m := range cg.members {
		spec.members = append(spec.members, id)
		spec.subscribed[id] = m.resolve(topics)
	}
	sort.Strings(spec.members)
	for _, tm := range topics {
		spec.partitions[tm.ID] = tm.Partitions
	}
	cg.assignor = cg.chooseAssignor()
	cg.target = runAssignor(cg.assignor, spec)
	cg.assignmentEpoch = cg.epoch
}

// reconcile moves m towards its target (CurrentAssignmentBuilder). owned
// is what the member reported (nil: unchanged since the last request).
func (cg *consumerGroup) reconcile(m *cgMember, owned map[[16]byte][]int32) {
	if m.state == mUnrevoked {
		if owned == nil || overlaps(owned, m.revoking) {
			return // still waiting for the member to let go
		}
		cg.release(m, m.revoking)
		m.revoking = nil
		m.state = mStable
		m.revokeSeq++
		if m.revokeTimer != nil {
			m.revokeTimer.Stop()
		}
	}
	target := cg.target[m.id]
	if m.epoch == cg.assignmentEpoch && m.state == mStable {
		return
	}
	keep := make(map[[16]byte][]int32)
	revoke := make(map[[16]byte][]int32)
	for t, ps := range m.assigned {
		for _, p := range ps {
			if containsPart(target[t], p) {
				keep[t] = append(keep[t], p)
			} else {
				revoke[t] = append(revoke[t], p)
			}
		}
	}
	if len(revoke) > 0 {
		m.assigned = keep
		m.revoking = revoke
		m.state = mUnrevoked
		m.revokeSeq++
		seq := m.revokeSeq
		g := cg.g
		d := m.rebalanceTimeout
		if d <= 0 {
			d = g.c.consumerSessionTimeout(g.id)
		}
		m.revokeTimer = g.c.afterFunc(d, func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.cg != cg || cg.members[m.id] != m || m.revokeSeq != seq || m.state != mUnrevoked {
				return
			}
			g.c.log.Info().Str("group", g.id).Str("member", m.id).Msg("member did not revoke partitions within its rebalance timeout; fenced")
			cg.removeMember(m)
			g.asyncFlushLocked(g.recordLocked())
		})
		return
	}
	unreleased := false
	for t, ps := range target {
		for _, p := range ps {
			if containsPart(m.assigned[t], p) {
				continue
			}
			if o := cg.owners[tp{t, p}]; o != "" && o != m.id {
				unreleased = true
				continue
			}
			if m.assigned == nil {
				m.assigned = make(map[[16]byte][]int32)
			}
			m.assigned[t] = append(m.assigned[t], p)
			cg.owners[tp{t, p}] = m.id
		}
	}
	for t := range m.assigned {
		sort.Slice(m.assigned[t], func(i, j int) bool { return m.assigned[t][i] < m.assigned[t][j] })
	}
	if m.epoch != cg.assignmentEpoch {
		m.prevEpoch = m.epoch
		m.epoch = cg.assignmentEpoch
	}
	if unreleased {
		m.state = mUnreleased
	} else {
		m.state = mStable
	}
}

func containsPart(ps []int32, p int32) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func overlaps(a, b map[[16]byte][]int32) bool {
	for t, ps := range b {
		for _, p := range ps {
			if containsPart(a[t], p) {
				return true
			}
		}
	}
	return false
}

func subset(a, b map[[16]byte][]int32) bool {
	for t, ps := range a {
		for _, p := range ps {
			if !containsPart(b[t], p) {
				return false
			}
		}
	}
	return true
}

func partsSig(m map[[16]byte][]int32) string {
	keys := make([][16]byte, 0, len(m))
	for t, ps := range m {
		if len(ps) > 0 {
			keys = append(keys, t)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return string(keys[i][:]) < string(keys[j][:]) })
	var b strings.Builder
	for _, k := range keys {
		ps := append([]int32(nil), m[k]...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		fmt.Fprintf(&b, "%x:%v;", k, ps)
	}
	return b.String()
}

func (cg *consumerGroup) removeMember(m *cgMember) {
	cg.release(m, m.assigned)
	cg.release(m, m.revoking)
	if m.sessTimer != nil {
		m.sessTimer.Stop()
	}
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
	}
	m.sessSeq++
	m.revokeSeq++
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	if m.instanceID != nil && cg.static[*m.instanceID] == m.id {
		delete(cg.static, *m.instanceID)
	}
	cg.epoch++
	if len(cg.members) == 0 {
		cg.g.transitionLocked(stateEmpty)
	}
	// The next heartbeat of any member recomputes the target.
}

func (cg *consumerGroup) scheduleSession(m *cgMember) {
	if m.sessTimer != nil {
		m.sessTimer.Stop()
	}
	m.sessSeq++
	seq := m.sessSeq
	g := cg.g
	m.sessTimer = g.c.afterFunc(g.c.consumerSessionTimeout(g.id), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.cg != cg || cg.members[m.id] != m || m.sessSeq != seq {
			return
		}
		g.c.log.Info().Str("group", g.id).Str("member", m.id).Msg("consumer group member session expired")
		cg.removeMember(m)
		g.asyncFlushLocked(g.recordLocked())
	})
}

func cghbError(code int16, msg string) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := kmsg.NewPtrConsumerGroupHeartbeatResponse()
	resp.ErrorCode = code
	if msg != "" {
		resp.ErrorMessage = stringPtr(msg)
	}
	return resp
}

// ConsumerGroupHeartbeat serves a KIP-848 heartbeat.
func (c *Coordinator) ConsumerGroupHeartbeat(ctx context.Context, req *kmsg.ConsumerGroupHeartbeatRequest, clientID, clientHost string) *kmsg.ConsumerGroupHeartbeatResponse {
	resp, rec, g := c.consumerGroupHeartbeat(req, clientID, clientHost)
	if rec.seq != 0 && g != nil {
		if err := g.flush(ctx, rec); err != nil && resp.ErrorCode == 0 {
			resp = cghbError(storeErrorCode(err), "cannot store the group: "+err.Error())
		}
	}
	resp.Version = req.Version
	return resp
}

func (c *Coordinator) consumerGroupHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, clientID, clientHost string) (*kmsg.ConsumerGroupHeartbeatResponse, pendingRecord, *group) {
	none := pendingRecord{}
	if code := c.groupCode(req.Group); code != 0 {
		return cghbError(code, ""), none, nil
	}
	invalid := func(msg string) (*kmsg.ConsumerGroupHeartbeatResponse, pendingRecord, *group) {
		return cghbError(kerr.InvalidRequest.Code, msg), none, nil
	}
	switch {
	case req.Group == "":
		return invalid("GroupId can't be empty.")
	case req.InstanceID != nil && *req.InstanceID == "":
		return invalid("InstanceId can't be empty.")
	case req.RackID != nil && *req.RackID == "":
		return invalid("RackId can't be empty.")
	case req.Version >= 1 && req.MemberID == "":
		return invalid("MemberId can't be empty.")
	}
	switch {
	case req.MemberEpoch > 0 || req.MemberEpoch == -1:
		if req.MemberID == "" {
			return invalid("MemberId can't be empty.")
		}
	case req.MemberEpoch == 0:
		if req.RebalanceTimeoutMillis == -1 {
			return invalid("RebalanceTimeoutMs must be provided in first request.")
		}
		if len(req.Topics) > 0 {
			return invalid("TopicPartitions must be empty when (re-)joining.")
		}
		if req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil {
			return invalid("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
		}
	case req.MemberEpoch == -2:
		if req.InstanceID == nil {
			return invalid("InstanceId can't be null.")
		}
	default:
		return invalid(fmt.Sprintf("MemberEpoch is invalid: %d.", req.MemberEpoch))
	}
	if req.ServerAssignor != nil && !contains(c.cfg.ConsumerAssignors, *req.ServerAssignor) {
		return cghbError(kerr.UnsupportedAssignor.Code, fmt.Sprintf("ServerAssignor %s is not supported. Supported assignors: %s.",
			*req.ServerAssignor, strings.Join(c.cfg.ConsumerAssignors, ", "))), none, nil
	}
	var re *regexp.Regexp
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		var err error
		re, err = regexp.Compile("^(?:" + *req.SubscribedTopicRegex + ")$")
		if err != nil {
			return cghbError(kerr.InvalidRegularExpression.Code, fmt.Sprintf("SubscribedTopicRegex %s is not a valid regular expression: %v.", *req.SubscribedTopicRegex, err)), none, nil
		}
	}
	topics := c.cfg.Topics() // a callback: never under a lock

	for {
		g, code := c.find(req.Group, req.MemberEpoch == 0)
		if code != 0 {
			return cghbError(code, ""), none, nil
		}
		if g == nil {
			return cghbError(kerr.GroupIDNotFound.Code, fmt.Sprintf("Group %s not found.", req.Group)), none, nil
		}
		g.mu.Lock()
		if g.dead {
			g.mu.Unlock()
			continue
		}
		if g.kind == kindClassic {
			if !g.isEmptyLocked() || g.state != stateEmpty {
				g.mu.Unlock()
				return cghbError(kerr.GroupIDNotFound.Code, fmt.Sprintf("Group %s is not a consumer group.", req.Group)), none, nil
			}
			if req.MemberEpoch != 0 {
				g.mu.Unlock()
				return cghbError(kerr.UnknownMemberID.Code, ""), none, nil
			}
			// An empty classic group (offsets only) becomes a consumer group.
			g.kind = kindConsumer
			g.cg = newConsumerGroup(g)
			g.protocolType, g.protocol, g.leader = "", "", ""
		}
		resp, changed := g.cg.heartbeat(req, re, topics, clientID, clientHost)
		var rec pendingRecord
		if changed {
			rec = g.recordLocked()
		}
		g.mu.Unlock()
		return resp, rec, g
	}
}

// heartbeat runs under g.mu; changed reports whether the stored record
// must be rewritten.
func (cg *consumerGroup) heartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, re *regexp.Regexp, topics map[string]TopicMeta, clientID, clientHost string) (*kmsg.ConsumerGroupHeartbeatResponse, bool) {
	g := cg.g
	for name, tm := range topics {
		cg.names[name] = tm.ID
	}
	for name := range cg.names {
		if _, ok := topics[name]; !ok {
			delete(cg.names, name)
		}
	}
	var owned map[[16]byte][]int32
	if req.Topics != nil {
		owned = make(map[[16]byte][]int32, len(req.Topics))
		for _, t := range req.Topics {
			owned[t.TopicID] = t.Partitions
		}
	}
	oldEpochs := fmt.Sprint(cg.epoch, cg.assignmentEpoch)
	bump := false // one group epoch bump per heartbeat, whatever changed

	// Leaving.
	if req.MemberEpoch < 0 {
		m := cg.members[req.MemberID]
		if req.InstanceID != nil {
			id, ok := cg.static[*req.InstanceID]
			if !ok {
				return cghbError(kerr.UnknownMemberID.Code, ""), false
			}
			if id != req.MemberID {
				return cghbError(kerr.FencedInstanceID.Code, fmt.Sprintf("Static member %s with instance id %s was fenced by member %s.", req.MemberID, *req.InstanceID, id)), false
			}
		}
		if m == nil {
			return cghbError(kerr.UnknownMemberID.Code, fmt.Sprintf("Member %s is not a member of group %s.", req.MemberID, g.id)), false
		}
		resp := kmsg.NewPtrConsumerGroupHeartbeatResponse()
		resp.MemberID = stringPtr(m.id)
		resp.MemberEpoch = req.MemberEpoch
		if req.MemberEpoch == -2 {
			// A static member leaving temporarily keeps its assignment
			// until its session expires or its instance comes back.
			m.leftStatic = true
			cg.scheduleSession(m)
			return resp, true
		}
		cg.removeMember(m)
		cg.maybeRecompute(topics, bump)
		return resp, true
	}

	var m *cgMember
	if req.MemberEpoch == 0 {
		memberID := req.MemberID
		if memberID == "" {
			memberID = newUUID()
		}
		if req.InstanceID != nil {
			if oldID, ok := cg.static[*req.InstanceID]; ok && oldID != memberID {
				old := cg.members[oldID]
				if old != nil && !old.leftStatic {
					return cghbError(kerr.UnreleasedInstanceID.Code, fmt.Sprintf("Static member %s with instance id %s cannot join the group because the instance id is owned by member %s.", memberID, *req.InstanceID, oldID)), false
				}
				if old != nil {
					// The instance comes back under a new member id: it
					// takes over the old member's assignment and epoch.
					cg.release(old, old.assigned)
					cg.release(old, old.revoking)
					old.sessSeq++
					old.revokeSeq++
					if old.sessTimer != nil {
						old.sessTimer.Stop()
					}
					delete(cg.members, oldID)
					m = old
					m.id = memberID
					m.leftStatic = false
					m.lastSent = ""
					cg.members[memberID] = m
					cg.target[memberID] = cg.target[oldID]
					delete(cg.target, oldID)
					cg.static[*req.InstanceID] = memberID
					cg.own(m)
				}
			}
		}
		if m == nil {
			if old := cg.members[memberID]; old != nil {
				// A known member rejoining (after being fenced): it
				// owns nothing now.
				cg.release(old, old.assigned)
				cg.release(old, old.revoking)
				old.assigned, old.revoking = nil, nil
				old.epoch, old.prevEpoch, old.state = 0, 0, mStable
				old.lastSent = ""
				m = old
			} else {
				m = &cgMember{id: memberID, instanceID: req.InstanceID}
				cg.members[memberID] = m
				if req.InstanceID != nil {
					cg.static[*req.InstanceID] = memberID
				}
				bump = true
				g.transitionLocked(stateStable)
			}
		}
	} else {
		m = cg.members[req.MemberID]
		if req.InstanceID != nil {
			if id, ok := cg.static[*req.InstanceID]; !ok {
				return cghbError(kerr.UnknownMemberID.Code, ""), false
			} else if id != req.MemberID {
				return cghbError(kerr.FencedInstanceID.Code, ""), false
			}
		}
		if m == nil {
			return cghbError(kerr.UnknownMemberID.Code, fmt.Sprintf("Member %s is not a member of group %s.", req.MemberID, g.id)), false
		}
		if req.MemberEpoch != m.epoch {
			ok := req.MemberEpoch == m.prevEpoch && req.MemberEpoch < m.epoch &&
				(owned == nil || subset(owned, mergeParts(m.assigned, m.revoking)))
			if !ok {
				return cghbError(kerr.FencedMemberEpoch.Code, fmt.Sprintf("The consumer group member has a member epoch (%d) different from the one known by the coordinator (%d).", req.MemberEpoch, m.epoch)), false
			}
		}
	}

	// Update the member from the request (nil fields: unchanged).
	m.clientID, m.clientHost = clientID, clientHost
	m.leftStatic = false
	if req.RebalanceTimeoutMillis > 0 {
		m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.assignor {
		m.assignor = *req.ServerAssignor
		bump = true
	}
	if req.SubscribedTopicNames != nil {
		names := append([]string(nil), req.SubscribedTopicNames...)
		sort.Strings(names)
		if strings.Join(names, "\x00") != strings.Join(m.topics, "\x00") || (req.SubscribedTopicRegex == nil && m.regex != "") {
			m.topics = names
			if req.SubscribedTopicRegex == nil {
				m.regex, m.re = "", nil
			}
			bump = true
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regex {
		m.regex, m.re = *req.SubscribedTopicRegex, re
		if req.SubscribedTopicNames == nil {
			m.topics = nil
		}
		bump = true
	}
	cg.scheduleSession(m)
	cg.maybeRecompute(topics, bump)
	before := partsSig(m.assigned) + fmt.Sprint(m.epoch, m.state)
	cg.reconcile(m, owned)
	after := partsSig(m.assigned) + fmt.Sprint(m.epoch, m.state)

	resp := kmsg.NewPtrConsumerGroupHeartbeatResponse()
	resp.MemberID = stringPtr(m.id)
	resp.MemberEpoch = m.epoch
	resp.HeartbeatIntervalMillis = int32(g.c.consumerHeartbeatInterval(g.id) / time.Millisecond)
	sig := partsSig(m.assigned)
	// Kafka sends the assignment on a full request (joining, or a member
	// recovering from an error: rebalance timeout, subscription and owned
	// partitions all set) and whenever it changed.
	full := req.MemberEpoch == 0 || (req.RebalanceTimeoutMillis != -1 &&
		(req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.Topics != nil)
	if full || sig != m.lastSent || (owned != nil && partsSig(owned) != sig) {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		keys := make([][16]byte, 0, len(m.assigned))
		for t, ps := range m.assigned {
			if len(ps) > 0 {
				keys = append(keys, t)
			}
		}
		sort.Slice(keys, func(i, j int) bool { return string(keys[i][:]) < string(keys[j][:]) })
		for _, t := range keys {
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID = t
			at.Partitions = append([]int32(nil), m.assigned[t]...)
			a.Topics = append(a.Topics, at)
		}
		resp.Assignment = &a
		m.lastSent = sig
	}
	changed := before != after || oldEpochs != fmt.Sprint(cg.epoch, cg.assignmentEpoch) || req.MemberEpoch == 0
	return resp, changed
}

func mergeParts(a, b map[[16]byte][]int32) map[[16]byte][]int32 {
	out := make(map[[16]byte][]int32, len(a)+len(b))
	for t, ps := range a {
		out[t] = append(out[t], ps...)
	}
	for t, ps := range b {
		out[t] = append(out[t], ps...)
	}
	return out
}

// maybeRecompute bumps the group epoch when the subscribed metadata
// changed and recomputes the target when it is behind the group epoch.
func (cg *consumerGroup) maybeRecompute(topics map[string]TopicMeta, bump bool) {
	if sig := cg.metaSignature(topics); sig != cg.metaSig {
		cg.metaSig = sig
		bump = bump || len(cg.members) > 0
	}
	if bump {
		cg.epoch++
	}
	if cg.epoch > cg.assignmentEpoch {
		cg.computeTarget(topics)
	}
}

// validateCommit checks an OffsetCommit against a consumer group. A
// commit from an older epoch is accepted when every committed partition
// is still the member's (KIP-1251), so a member committing while its
// assignment moves on is not refused.
func (cg *consumerGroup) validateCommit(a CommitArgs, commits []Commit) int16 {
	if a.Generation < 0 && a.MemberID == "" && len(cg.members) == 0 {
		return 0
	}
	m := cg.members[a.MemberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	if a.Version < 9 {
		// Kafka: a member of the consumer protocol commits with
		// OffsetCommit v9 or later (ConsumerGroup.validateOffsetCommit).
		return kerr.UnsupportedVersion.Code
	}
	if a.Generation == m.epoch {
		return 0
	}
	if a.Generation > m.epoch || a.Generation < 0 {
		return kerr.StaleMemberEpoch.Code
	}
	held := mergeParts(m.assigned, m.revoking)
	for _, cm := range commits {
		id, ok := cg.names[cm.Topic]
		if !ok || !containsPart(held[id], cm.Partition) {
			return kerr.StaleMemberEpoch.Code
		}
	}
	return 0
}

func (cg *consumerGroup) validateFetch(memberID string, epoch int32) int16 {
	m := cg.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	if epoch != m.epoch && epoch != m.prevEpoch {
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// ConsumerGroupDescribe describes KIP-848 groups.
func (c *Coordinator) ConsumerGroupDescribe(ids []string) []kmsg.ConsumerGroupDescribeResponseGroup {
	topics := c.cfg.Topics()
	byID := make(map[[16]byte]string, len(topics))
	for name, tm := range topics {
		byID[tm.ID] = name
	}
	toAssignment := func(m map[[16]byte][]int32) kmsg.Assignment {
		a := kmsg.NewAssignment()
		keys := make([][16]byte, 0, len(m))
		for t, ps := range m {
			if len(ps) > 0 {
				keys = append(keys, t)
			}
		}
		sort.Slice(keys, func(i, j int) bool { return byID[keys[i]] < byID[keys[j]] })
		for _, t := range keys {
			tp := kmsg.NewAssignmentTopicPartition()
			tp.TopicID = t
			tp.Topic = byID[t]
			tp.Partitions = append([]int32(nil), m[t]...)
			a.TopicPartitions = append(a.TopicPartitions, tp)
		}
		return a
	}
	out := make([]kmsg.ConsumerGroupDescribeResponseGroup, 0, len(ids))
	for _, id := range ids {
		dg := kmsg.NewConsumerGroupDescribeResponseGroup()
		dg.Group = id
		dg.AuthorizedOperations = -2147483648
		g, code := c.find(id, false)
		if code != 0 {
			dg.ErrorCode = code
			out = append(out, dg)
			continue
		}
		if g == nil {
			dg.ErrorCode = kerr.GroupIDNotFound.Code
			dg.ErrorMessage = stringPtr(fmt.Sprintf("Group %s not found.", id))
			out = append(out, dg)
			continue
		}
		g.mu.Lock()
		if g.unloaded {
			dg.ErrorCode = kerr.NotCoordinator.Code
			g.mu.Unlock()
			out = append(out, dg)
			continue
		}
		if g.dead || g.kind != kindConsumer {
			dg.ErrorCode = kerr.GroupIDNotFound.Code
			dg.ErrorMessage = stringPtr(fmt.Sprintf("Group %s is not a consumer group.", id))
			g.mu.Unlock()
			out = append(out, dg)
			continue
		}
		cg := g.cg
		dg.State = cg.stateName()
		dg.Epoch = cg.epoch
		dg.AssignmentEpoch = cg.assignmentEpoch
		dg.AssignorName = cg.assignor
		if dg.AssignorName == "" {
			dg.AssignorName = c.cfg.ConsumerAssignors[0]
		}
		mids := make([]string, 0, len(cg.members))
		for mid := range cg.members {
			mids = append(mids, mid)
		}
		sort.Strings(mids)
		for _, mid := range mids {
			m := cg.members[mid]
			dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			dm.MemberID = m.id
			dm.InstanceID = m.instanceID
			dm.RackID = m.rackID
			dm.MemberEpoch = m.epoch
			dm.ClientID = m.clientID
			dm.ClientHost = m.clientHost
			dm.SubscribedTopics = append([]string{}, m.topics...)
			dm.SubscribedTopicRegex = stringPtr(m.regex) // "" without one, as Kafka
			dm.Assignment = toAssignment(m.assigned)
			dm.TargetAssignment = toAssignment(cg.target[mid])
			dm.MemberType = 1 // consumer protocol
			dg.Members = append(dg.Members, dm)
		}
		g.mu.Unlock()
		out = append(out, dg)
	}
	return out
}
