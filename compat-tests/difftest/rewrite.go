package difftest

import (
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Rewriting recorded requests for samsa: a client that talked to Kafka
// sent back the values Kafka assigned (member ids, generations and member
// epochs, producer ids and epochs, topic ids). Replayed to samsa, each such
// value is replaced by the one samsa assigned in the matching answer, so
// that the conversation goes on as the client would have had it with
// samsa. Fetch session ids (KIP-227) are mapped the same way: samsa's
// sessions answer as Kafka's do, so incremental fetches are replayed as
// recorded, on samsa's session.

// assigned holds the Kafka -> samsa value pairs learned so far.
type assigned struct {
	members map[string]string
	// gens maps (group, Kafka's generation or member epoch) to samsa's.
	gens map[groupVal]int32
	pids map[int64]int64
	// epochs maps (Kafka's producer id, its epoch) to samsa's epoch.
	epochs map[pidEpoch]int16
	kafka  *Normalizer // topic id -> name on Kafka's side
	samsa  *Normalizer // name -> topic id on samsa's side
	// clusters maps Kafka's cluster id to samsa's, nodes Kafka's node
	// ids to samsa's (from Metadata answers): ApiVersions v5 names the
	// cluster and node a client means to reach (KIP-1242).
	clusters map[string]string
	nodes    map[int32]int32
	// sessions maps Kafka's fetch session ids to samsa's.
	sessions map[int32]int32
}

type groupVal struct {
	group string
	v     int32
}

type pidEpoch struct {
	pid   int64
	epoch int16
}

func newAssigned(kafka, samsa *Normalizer) *assigned {
	return &assigned{
		members:  map[string]string{},
		gens:     map[groupVal]int32{},
		pids:     map[int64]int64{},
		epochs:   map[pidEpoch]int16{},
		clusters: map[string]string{},
		nodes:    map[int32]int32{},
		sessions: map[int32]int32{},
		kafka:    kafka,
		samsa:    samsa,
	}
}

// learn pairs the values Kafka and samsa assigned in answers to the same
// request.
func (a *assigned) learn(req kmsg.Request, kafka, samsa kmsg.Response) {
	switch k := kafka.(type) {
	case *kmsg.JoinGroupResponse:
		s := samsa.(*kmsg.JoinGroupResponse)
		group := req.(*kmsg.JoinGroupRequest).Group
		a.member(k.MemberID, s.MemberID)
		if k.Generation >= 0 && s.Generation >= 0 {
			a.gens[groupVal{group, k.Generation}] = s.Generation
		}
	case *kmsg.ConsumerGroupHeartbeatResponse:
		s := samsa.(*kmsg.ConsumerGroupHeartbeatResponse)
		group := req.(*kmsg.ConsumerGroupHeartbeatRequest).Group
		if k.MemberID != nil && s.MemberID != nil {
			a.member(*k.MemberID, *s.MemberID)
		}
		if k.MemberEpoch > 0 && s.MemberEpoch > 0 {
			a.gens[groupVal{group, k.MemberEpoch}] = s.MemberEpoch
		}
	case *kmsg.MetadataResponse:
		s := samsa.(*kmsg.MetadataResponse)
		if k.ClusterID != nil && s.ClusterID != nil {
			a.clusters[*k.ClusterID] = *s.ClusterID
		}
		if len(k.Brokers) == 1 && len(s.Brokers) == 1 {
			a.nodes[k.Brokers[0].NodeID] = s.Brokers[0].NodeID
		}
	case *kmsg.FetchResponse:
		s := samsa.(*kmsg.FetchResponse)
		if k.SessionID != 0 && s.SessionID != 0 {
			a.sessions[k.SessionID] = s.SessionID
		}
	case *kmsg.InitProducerIDResponse:
		s := samsa.(*kmsg.InitProducerIDResponse)
		if k.ProducerID >= 0 && s.ProducerID >= 0 {
			a.pids[k.ProducerID] = s.ProducerID
			BindPlaceholders(producerID, a.kafka, strconv.FormatInt(k.ProducerID, 10), a.samsa, strconv.FormatInt(s.ProducerID, 10))
			a.epochs[pidEpoch{k.ProducerID, k.ProducerEpoch}] = s.ProducerEpoch
		}
	}
}

func (a *assigned) member(kafka, samsa string) {
	if kafka != "" && samsa != "" {
		a.members[kafka] = samsa
		BindPlaceholders(memberID, a.kafka, kafka, a.samsa, samsa)
	}
}

// rewrite replaces, in place, every Kafka-assigned value in req that has a
// samsa counterpart.
func (a *assigned) rewrite(req kmsg.Request) {
	if av, ok := req.(*kmsg.ApiVersionsRequest); ok && av.ClusterID != nil {
		if c, ok := a.clusters[*av.ClusterID]; ok {
			av.ClusterID = &c
		}
		if n, ok := a.nodes[av.NodeID]; ok {
			av.NodeID = n
		}
	}
	if f, ok := req.(*kmsg.FetchRequest); ok {
		if s, ok := a.sessions[f.SessionID]; ok {
			f.SessionID = s
		}
	}
	v := reflect.ValueOf(req).Elem()
	group := ""
	if g := v.FieldByName("Group"); g.IsValid() && g.Kind() == reflect.String {
		group = g.String()
	}
	a.walk(v, group)
}

func (a *assigned) walk(v reflect.Value, group string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			a.walk(v.Elem(), group)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				a.walk(v.Index(i), group)
			}
		}
	case reflect.Struct:
		if g := v.FieldByName("Group"); g.IsValid() && g.Kind() == reflect.String {
			group = g.String()
		}
		t := v.Type()
		for i := range v.NumField() {
			f := v.Field(i)
			if !t.Field(i).IsExported() {
				continue
			}
			switch name := t.Field(i).Name; {
			case name == "MemberID" || name == "LeaderID":
				a.rewriteMember(f)
			case name == "Generation" || name == "MemberEpoch":
				if f.Kind() == reflect.Int32 {
					if s, ok := a.gens[groupVal{group, int32(f.Int())}]; ok {
						f.SetInt(int64(s))
					}
				}
			case name == "ProducerID" && f.Kind() == reflect.Int64:
				pid := f.Int()
				if s, ok := a.pids[pid]; ok {
					if e := v.FieldByName("ProducerEpoch"); e.IsValid() && e.Kind() == reflect.Int16 {
						if se, ok := a.epochs[pidEpoch{pid, int16(e.Int())}]; ok {
							e.SetInt(int64(se))
						}
					}
					f.SetInt(s)
				}
			case name == "TopicID" && f.Type() == reflect.TypeOf([16]byte{}):
				if id, ok := a.topicID(f.Interface().([16]byte)); ok {
					f.Set(reflect.ValueOf(id))
				}
			case name == "Records" && f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Uint8:
				if b := f.Bytes(); b != nil {
					f.SetBytes(a.rewriteBatches(b))
				}
			default:
				a.walk(f, group)
			}
		}
	}
}

func (a *assigned) rewriteMember(f reflect.Value) {
	switch {
	case f.Kind() == reflect.String:
		if s, ok := a.members[f.String()]; ok {
			f.SetString(s)
		}
	case f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.String:
		if s, ok := a.members[f.Elem().String()]; ok {
			f.Set(reflect.ValueOf(&s))
		}
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
		for i := range f.Len() {
			a.walk(f.Index(i), "")
		}
	}
}

// topicID maps Kafka's id of a topic to samsa's id of the same name.
func (a *assigned) topicID(kafka [16]byte) ([16]byte, bool) {
	if kafka == ([16]byte{}) {
		return kafka, false
	}
	name, ok := a.kafka.topicNames[kafka]
	if !ok {
		return kafka, false
	}
	return a.samsa.TopicID(name)
}

// rewriteBatches replaces the producer id and epoch of each v2 batch that
// has a samsa counterpart (and recomputes its CRC); a copy is returned.
func (a *assigned) rewriteBatches(b []byte) []byte {
	out := append([]byte(nil), b...)
	for pos := 0; pos+61 <= len(out); {
		length := int(int32(binary.BigEndian.Uint32(out[pos+8:])))
		end := pos + 12 + length
		if length < 49 || end > len(out) || out[pos+16] != 2 {
			break
		}
		batch := out[pos:end]
		pid := int64(binary.BigEndian.Uint64(batch[43:]))
		epoch := int16(binary.BigEndian.Uint16(batch[51:]))
		if s, ok := a.pids[pid]; ok {
			binary.BigEndian.PutUint64(batch[43:], uint64(s))
			if se, ok := a.epochs[pidEpoch{pid, epoch}]; ok {
				binary.BigEndian.PutUint16(batch[51:], uint16(se))
			}
			binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], crc32c))
		}
		pos = end
	}
	return out
}
