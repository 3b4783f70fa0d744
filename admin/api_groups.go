package admin

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

type groupJSON struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocolType"`
	Type         string `json:"type"`
	Coordinator  int32  `json:"coordinator"`
	Members      int    `json:"members"`
	Lag          int64  `json:"lag"`
	Topics       int    `json:"topics"`
}

func (s *Server) apiGroups(a *attached, w http.ResponseWriter, r *http.Request) {
	ctx, cancel := apiCtx(r)
	defer cancel()
	listed, err := a.adm.ListGroups(ctx)
	if err != nil {
		kafkaError(w, err, "list groups")
		return
	}
	out := []groupJSON{}
	if len(listed) == 0 {
		writeJSON(w, http.StatusOK, out)
		return
	}
	lags, err := a.adm.Lag(ctx, listed.Groups()...)
	if err != nil {
		kafkaError(w, err, "group lag")
		return
	}
	for _, lg := range listed.Sorted() {
		g := groupJSON{Group: lg.Group, State: lg.State, ProtocolType: lg.ProtocolType, Type: lg.GroupType,
			Coordinator: lg.Coordinator}
		if l, ok := lags[lg.Group]; ok {
			if l.State != "" {
				g.State = l.State
			}
			g.Members = len(l.Members)
			g.Topics = len(l.Lag)
			g.Lag = l.Lag.Total()
		}
		out = append(out, g)
	}
	writeJSON(w, http.StatusOK, out)
}

type memberJSON struct {
	MemberID   string             `json:"memberId"`
	InstanceID *string            `json:"instanceId"`
	ClientID   string             `json:"clientId"`
	ClientHost string             `json:"clientHost"`
	Assigned   map[string][]int32 `json:"assigned"`
	Subscribed []string           `json:"subscribed"`
}

type offsetJSON struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"` // -1: nothing committed
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"` // -1: unknown
	MemberID  string `json:"memberId,omitempty"`
	ClientID  string `json:"clientId,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (s *Server) apiGroup(a *attached, w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("group")
	ctx, cancel := apiCtx(r)
	defer cancel()
	lags, err := a.adm.Lag(ctx, name)
	if err != nil {
		kafkaError(w, err, "group lag")
		return
	}
	l, ok := lags[name]
	if !ok || l.State == "Dead" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("GROUP_ID_NOT_FOUND: group %s does not exist", name))
		return
	}
	if err := l.Error(); err != nil {
		kafkaError(w, err, "describe group")
		return
	}
	out := struct {
		Group       string       `json:"group"`
		State       string       `json:"state"`
		Protocol    string       `json:"protocol"`
		Type        string       `json:"protocolType"`
		Coordinator int32        `json:"coordinator"`
		Members     []memberJSON `json:"members"`
		Offsets     []offsetJSON `json:"offsets"`
		Lag         int64        `json:"lag"`
		LagHistory  []LagSample  `json:"lagHistory"`
	}{Group: name, State: l.State, Protocol: l.Protocol, Type: l.ProtocolType, Coordinator: l.Coordinator.NodeID,
		Members: []memberJSON{}, Offsets: []offsetJSON{}, Lag: l.Lag.Total(), LagHistory: a.h.groupLag(name)}
	if out.LagHistory == nil {
		out.LagHistory = []LagSample{}
	}
	for _, m := range l.Members {
		mj := memberJSON{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost,
			Assigned: map[string][]int32{}, Subscribed: []string{}}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				mj.Assigned[t.Topic] = append(mj.Assigned[t.Topic], t.Partitions...)
			}
		}
		if c, ok := m.Join.AsConsumer(); ok {
			mj.Subscribed = append(mj.Subscribed, c.Topics...)
		}
		out.Members = append(out.Members, mj)
	}
	for _, ml := range l.Lag.Sorted() {
		oj := offsetJSON{Topic: ml.Topic, Partition: ml.Partition, Committed: ml.Commit.At, End: ml.End.Offset, Lag: ml.Lag}
		if ml.Member != nil {
			oj.MemberID, oj.ClientID = ml.Member.MemberID, ml.Member.ClientID
		}
		if ml.Err != nil {
			oj.Error = ml.Err.Error()
		}
		out.Offsets = append(out.Offsets, oj)
	}
	writeJSON(w, http.StatusOK, out)
}

// apiResetGroup commits new offsets for a group without members (Kafka
// refuses to move the offsets of an active group, and so does this).
func (s *Server) apiResetGroup(a *attached, w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("group")
	var req struct {
		Topic      string  `json:"topic"`
		Partitions []int32 `json:"partitions"` // none: all
		To         string  `json:"to"`         // start, end, offset, timestamp
		Offset     int64   `json:"offset"`
		Timestamp  int64   `json:"timestamp"`
	}
	if !readBody(w, r, &req) {
		return
	}
	tm := a.b.Snapshot().Topic(req.Topic)
	if tm == nil {
		writeError(w, http.StatusNotFound, "UNKNOWN_TOPIC_OR_PARTITION: topic "+req.Topic+" does not exist")
		return
	}
	parts := req.Partitions
	if len(parts) == 0 {
		for i := range tm.Partitions {
			parts = append(parts, int32(i))
		}
	}
	ctx, cancel := apiCtx(r)
	defer cancel()
	described, err := a.adm.DescribeGroups(ctx, name)
	if err != nil {
		kafkaError(w, err, "describe group")
		return
	}
	if dg, ok := described[name]; ok && len(dg.Members) > 0 {
		writeError(w, http.StatusConflict, fmt.Sprintf("group %s has %d active members: stop its consumers before resetting its offsets", name, len(dg.Members)))
		return
	}
	var listed kadm.ListedOffsets
	switch req.To {
	case "start":
		listed, err = a.adm.ListStartOffsets(ctx, req.Topic)
	case "end":
		listed, err = a.adm.ListEndOffsets(ctx, req.Topic)
	case "timestamp":
		listed, err = a.adm.ListOffsetsAfterMilli(ctx, req.Timestamp, req.Topic)
	case "offset":
	default:
		writeError(w, http.StatusBadRequest, "to must be start, end, offset or timestamp")
		return
	}
	if err != nil {
		kafkaError(w, err, "list offsets")
		return
	}
	offs := kadm.Offsets{}
	for _, p := range parts {
		at := req.Offset
		if req.To != "offset" {
			lo, ok := listed.Lookup(req.Topic, p)
			if !ok || lo.Err != nil {
				writeError(w, http.StatusBadGateway, fmt.Sprintf("no offset for %s-%d", req.Topic, p))
				return
			}
			at = lo.Offset
		}
		offs.Add(kadm.Offset{Topic: req.Topic, Partition: p, At: at, LeaderEpoch: -1})
	}
	resps, err := a.adm.CommitOffsets(ctx, name, offs)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		kafkaError(w, err, "commit offsets")
		return
	}
	committed := []offsetJSON{}
	resps.Each(func(o kadm.OffsetResponse) {
		committed = append(committed, offsetJSON{Topic: o.Topic, Partition: o.Partition, Committed: o.At})
	})
	sort.Slice(committed, func(i, j int) bool { return committed[i].Partition < committed[j].Partition })
	writeJSON(w, http.StatusOK, map[string]any{"committed": committed})
}

func (s *Server) apiDeleteGroup(a *attached, w http.ResponseWriter, r *http.Request) {
	ctx, cancel := apiCtx(r)
	defer cancel()
	resp, err := a.adm.DeleteGroup(ctx, r.PathValue("group"))
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		if err == kerr.NonEmptyGroup {
			writeError(w, http.StatusConflict, err.Error()+": the group has active members")
			return
		}
		kafkaError(w, err, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": resp.Group})
}
