package difftest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Unit tests of the tester's own parts (no broker): the glob, the
// accepted list, the normalizer, the comparison, request rewriting, fetch
// session translation and the recording proxy.

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"Topics[*].ErrorCode", "Topics[dt.a].ErrorCode", true},
		{"Topics[*].ErrorCode", "Topics[dt.a].Partitions[0].ErrorCode", true},
		{"Topics[*]", "Topics[dt.a].ErrorCode", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"*#2]", "Topics[dt.a#2]", true},
		{"[x]", "x", false}, // brackets are literal
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		if got := glob(c.pattern, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestParseAccepted(t *testing.T) {
	list := `# comment
# section: pending
Fetch 7- fetch-sessions/* SessionID kafka=<session*> samsa=0 bug: no sessions
# section: accepted
* * * *ErrorMessage kafka=<unset> samsa=<set> samsa fills messages in
Metadata 3-5 metadata-* Topics[*] the reason
`
	a, err := ParseAccepted(strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Entries) != 3 {
		t.Fatalf("%d entries, want 3", len(a.Entries))
	}
	e := a.Entries[0]
	if e.Section != "pending" || e.API != "Fetch" || e.MinV != 7 || e.MaxV != 32767 || e.Kafka != "<session*>" || e.Samsa != "0" || e.Reason != "bug: no sessions" {
		t.Errorf("entry 0 = %+v", *e)
	}
	if e := a.Entries[2]; e.Section != "accepted" || e.MinV != 3 || e.MaxV != 5 || e.Kafka != "*" || e.Reason != "the reason" {
		t.Errorf("entry 2 = %+v", *e)
	}

	for _, bad := range []string{
		"Metadata * s p\n",                      // no reason
		"Metadata 5-3 s p reason\n",             // empty range
		"Metadata x s p reason\n",               // bad version
		"Metadata * s p kafka=1 samsa=2\n",      // value globs but no reason
		"Metadata * s\n",                        // too few fields
		"Metadata 1-2-3 scenario path reason\n", // bad range
	} {
		if _, err := ParseAccepted(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseAccepted(%q) succeeded, want an error", bad)
		}
	}
}

// TestJudge: a difference no entry covers is unaccepted (it fails the
// differential test), a covered one is counted under its section, value
// globs narrow an entry, and an entry that covered nothing is unused.
func TestJudge(t *testing.T) {
	a, err := ParseAccepted(strings.NewReader(`# section: pending
Fetch * fetch-* *.HighWatermark kafka=-1 bug: real offsets on errors
# section: accepted
Metadata 0-3 metadata-auto Topics[* creation is synchronous
Produce * never-matches * unused entry
`))
	if err != nil {
		t.Fatal(err)
	}
	diffs := []Diff{
		{API: "Fetch", Version: 9, Scenario: "fetch-out-of-range/offset=6", Path: "Topics[dt.data].Partitions[0].HighWatermark", Kafka: "-1", Samsa: "5"},
		{API: "Fetch", Version: 9, Scenario: "fetch-out-of-range/offset=6", Path: "Topics[dt.data].Partitions[0].HighWatermark", Kafka: "4", Samsa: "5"},
		{API: "Metadata", Version: 2, Scenario: "metadata-auto", Path: "Topics[x].ErrorCode", Kafka: "3", Samsa: "0"},
		{API: "Metadata", Version: 4, Scenario: "metadata-auto", Path: "Topics[x].ErrorCode", Kafka: "3", Samsa: "0"},
	}
	v := Judge(diffs, a)
	if len(v.Unaccepted) != 2 || v.Unaccepted[0] != diffs[1] || v.Unaccepted[1] != diffs[3] {
		t.Errorf("unaccepted = %v, want the wrong value and the out-of-range version", v.Unaccepted)
	}
	if v.BySection["pending"] != 1 || v.BySection["accepted"] != 1 {
		t.Errorf("by section = %v", v.BySection)
	}
	unused := a.Unused()
	if len(unused) != 1 || unused[0].Scenario != "never-matches" {
		t.Errorf("unused = %v", unused)
	}
}

// TestAcceptedFile parses the list in the repository: every entry has a
// reason, and the pending ones say what is wrong.
func TestAcceptedFile(t *testing.T) {
	a := loadAccepted(t)
	if len(a.Entries) == 0 {
		t.Fatal("accepted.txt has no entries")
	}
	for _, e := range a.Entries {
		switch e.Section {
		case "pending":
			if !strings.HasPrefix(e.Reason, "bug: ") {
				t.Errorf("%s: a pending entry's reason starts with \"bug: \"", e)
			}
		case "accepted":
		case "not-served":
			if !strings.HasPrefix(e.Reason, "not served: ") {
				t.Errorf("%s: a not-served entry's reason starts with \"not served: \"", e)
			}
		default:
			t.Errorf("%s: unknown section %q", e, e.Section)
		}
	}
}

func metadataResp(clusterID string, topics ...kmsg.MetadataResponseTopic) *kmsg.MetadataResponse {
	r := kmsg.NewPtrMetadataResponse()
	r.Version = 12
	r.ThrottleMillis = 7
	r.ClusterID = kmsg.StringPtr(clusterID)
	r.ControllerID = 1
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = 1, "127.0.0.1", 9092
	r.Brokers = append(r.Brokers, b)
	r.Topics = topics
	return r
}

func mdTopic(name string, id byte) kmsg.MetadataResponseTopic {
	t := kmsg.NewMetadataResponseTopic()
	t.Topic = kmsg.StringPtr(name)
	t.TopicID = [16]byte{id, id}
	p := kmsg.NewMetadataResponseTopicPartition()
	p.Leader, p.Replicas, p.ISR = 1, []int32{1}, []int32{1}
	t.Partitions = append(t.Partitions, p)
	return t
}

// TestNormalize: what legitimately differs (cluster id, topic ids, hosts,
// ports, throttle times, topic order) normalizes away; a real difference
// (a partition's leader) stays.
func TestNormalize(t *testing.T) {
	kn, sn := NewNormalizer(1), NewNormalizer(1)
	k := metadataResp("kafka-cluster", mdTopic("a", 1), mdTopic("b", 2))
	s := metadataResp("samsa-cluster", mdTopic("b", 9), mdTopic("a", 8)) // other ids, other order
	s.ThrottleMillis = 0
	s.Brokers[0].Port = 19092
	paths, kv, sv := compareFields(kn.Flatten(k), sn.Flatten(s))
	if len(paths) != 0 {
		for i := range paths {
			t.Errorf("unexpected difference %s: kafka=%s samsa=%s", paths[i], kv[i], sv[i])
		}
	}
	// The same topic id later on normalizes to the same placeholder: a
	// Fetch v13 answer names its topic by id only.
	fk, fs := kmsg.NewPtrFetchResponse(), kmsg.NewPtrFetchResponse()
	fk.Version, fs.Version = 13, 13
	ft := kmsg.NewFetchResponseTopic()
	ft.TopicID = [16]byte{1, 1}
	fk.Topics = append(fk.Topics, ft)
	ft.TopicID = [16]byte{8, 8}
	fs.Topics = append(fs.Topics, ft)
	if paths, _, _ := compareFields(kn.Flatten(fk), sn.Flatten(fs)); len(paths) != 0 {
		t.Errorf("topic ids of a known topic differ after normalization: %v", paths)
	}
	ft.TopicID = [16]byte{9, 9} // samsa's id of b, not a
	fs.Topics[0] = ft
	if paths, _, _ := compareFields(kn.Flatten(fk), sn.Flatten(fs)); len(paths) == 0 {
		t.Error("a topic id of another topic normalized to the same placeholder")
	}

	s.Topics[1].Partitions[0].Leader = 2
	paths, kv, sv = compareFields(kn.Flatten(k), sn.Flatten(s))
	if len(paths) != 1 || paths[0] != "Topics[a].Partitions[0].Leader" || kv[0] != "<self>" || sv[0] != "2" {
		t.Errorf("differences = %v %v %v, want only Topics[a].Partitions[0].Leader: <self> vs 2", paths, kv, sv)
	}
}

// TestNormalizeMembersAndMessages: generated member ids get placeholders
// in order of appearance; error messages compare only as set or not.
func TestNormalizeMembersAndMessages(t *testing.T) {
	kn, sn := NewNormalizer(1), NewNormalizer(1)
	join := func(member, leader string) *kmsg.JoinGroupResponse {
		r := kmsg.NewPtrJoinGroupResponse()
		r.Version = 9
		r.MemberID, r.LeaderID, r.Generation = member, leader, 1
		return r
	}
	k := join("kafka-aaa", "kafka-aaa")
	s := join("samsa-zzz", "samsa-zzz")
	if paths, _, _ := compareFields(kn.Flatten(k), sn.Flatten(s)); len(paths) != 0 {
		t.Errorf("member ids differ after normalization: %v", paths)
	}
	// The leader is someone else on samsa's side: a difference.
	s = join("samsa-zzz", "samsa-other")
	if paths, _, _ := compareFields(kn.Flatten(k), sn.Flatten(s)); len(paths) != 1 || paths[0] != "LeaderID" {
		t.Errorf("differences %v, want LeaderID", paths)
	}

	hb := func(code int16, msg *string) *kmsg.ConsumerGroupHeartbeatResponse {
		r := kmsg.NewPtrConsumerGroupHeartbeatResponse()
		r.ErrorCode, r.ErrorMessage = code, msg
		return r
	}
	a, b := hb(25, kmsg.StringPtr("Kafka's words")), hb(25, kmsg.StringPtr("samsa's words"))
	if paths, _, _ := compareFields(kn.Flatten(a), sn.Flatten(b)); len(paths) != 0 {
		t.Errorf("error message wording is compared: %v", paths)
	}
	b = hb(25, nil)
	if paths, _, _ := compareFields(kn.Flatten(a), sn.Flatten(b)); len(paths) != 1 || paths[0] != "ErrorMessage" {
		t.Errorf("a missing error message is not a difference: %v", paths)
	}
}

// TestCompareScopes: an element one side lacks is one difference, and
// where the error codes differ the fields beside them are not compared.
func TestCompareScopes(t *testing.T) {
	k := []Field{
		{"ErrorCode", "0"},
		{"Topics[a]", "present"}, {"Topics[a].ErrorCode", "0"}, {"Topics[a].Offset", "5"},
		{"Topics[b]", "present"}, {"Topics[b].ErrorCode", "1"}, {"Topics[b].Offset", "-1"},
		{"Topics[c]", "present"}, {"Topics[c].ErrorCode", "0"}, {"Topics[c].Offset", "3"},
	}
	s := []Field{
		{"ErrorCode", "0"},
		{"Topics[a]", "present"}, {"Topics[a].ErrorCode", "0"}, {"Topics[a].Offset", "6"},
		{"Topics[b]", "present"}, {"Topics[b].ErrorCode", "0"}, {"Topics[b].Offset", "9"},
	}
	paths, kv, sv := compareFields(k, s)
	want := []string{"Topics[a].Offset", "Topics[b].ErrorCode", "Topics[c]"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("differences %v (kafka %v, samsa %v), want %v", paths, kv, sv, want)
	}
	// A top-level error code difference is the only one reported.
	s[0].Value = "42"
	paths, _, _ = compareFields(k, s)
	if len(paths) != 1 || paths[0] != "ErrorCode" {
		t.Errorf("differences %v, want only ErrorCode", paths)
	}
}

// TestNormalizeBatches: record batches compare field by field, the CRC as
// valid or not, producer ids by placeholder.
func TestNormalizeBatches(t *testing.T) {
	kn, sn := NewNormalizer(1), NewNormalizer(1)
	mk := func(b []byte) *kmsg.FetchResponse {
		r := kmsg.NewPtrFetchResponse()
		r.Version = 12
		tp := kmsg.NewFetchResponseTopic()
		tp.Topic = "t"
		p := kmsg.NewFetchResponseTopicPartition()
		p.RecordBatches = b
		tp.Partitions = append(tp.Partitions, p)
		r.Topics = append(r.Topics, tp)
		return r
	}
	recs := Values("v", 3)
	kb := Batch(BatchOpts{ProducerID: 7, BaseSequence: 0}, recs...)
	sb := Batch(BatchOpts{ProducerID: 99, BaseSequence: 0}, recs...)
	if paths, _, _ := compareFields(kn.Flatten(mk(kb)), sn.Flatten(mk(sb))); len(paths) != 0 {
		t.Errorf("batches differing only in producer id differ after normalization: %v", paths)
	}
	bad := append([]byte(nil), sb...)
	bad[len(bad)-1] ^= 1 // a record byte: the CRC no longer matches, the records differ
	paths, _, sv := compareFields(kn.Flatten(mk(kb)), sn.Flatten(mk(bad)))
	got := strings.Join(paths, " ")
	if !strings.Contains(got, ".CRC") || !strings.Contains(got, ".Records") {
		t.Errorf("differences %v (%v), want the CRC and the records", paths, sv)
	}
}

// TestBatchCRC: Batch writes a CRC-32C Kafka accepts (over attributes
// to the end), and rewriteBatches keeps it valid after a producer id swap.
func TestBatchCRC(t *testing.T) {
	b := Batch(BatchOpts{ProducerID: 5, ProducerEpoch: 0, BaseSequence: 0}, Values("x", 2)...)
	check := func(b []byte) {
		t.Helper()
		if got, want := binary.BigEndian.Uint32(b[17:]), crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)); got != want {
			t.Errorf("crc %08x, want %08x", got, want)
		}
	}
	check(b)
	a := newAssigned(NewNormalizer(1), NewNormalizer(1))
	a.pids[5] = 42
	a.epochs[pidEpoch{5, 0}] = 3
	out := a.rewriteBatches(b)
	check(out)
	if pid := int64(binary.BigEndian.Uint64(out[43:])); pid != 42 {
		t.Errorf("producer id %d, want 42", pid)
	}
	if epoch := int16(binary.BigEndian.Uint16(out[51:])); epoch != 3 {
		t.Errorf("producer epoch %d, want 3", epoch)
	}
	if pid := int64(binary.BigEndian.Uint64(b[43:])); pid != 5 {
		t.Error("rewriteBatches changed its input")
	}
}

// TestRewrite: Kafka-assigned values in a later request become samsa's.
func TestRewrite(t *testing.T) {
	kn, sn := NewNormalizer(1), NewNormalizer(1)
	a := newAssigned(kn, sn)
	kn.topicNames[[16]byte{1}] = "t"
	sn.topicNames[[16]byte{2}] = "t"
	jreq := kmsg.NewPtrJoinGroupRequest()
	jreq.Group = "g"
	kj, sj := kmsg.NewPtrJoinGroupResponse(), kmsg.NewPtrJoinGroupResponse()
	kj.MemberID, kj.Generation = "kafka-m", 3
	sj.MemberID, sj.Generation = "samsa-m", 1
	a.learn(jreq, kj, sj)

	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "g", "kafka-m", 3
	as := kmsg.NewSyncGroupRequestGroupAssignment()
	as.MemberID = "kafka-m"
	sync.GroupAssignment = append(sync.GroupAssignment, as)
	a.rewrite(sync)
	if sync.MemberID != "samsa-m" || sync.Generation != 1 || sync.GroupAssignment[0].MemberID != "samsa-m" {
		t.Errorf("sync = member %q gen %d assignment %q", sync.MemberID, sync.Generation, sync.GroupAssignment[0].MemberID)
	}
	// Another group's generation 3 is not this group's.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.Generation = "other", 3
	a.rewrite(hb)
	if hb.Generation != 3 {
		t.Errorf("another group's generation rewritten to %d", hb.Generation)
	}
	f := kmsg.NewPtrFetchRequest()
	f.Version = 13
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = [16]byte{1}
	f.Topics = append(f.Topics, ft)
	a.rewrite(f)
	if f.Topics[0].TopicID != ([16]byte{2}) {
		t.Errorf("topic id %v, want samsa's", f.Topics[0].TopicID)
	}

	// A fetch session Kafka opened goes on on the one samsa opened.
	open := kmsg.NewPtrFetchRequest()
	open.SessionID, open.SessionEpoch = 0, 0
	kf, sf := kmsg.NewPtrFetchResponse(), kmsg.NewPtrFetchResponse()
	kf.SessionID, sf.SessionID = 77, 12345
	a.learn(open, kf, sf)
	incr := kmsg.NewPtrFetchRequest()
	incr.SessionID, incr.SessionEpoch = 77, 1
	a.rewrite(incr)
	if incr.SessionID != 12345 || incr.SessionEpoch != 1 {
		t.Errorf("incremental fetch = session %d epoch %d, want samsa's session 12345 at epoch 1", incr.SessionID, incr.SessionEpoch)
	}
	other := kmsg.NewPtrFetchRequest()
	other.SessionID, other.SessionEpoch = 78, 1
	a.rewrite(other)
	if other.SessionID != 78 {
		t.Errorf("a session id Kafka never gave was rewritten to %d", other.SessionID)
	}
}

// TestProxyRecords: the proxy forwards frames both ways unchanged and
// records each request and response with its connection, in order.
func TestProxyRecords(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() { // an echo "broker": answers each frame with its correlation id and "ok"
		c, err := up.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for {
			f, err := readFrame(c)
			if err != nil {
				return
			}
			if err := writeFrame(c, append(append([]byte(nil), f[4:8]...), "ok"...)); err != nil {
				return
			}
		}
	}()
	p, err := NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rec.jsonl.gz")
	if err := p.Record(path, "test-client", "", 1<<20); err != nil {
		t.Fatal(err)
	}
	p.Serve(up.Addr().String())
	c, err := Dial(p.Addr(), "x")
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for i := range 3 {
		req := kmsg.NewPtrMetadataRequest()
		req.Version = int16(i + 1)
		frame := kmsg.NewRequestFormatter().AppendRequest(nil, req, int32(i+10))
		frames = append(frames, frame[4:])
		if err := c.WriteFrame(frame); err != nil {
			t.Fatal(err)
		}
		resp, err := c.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if corr := int32(binary.BigEndian.Uint32(resp)); corr != int32(i+10) || string(resp[4:]) != "ok" {
			t.Fatalf("answer %q through the proxy", resp)
		}
	}
	c.Close()
	time.Sleep(50 * time.Millisecond) // the close event
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	events, err := ReadCorpus(path)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range events {
		dirs = append(dirs, e.Dir)
	}
	if got := strings.Join(dirs, " "); got != "meta req resp req resp req resp close end" {
		t.Fatalf("events %s", got)
	}
	for i := range 3 {
		req, resp := events[1+2*i], events[2+2*i]
		if req.Conn != 1 || req.Key != kmsg.Metadata.Int16() || req.Ver != int16(i+1) || req.Corr != int32(i+10) || !bytes.Equal(req.Frame, frames[i]) {
			t.Errorf("request %d recorded as %+v", i, req)
		}
		if resp.Corr != int32(i+10) || resp.Seq <= req.Seq {
			t.Errorf("response %d recorded as %+v", i, resp)
		}
	}
	if events[0].Client != "test-client" {
		t.Errorf("meta %+v", events[0])
	}
}
