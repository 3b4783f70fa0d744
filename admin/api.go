package admin

// The console's JSON API. Reads of state come from the metadata snapshot and
// the hosted logs (broker/introspect.go) and, for what a remote broker
// knows (offsets, configs, groups), from kadm over the Kafka listener; every
// change goes through the Kafka protocol with kadm/kgo, so the console is
// validated exactly like any other client.
//
//	GET    /api/cluster                      brokers, controller, version, readiness
//	GET    /api/throughput                   sampled bytes/messages per second
//	GET    /api/topics                       every topic with partitions, records, size
//	POST   /api/topics                       create {name, partitions, replicationFactor, configs}
//	GET    /api/topics/{topic}               partitions (leader, replicas, ISR, offsets, size) and configs
//	DELETE /api/topics/{topic}
//	POST   /api/topics/{topic}/configs       alter {set: {k: v}, delete: [k]}
//	POST   /api/topics/{topic}/partitions    add partitions {count}
//	GET    /api/topics/{topic}/messages      browse (api_messages.go)
//	POST   /api/topics/{topic}/messages      produce one record
//	GET    /api/groups                       groups with state, members, total lag
//	GET    /api/groups/{group}               members, assignments, offsets and lag, lag history
//	POST   /api/groups/{group}/reset         reset offsets {topic, to, offset, timestamp}
//	DELETE /api/groups/{group}
//
// Errors are {"error": "..."} with a 4xx (the request or Kafka refused it)
// or 5xx status.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// apiTimeout bounds every API request's Kafka calls.
const apiTimeout = 10 * time.Second

func (s *Server) routes(mux *http.ServeMux) {
	h := func(pattern string, fn func(a *attached, w http.ResponseWriter, r *http.Request)) {
		mux.Handle(pattern, s.guard(s.needBroker(fn)))
	}
	h("GET /api/cluster", s.apiCluster)
	h("GET /api/throughput", s.apiThroughput)
	h("GET /api/topics", s.apiTopics)
	h("POST /api/topics", s.apiCreateTopic)
	h("GET /api/topics/{topic}", s.apiTopic)
	h("DELETE /api/topics/{topic}", s.apiDeleteTopic)
	h("POST /api/topics/{topic}/configs", s.apiAlterConfigs)
	h("POST /api/topics/{topic}/partitions", s.apiAddPartitions)
	h("GET /api/topics/{topic}/messages", s.apiBrowse)
	h("POST /api/topics/{topic}/messages", s.apiProduce)
	h("GET /api/groups", s.apiGroups)
	h("GET /api/groups/{group}", s.apiGroup)
	h("POST /api/groups/{group}/reset", s.apiResetGroup)
	h("DELETE /api/groups/{group}", s.apiDeleteGroup)
}

// guard refuses what a web page of another site could make a browser send:
// a change must be a JSON request (which a cross-site page cannot send
// without a CORS preflight, which is never granted), and a listener on
// loopback answers only requests addressed to a loopback name (against DNS
// rebinding).
func (s *Server) guard(next http.Handler) http.Handler {
	loopback := false
	if ta, ok := s.ln.Addr().(*net.TCPAddr); ok {
		loopback = ta.IP.IsLoopback()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopback {
			host, _, err := net.SplitHostPort(r.Host)
			if err != nil {
				host = r.Host
			}
			ip := net.ParseIP(host)
			if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				writeError(w, http.StatusForbidden, "the admin listener is on loopback: address it as localhost or 127.0.0.1")
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" && r.ContentLength != 0 {
				writeError(w, http.StatusUnsupportedMediaType, "send the request body as application/json")
				return
			}
			if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
				writeError(w, http.StatusForbidden, "cross-site requests are refused")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// kafkaError answers err from a Kafka call: 4xx for what Kafka refused
// (an error code), 502 for a failure to reach the broker.
func kafkaError(w http.ResponseWriter, err error, msg string) {
	var ke *kerr.Error
	status := http.StatusBadGateway
	if errors.As(err, &ke) {
		status = http.StatusBadRequest
		switch ke {
		case kerr.UnknownTopicOrPartition, kerr.GroupIDNotFound, kerr.UnknownTopicID:
			status = http.StatusNotFound
		case kerr.TopicAlreadyExists:
			status = http.StatusConflict
		}
	}
	text := err.Error()
	if msg != "" {
		text += ": " + msg
	}
	writeError(w, status, text)
}

func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

func apiCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), apiTimeout)
}

type brokerJSON struct {
	ID         int32   `json:"id"`
	Host       string  `json:"host"`
	Port       int32   `json:"port"`
	Rack       *string `json:"rack,omitempty"`
	Controller bool    `json:"controller"`
	Self       bool    `json:"self"`
	// OfflineReplicas counts the replicas the broker declared offline.
	OfflineReplicas int `json:"offlineReplicas"`
}

func (s *Server) apiCluster(a *attached, w http.ResponseWriter, r *http.Request) {
	snap := a.b.Snapshot()
	out := struct {
		ClusterID     string       `json:"clusterId"`
		ControllerID  int32        `json:"controllerId"`
		BrokerID      int32        `json:"brokerId"`
		Version       string       `json:"version"`
		UptimeSec     int64        `json:"uptimeSec"`
		Brokers       []brokerJSON `json:"brokers"`
		Topics        int          `json:"topics"`
		Partitions    int          `json:"partitions"`
		UnderRepl     int          `json:"underReplicated"`
		Offline       int          `json:"offlinePartitions"`
		Connections   int          `json:"connections"`
		Ready         bool         `json:"ready"`
		NotReady      string       `json:"notReady,omitempty"`
		MetadataRev   int64        `json:"metadataRevision"`
		KafkaListener string       `json:"kafkaListener"`
	}{ClusterID: snap.ClusterID, ControllerID: snap.ControllerID, BrokerID: a.b.ID(), Version: s.opts.Version,
		UptimeSec: int64(a.b.Uptime().Seconds()), Connections: a.b.Connections(), MetadataRev: snap.Revision,
		KafkaListener: a.b.KafkaAddr()}
	for _, id := range snap.BrokerIDs {
		bi := snap.Brokers[id]
		out.Brokers = append(out.Brokers, brokerJSON{ID: id, Host: bi.Host, Port: bi.Port, Rack: bi.Rack,
			Controller: id == snap.ControllerID, Self: id == a.b.ID(), OfflineReplicas: len(bi.OfflineReplicas)})
	}
	for _, name := range snap.TopicNames {
		tm := snap.Topics[name]
		out.Topics++
		for i, ps := range tm.Partitions {
			out.Partitions++
			if len(ps.ISR) < len(ps.Replicas) {
				out.UnderRepl++
			}
			if _, live := snap.Brokers[ps.Leader]; ps.Leader < 0 || !live || snap.ReplicaOffline(ps.Leader, tm.Info.ID, int32(i)) {
				out.Offline++
			}
		}
	}
	if err := a.b.Ready(); err != nil {
		out.NotReady = err.Error()
	} else {
		out.Ready = true
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiThroughput(a *attached, w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"intervalMs": s.opts.SampleInterval.Milliseconds(),
		"samples":    a.h.throughput(),
	})
}

type topicJSON struct {
	Name              string `json:"name"`
	ID                string `json:"id"`
	Internal          bool   `json:"internal"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replicationFactor"`
	Records           int64  `json:"records"`
	SizeBytes         int64  `json:"sizeBytes"`
	UnderReplicated   int    `json:"underReplicated"`
	Offline           int    `json:"offline"`
}

// offsetsRange lists the start and end offsets of topics (all when none).
func offsetsRange(ctx context.Context, adm *kadm.Client, topics ...string) (start, end kadm.ListedOffsets, err error) {
	if start, err = adm.ListStartOffsets(ctx, topics...); err != nil {
		return nil, nil, err
	}
	end, err = adm.ListEndOffsets(ctx, topics...)
	return start, end, err
}

func (s *Server) apiTopics(a *attached, w http.ResponseWriter, r *http.Request) {
	ctx, cancel := apiCtx(r)
	defer cancel()
	snap := a.b.Snapshot()
	start, end, err := offsetsRange(ctx, a.adm)
	if err != nil {
		kafkaError(w, err, "list offsets")
		return
	}
	sizes := map[string]int64{}
	for _, hp := range a.b.HostedPartitions() {
		if hp.SizeBytes > 0 {
			sizes[hp.Topic] += hp.SizeBytes
		}
	}
	out := []topicJSON{}
	for _, name := range snap.TopicNames {
		tm := snap.Topics[name]
		t := topicJSON{Name: name, ID: tm.Info.ID.String(), Internal: tm.Info.Internal, Partitions: len(tm.Partitions),
			SizeBytes: sizes[name]}
		if len(tm.Info.Replicas) > 0 {
			t.ReplicationFactor = len(tm.Info.Replicas[0])
		}
		for i, ps := range tm.Partitions {
			if len(ps.ISR) < len(ps.Replicas) {
				t.UnderReplicated++
			}
			if _, live := snap.Brokers[ps.Leader]; ps.Leader < 0 || !live || snap.ReplicaOffline(ps.Leader, tm.Info.ID, int32(i)) {
				t.Offline++
			}
			if e, ok := end.Lookup(name, int32(i)); ok && e.Err == nil {
				if st, ok := start.Lookup(name, int32(i)); ok && st.Err == nil {
					t.Records += max(e.Offset-st.Offset, 0)
				}
			}
		}
		out = append(out, t)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiCreateTopic(a *attached, w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name              string            `json:"name"`
		Partitions        int32             `json:"partitions"`
		ReplicationFactor int16             `json:"replicationFactor"`
		Configs           map[string]string `json:"configs"`
	}
	if !readBody(w, r, &req) {
		return
	}
	if req.Name == "" {
		writeError(w, http.StatusBadRequest, "a topic needs a name")
		return
	}
	if req.Partitions == 0 {
		req.Partitions = -1 // the broker's num.partitions
	}
	if req.ReplicationFactor == 0 {
		req.ReplicationFactor = -1
	}
	configs := map[string]*string{}
	for k, v := range req.Configs {
		configs[k] = &v
	}
	ctx, cancel := apiCtx(r)
	defer cancel()
	resp, err := a.adm.CreateTopic(ctx, req.Partitions, req.ReplicationFactor, configs, req.Name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		kafkaError(w, err, resp.ErrMessage)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"name": resp.Topic, "id": base64.RawURLEncoding.EncodeToString(resp.ID[:]), "partitions": resp.NumPartitions})
}

type partitionJSON struct {
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leaderEpoch"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	OfflineReplicas []int32 `json:"offlineReplicas"`
	StartOffset     int64   `json:"startOffset"`
	EndOffset       int64   `json:"endOffset"`
	Records         int64   `json:"records"`
	SizeBytes       int64   `json:"sizeBytes"` // -1: not hosted by this broker
	Offline         string  `json:"offline,omitempty"`
}

type configJSON struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	Sensitive bool   `json:"sensitive"`
	Default   bool   `json:"default"`
}

func (s *Server) apiTopic(a *attached, w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	snap := a.b.Snapshot()
	tm := snap.Topic(name)
	if tm == nil {
		writeError(w, http.StatusNotFound, "UNKNOWN_TOPIC_OR_PARTITION: topic "+name+" does not exist")
		return
	}
	ctx, cancel := apiCtx(r)
	defer cancel()
	start, end, err := offsetsRange(ctx, a.adm, name)
	if err != nil {
		kafkaError(w, err, "list offsets")
		return
	}
	hosted := map[int32]int{}
	hps := a.b.HostedPartitions()
	for i, hp := range hps {
		if hp.Topic == name && hp.TopicID == tm.Info.ID {
			hosted[hp.Partition] = i
		}
	}
	out := struct {
		Name              string          `json:"name"`
		ID                string          `json:"id"`
		Internal          bool            `json:"internal"`
		ReplicationFactor int             `json:"replicationFactor"`
		Partitions        []partitionJSON `json:"partitions"`
		Configs           []configJSON    `json:"configs"`
		Records           int64           `json:"records"`
		SizeBytes         int64           `json:"sizeBytes"`
	}{Name: name, ID: tm.Info.ID.String(), Internal: tm.Info.Internal}
	if len(tm.Info.Replicas) > 0 {
		out.ReplicationFactor = len(tm.Info.Replicas[0])
	}
	for i, ps := range tm.Partitions {
		p := partitionJSON{Partition: int32(i), Leader: ps.Leader, LeaderEpoch: ps.LeaderEpoch,
			Replicas: ps.Replicas, ISR: ps.ISR, OfflineReplicas: []int32{}, StartOffset: -1, EndOffset: -1, SizeBytes: -1}
		for _, rep := range ps.Replicas {
			if _, live := snap.Brokers[rep]; !live || snap.ReplicaOffline(rep, tm.Info.ID, int32(i)) {
				p.OfflineReplicas = append(p.OfflineReplicas, rep)
			}
		}
		if st, ok := start.Lookup(name, int32(i)); ok && st.Err == nil {
			p.StartOffset = st.Offset
		}
		if e, ok := end.Lookup(name, int32(i)); ok && e.Err == nil {
			p.EndOffset = e.Offset
		}
		if p.StartOffset >= 0 && p.EndOffset >= 0 {
			p.Records = max(p.EndOffset-p.StartOffset, 0)
		}
		if j, ok := hosted[int32(i)]; ok {
			p.SizeBytes = hps[j].SizeBytes
			p.Offline = hps[j].Offline
			out.SizeBytes += max(p.SizeBytes, 0)
		}
		out.Records += p.Records
		out.Partitions = append(out.Partitions, p)
	}
	rcs, err := a.adm.DescribeTopicConfigs(ctx, name)
	if err == nil {
		var rc kadm.ResourceConfig
		if rc, err = rcs.On(name, nil); err == nil {
			err = rc.Err
		}
		for _, c := range rc.Configs {
			cj := configJSON{Name: c.Key, Value: c.MaybeValue(), Source: c.Source.String(), Sensitive: c.Sensitive,
				Default: c.Source == kmsg.ConfigSourceDefaultConfig || c.Source == kmsg.ConfigSourceStaticBrokerConfig}
			out.Configs = append(out.Configs, cj)
		}
	}
	if err != nil {
		kafkaError(w, err, "describe configs")
		return
	}
	sort.Slice(out.Configs, func(i, j int) bool { return out.Configs[i].Name < out.Configs[j].Name })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiDeleteTopic(a *attached, w http.ResponseWriter, r *http.Request) {
	ctx, cancel := apiCtx(r)
	defer cancel()
	resp, err := a.adm.DeleteTopic(ctx, r.PathValue("topic"))
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		kafkaError(w, err, resp.ErrMessage)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": resp.Topic})
}

func (s *Server) apiAlterConfigs(a *attached, w http.ResponseWriter, r *http.Request) {
	var req struct {
		Set    map[string]string `json:"set"`
		Delete []string          `json:"delete"`
	}
	if !readBody(w, r, &req) {
		return
	}
	var alters []kadm.AlterConfig
	for k, v := range req.Set {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	for _, k := range req.Delete {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if len(alters) == 0 {
		writeError(w, http.StatusBadRequest, "nothing to alter: give set or delete")
		return
	}
	ctx, cancel := apiCtx(r)
	defer cancel()
	topic := r.PathValue("topic")
	resps, err := a.adm.AlterTopicConfigs(ctx, alters, topic)
	if err == nil {
		var ar kadm.AlterConfigsResponse
		if ar, err = resps.On(topic, nil); err == nil && ar.Err != nil {
			kafkaError(w, ar.Err, ar.ErrMessage)
			return
		}
	}
	if err != nil {
		kafkaError(w, err, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"altered": len(alters)})
}

func (s *Server) apiAddPartitions(a *attached, w http.ResponseWriter, r *http.Request) {
	var req struct {
		Count int `json:"count"`
	}
	if !readBody(w, r, &req) {
		return
	}
	if req.Count <= 0 {
		writeError(w, http.StatusBadRequest, "count must be at least 1")
		return
	}
	ctx, cancel := apiCtx(r)
	defer cancel()
	topic := r.PathValue("topic")
	resps, err := a.adm.CreatePartitions(ctx, req.Count, topic)
	if err == nil {
		var cr kadm.CreatePartitionsResponse
		if cr, err = resps.On(topic, nil); err == nil && cr.Err != nil {
			kafkaError(w, cr.Err, cr.ErrMessage)
			return
		}
	}
	if err != nil {
		kafkaError(w, err, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"added": req.Count})
}
