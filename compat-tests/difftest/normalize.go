package difftest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Normalization: a response is flattened into leaves (path, value) by a
// generic walk over the kmsg struct, and each leaf whose value legitimately
// differs between two brokers is rewritten by the rule its field name
// selects (fieldRules). What is left is compared as is.
//
// Paths read like Go selectors: Topics[foo].Partitions[0].ErrorCode. An
// array of structs that have a key field (Topic, Name, Partition, ...) is
// indexed by that key, so that the order a broker lists topics in does not
// matter; other arrays are indexed by position, written [#i]. Each element
// of an array of structs also yields a leaf of its own (value "present"),
// so that an element one broker lacks is one difference, not one per field.

// Field is one leaf of a flattened response.
type Field struct {
	Path  string
	Value string
}

// ruleKind says how a leaf is normalized.
type ruleKind int

const (
	keep           ruleKind = iota
	drop                    // not compared at all
	nullness                // only null/empty vs set is compared (error messages)
	clusterID               // the cluster id
	topicID                 // a topic id: named by its topic, consistently per run
	nodeID                  // a node id: the broker's own id is <self>
	hostName                // an advertised host
	portNum                 // an advertised port
	memberID                // a broker-generated member id: <member1>, ... per scenario
	producerID              // an allocated producer id: <pid1>, ... per scenario
	sessionID               // a fetch session id: <session1>, ... per scenario
	brokerTime              // a time the broker took from its clock; -1 is kept
	metadataOffset          // a KRaft metadata-log offset (feature epochs)
)

// fieldRules maps a field name to its normalization. A field name can mean
// different things in different types (JoinGroup's Leader is a member id,
// Metadata's a node id): fieldRule resolves those by the leaf's Go type.
var fieldRules = map[string]ruleKind{
	"ThrottleMillis":         drop,
	"ErrorMessage":           nullness,
	"StatusDetail":           nullness,
	"Documentation":          nullness,
	"ClusterID":              clusterID,
	"TopicID":                topicID,
	"NodeID":                 nodeID,
	"LeaderID":               nodeID,
	"ControllerID":           nodeID,
	"Replicas":               nodeID,
	"ISR":                    nodeID,
	"OfflineReplicas":        nodeID,
	"EligibleLeaderReplicas": nodeID,
	"LastKnownELR":           nodeID,
	"Host":                   hostName,
	"Port":                   portNum,
	"MemberID":               memberID,
	"Leader":                 memberID, // string: JoinGroup; int32: see fieldRule
	"ProducerID":             producerID,
	"SessionID":              sessionID,
	"LogAppendTime":          brokerTime,
	"StartTimestamp":         brokerTime, // DescribeTransactions
	"LastFetchTimestamp":     brokerTime, // DescribeQuorum
	"LastCaughtUpTimestamp":  brokerTime,
	"FinalizedFeaturesEpoch": metadataOffset,
}

func fieldRule(name string, v reflect.Value) ruleKind {
	k, ok := fieldRules[name]
	if !ok {
		return keep
	}
	// JoinGroup's Leader and LeaderID are member ids, Metadata's and
	// Fetch's node ids: the type tells them apart.
	if name == "Leader" || name == "LeaderID" {
		if v.Kind() == reflect.String {
			return memberID
		}
		return nodeID
	}
	return k
}

// keyFields are, in order of preference, the fields whose value names an
// element of an array of structs.
var keyFields = []string{"Topic", "Name", "Group", "GroupID", "ResourceName", "ApiKey",
	"TransactionalID", "Key", "Partition", "NodeID", "BrokerID", "MemberID", "Path", "Type"}

// Normalizer holds one broker's view of the values it assigned: which topic
// name each topic id belongs to, and the placeholders given to generated
// ids so far. One Normalizer per broker per run.
type Normalizer struct {
	// SelfNode is the broker's node id.
	SelfNode int32

	topicNames map[[16]byte]string // topic id -> name, learned from responses
	unknownIDs map[[16]byte]string // ids never seen with a name -> placeholder
	// scoped are the per-scenario placeholders: kind -> raw -> placeholder.
	scoped map[ruleKind]map[string]string
}

// NewNormalizer returns the normalizer of a broker whose node id is self.
func NewNormalizer(self int32) *Normalizer {
	return &Normalizer{
		SelfNode:   self,
		topicNames: map[[16]byte]string{},
		unknownIDs: map[[16]byte]string{},
		scoped:     map[ruleKind]map[string]string{},
	}
}

// ResetScenario forgets the per-scenario placeholders (member ids,
// producer ids, session ids), so that each scenario numbers its own from 1.
func (n *Normalizer) ResetScenario() { n.scoped = map[ruleKind]map[string]string{} }

// TopicID returns the id this broker gave topic name, if it was seen.
func (n *Normalizer) TopicID(name string) ([16]byte, bool) {
	for id, nm := range n.topicNames {
		if nm == name {
			return id, true
		}
	}
	return [16]byte{}, false
}

// LearnTopicIDs records every (topic name, topic id) pair in v.
func (n *Normalizer) LearnTopicIDs(v any) {
	n.learn(reflect.ValueOf(v))
}

func (n *Normalizer) learn(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			n.learn(v.Elem())
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				n.learn(v.Index(i))
			}
		}
	case reflect.Struct:
		id := v.FieldByName("TopicID")
		if id.IsValid() && id.Type() == reflect.TypeOf([16]byte{}) {
			name := ""
			for _, f := range []string{"Topic", "Name"} {
				if s, ok := stringOf(v.FieldByName(f)); ok && s != "" {
					name = s
					break
				}
			}
			raw := id.Interface().([16]byte)
			if name != "" && raw != ([16]byte{}) {
				n.topicNames[raw] = name
				delete(n.unknownIDs, raw)
			}
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				n.learn(v.Field(i))
			}
		}
	}
}

func stringOf(v reflect.Value) (string, bool) {
	if !v.IsValid() {
		return "", false
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() || v.Elem().Kind() != reflect.String {
			return "", false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.String {
		return "", false
	}
	return v.String(), true
}

// Flatten learns the topic ids in msg and returns its normalized leaves.
func (n *Normalizer) Flatten(msg any) []Field {
	n.LearnTopicIDs(msg)
	var out []Field
	v := reflect.ValueOf(msg)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return []Field{{Path: "", Value: "null"}}
		}
		v = v.Elem()
	}
	n.walkStruct(v, "", &out, true)
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (n *Normalizer) walkStruct(v reflect.Value, path string, out *[]Field, top bool) {
	t := v.Type()
	for i := range v.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		fv := v.Field(i)
		if top && sf.Name == "Version" {
			continue // the version is the request's, reported beside the path
		}
		if sf.Type == reflect.TypeOf(kmsg.Tags{}) {
			tags := fv.Interface().(kmsg.Tags)
			if tags.Len() > 0 {
				var keys []string
				tags.Each(func(k uint32, b []byte) { keys = append(keys, fmt.Sprintf("%d:%x", k, b)) })
				sort.Strings(keys)
				*out = append(*out, Field{join(path, sf.Name), strings.Join(keys, ",")})
			}
			continue
		}
		n.walkValue(fv, join(path, sf.Name), sf.Name, out)
	}
}

func (n *Normalizer) walkValue(v reflect.Value, path, name string, out *[]Field) {
	kind := fieldRule(name, v)
	if kind == drop {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		n.walkStruct(v, path, out, false)
		return
	case reflect.Pointer:
		if v.IsNil() {
			if kind == nullness {
				*out = append(*out, Field{path, "<unset>"})
				return
			}
			*out = append(*out, Field{path, "null"})
			return
		}
		if v.Elem().Kind() == reflect.Struct {
			n.walkStruct(v.Elem(), path, out, false)
			return
		}
		n.walkValue(v.Elem(), path, name, out)
		return
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			n.walkBytes(v.Bytes(), path, name, out)
			return
		}
		if v.Type().Elem().Kind() == reflect.Struct {
			n.walkStructs(v, path, out)
			return
		}
		if v.IsNil() {
			*out = append(*out, Field{path, "null"})
			return
		}
		*out = append(*out, Field{path + ".len", strconv.Itoa(v.Len())})
		for i := range v.Len() {
			*out = append(*out, Field{fmt.Sprintf("%s[#%d]", path, i), n.leaf(v.Index(i), kind)})
		}
		return
	}
	*out = append(*out, Field{path, n.leaf(v, kind)})
}

// walkStructs flattens an array of structs, keyed by its elements' key
// field when that names each element uniquely, by position otherwise.
func (n *Normalizer) walkStructs(v reflect.Value, path string, out *[]Field) {
	if v.Len() == 0 {
		return
	}
	keys := make([]string, v.Len())
	kf := keyField(v.Type().Elem(), v)
	keyed := kf != ""
	if keyed {
		// A key seen again (a broker that does not collapse duplicates)
		// is told apart by its occurrence: [foo], [foo#2].
		seen := map[string]int{}
		for i := range v.Len() {
			k := n.keyString(kf, v.Index(i).FieldByName(kf))
			seen[k]++
			if seen[k] > 1 {
				k += "#" + strconv.Itoa(seen[k])
			}
			keys[i] = k
		}
	}
	for i := range v.Len() {
		p := fmt.Sprintf("%s[#%d]", path, i)
		if keyed {
			p = path + "[" + keys[i] + "]"
		}
		*out = append(*out, Field{p, "present"})
		n.walkStruct(v.Index(i), p, out, false)
	}
}

// keyField picks the key field of an array's element type. Topic names
// are the key unless they are all empty (Fetch v13+ names topics by id
// only), when the topic id is.
func keyField(t reflect.Type, v reflect.Value) string {
	for _, f := range keyFields {
		sf, ok := t.FieldByName(f)
		if !ok {
			continue
		}
		if f == "Topic" || f == "Name" {
			allEmpty := true
			for i := range v.Len() {
				if s, _ := stringOf(v.Index(i).FieldByName(f)); s != "" {
					allEmpty = false
					break
				}
			}
			if allEmpty {
				if _, ok := t.FieldByName("TopicID"); ok {
					return "TopicID"
				}
				continue
			}
		}
		switch sf.Type.Kind() {
		case reflect.String, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return f
		case reflect.Pointer:
			if sf.Type.Elem().Kind() == reflect.String {
				return f
			}
		case reflect.Array:
			if f == "TopicID" {
				return f
			}
		}
	}
	if _, ok := t.FieldByName("TopicID"); ok {
		return "TopicID"
	}
	return ""
}

func (n *Normalizer) keyString(field string, v reflect.Value) string {
	if field == "ApiKey" {
		return kmsg.NameForKey(int16(v.Int()))
	}
	s := n.leaf(v, fieldRule(field, v))
	return strings.Trim(s, `"`)
}

// leaf renders one scalar after its rule.
func (n *Normalizer) leaf(v reflect.Value, kind ruleKind) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			if kind == nullness {
				return "<unset>"
			}
			return "null"
		}
		v = v.Elem()
	}
	switch kind {
	case nullness:
		if v.Kind() == reflect.String && v.String() == "" {
			return "<unset>"
		}
		return "<set>"
	case clusterID:
		if v.Kind() == reflect.String && v.String() != "" {
			return "<cluster>"
		}
	case topicID:
		if v.Kind() == reflect.Array {
			return n.topicIDString(v.Interface().([16]byte))
		}
	case nodeID:
		if isInt(v) && int32(v.Int()) == n.SelfNode {
			return "<self>"
		}
	case hostName:
		if v.Kind() == reflect.String && v.String() != "" {
			return "<host>"
		}
	case portNum:
		if isInt(v) && v.Int() > 0 || v.Kind() == reflect.Uint16 && v.Uint() > 0 {
			return "<port>"
		}
	case memberID, producerID, sessionID:
		raw := fmt.Sprint(v.Interface())
		if raw == "" || raw == "-1" || raw == "0" && kind == sessionID {
			break
		}
		return n.placeholder(kind, raw)
	case brokerTime:
		if isInt(v) && v.Int() != -1 {
			return "<time>"
		}
	case metadataOffset:
		if isInt(v) && v.Int() >= 0 {
			return "<offset>"
		}
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Array:
		if v.Type() == reflect.TypeOf([16]byte{}) {
			return n.topicIDString(v.Interface().([16]byte))
		}
	}
	return fmt.Sprint(v.Interface())
}

func isInt(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return true
	}
	return false
}

var placeholderNames = map[ruleKind]string{memberID: "member", producerID: "pid", sessionID: "session"}

func (n *Normalizer) placeholder(kind ruleKind, raw string) string {
	m := n.scoped[kind]
	if m == nil {
		m = map[string]string{}
		n.scoped[kind] = m
	}
	p, ok := m[raw]
	if !ok {
		p = fmt.Sprintf("<%s%d>", placeholderNames[kind], len(m)+1)
		m[raw] = p
	}
	return p
}

// BindPlaceholders gives a value one broker assigned and the value the
// other assigned in its place the same placeholder (a replay knows which
// of samsa's producer ids stands for which of Kafka's), unless either
// already has one.
func BindPlaceholders(kind ruleKind, a *Normalizer, aRaw string, b *Normalizer, bRaw string) {
	for _, n := range []*Normalizer{a, b} {
		if n.scoped[kind] == nil {
			n.scoped[kind] = map[string]string{}
		}
	}
	if _, ok := a.scoped[kind][aRaw]; ok {
		return
	}
	if _, ok := b.scoped[kind][bRaw]; ok {
		return
	}
	p := fmt.Sprintf("<%s%d>", placeholderNames[kind], max(len(a.scoped[kind]), len(b.scoped[kind]))+1)
	a.scoped[kind][aRaw] = p
	b.scoped[kind][bRaw] = p
}

func (n *Normalizer) topicIDString(id [16]byte) string {
	if id == ([16]byte{}) {
		return "<zero-id>"
	}
	if name, ok := n.topicNames[id]; ok {
		return "<id:" + name + ">"
	}
	p, ok := n.unknownIDs[id]
	if !ok {
		p = fmt.Sprintf("<id?%d>", len(n.unknownIDs)+1)
		n.unknownIDs[id] = p
	}
	return p
}

// walkBytes renders a bytes field: record batches (Produce, Fetch) are
// decoded batch by batch; other bytes (group metadata and assignments,
// which clients write and brokers echo) are compared as hex, or as a
// digest when long.
func (n *Normalizer) walkBytes(b []byte, path, name string, out *[]Field) {
	if b == nil {
		*out = append(*out, Field{path, "null"})
		return
	}
	if name == "Records" || name == "RecordBatches" {
		n.walkBatches(b, path, out)
		return
	}
	*out = append(*out, Field{path, bytesString(b)})
}

func bytesString(b []byte) string {
	if len(b) <= 48 {
		return "0x" + hex.EncodeToString(b)
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("len=%d sha256=%x", len(b), sum[:8])
}

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// walkBatches decodes a record set: v2 batches are compared field by
// field (the CRC as valid/invalid, since it covers the producer id), the
// records by digest; anything else (older magic, a partial batch at the end
// of a Fetch response) by its length and digest.
func (n *Normalizer) walkBatches(b []byte, path string, out *[]Field) {
	*out = append(*out, Field{path + ".bytes", strconv.Itoa(len(b))})
	for i := 0; len(b) > 0; i++ {
		p := fmt.Sprintf("%s.batch[#%d]", path, i)
		if len(b) < 17 {
			*out = append(*out, Field{p, "partial " + bytesString(b)})
			return
		}
		length := int(int32(binary.BigEndian.Uint32(b[8:])))
		magic := b[16]
		if length < 49-12 || 12+length > len(b) || magic != 2 {
			*out = append(*out, Field{p, fmt.Sprintf("partial or magic %d: %s", magic, bytesString(b))})
			return
		}
		raw := b[:12+length]
		b = b[12+length:]
		*out = append(*out, Field{p, "present"})
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(raw); err != nil {
			*out = append(*out, Field{p, "undecodable " + bytesString(raw)})
			continue
		}
		crc := "valid"
		if int32(crc32.Checksum(raw[21:], crc32c)) != rb.CRC {
			crc = "invalid"
		}
		// A control batch (a transaction marker) is stamped by the broker
		// with its clock, as a LogAppendTime batch is.
		logAppend := rb.Attributes&0x08 != 0 || rb.Attributes&0x20 != 0
		ts := func(t int64) string {
			if logAppend {
				return "<time>"
			}
			return strconv.FormatInt(t, 10)
		}
		pid := strconv.FormatInt(rb.ProducerID, 10)
		if rb.ProducerID >= 0 {
			pid = n.placeholder(producerID, pid)
		}
		*out = append(*out,
			Field{p + ".FirstOffset", strconv.FormatInt(rb.FirstOffset, 10)},
			Field{p + ".Length", strconv.Itoa(int(rb.Length))},
			Field{p + ".PartitionLeaderEpoch", strconv.Itoa(int(rb.PartitionLeaderEpoch))},
			Field{p + ".CRC", crc},
			Field{p + ".Attributes", strconv.Itoa(int(rb.Attributes))},
			Field{p + ".LastOffsetDelta", strconv.Itoa(int(rb.LastOffsetDelta))},
			Field{p + ".FirstTimestamp", ts(rb.FirstTimestamp)},
			Field{p + ".MaxTimestamp", ts(rb.MaxTimestamp)},
			Field{p + ".ProducerID", pid},
			Field{p + ".ProducerEpoch", strconv.Itoa(int(rb.ProducerEpoch))},
			Field{p + ".FirstSequence", strconv.Itoa(int(rb.FirstSequence))},
			Field{p + ".NumRecords", strconv.Itoa(int(rb.NumRecords))},
			Field{p + ".Records", bytesString(rb.Records)},
		)
	}
}
