package group

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// bigJoin joins (or rejoins, with memberID set) group "g" with the given
// protocol metadata and returns the completed join.
func bigJoin(t *testing.T, c *Coordinator, memberID string, meta []byte) *kmsg.JoinGroupResponse {
	t.Helper()
	ctx := context.Background()
	req := joinReq(memberID, "")
	req.Protocols[0].Metadata = meta
	r := c.JoinGroup(ctx, req, "client", "/127.0.0.1")
	if r.ErrorCode == kerr.MemberIDRequired.Code {
		req.MemberID = r.MemberID
		r = c.JoinGroup(ctx, req, "client", "/127.0.0.1")
	}
	if r.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	return r
}

// groupKeys returns the keys under groups/ (relative to it) and the value of
// groups/g.
func groupKeys(t *testing.T, e *env) ([]string, string) {
	t.Helper()
	prefix := e.store.Key("groups") + "/"
	resp, err := e.store.Client().Get(context.Background(), prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	val := ""
	for _, kv := range resp.Kvs {
		k := strings.TrimPrefix(string(kv.Key), prefix)
		keys = append(keys, k)
		if k == "g" {
			val = string(kv.Value)
		}
	}
	return keys, val
}

// checkChunked asserts groups/g names chunks and that exactly those exist.
func checkChunked(t *testing.T, e *env, want int) {
	t.Helper()
	keys, val := groupKeys(t, e)
	if !strings.HasPrefix(val, `{"chunked":`) {
		t.Fatalf("groups/g is not a chunk reference: %.80q", val)
	}
	if len(keys) != want+1 {
		t.Fatalf("keys under groups/: %v, want the record and %d chunks", keys, want)
	}
	version := strings.Split(keys[1], "/")[1]
	for _, k := range keys[1:] {
		if !strings.HasPrefix(k, "g/"+version+"/") {
			t.Fatalf("chunk of another version left: %s (record has %s)", k, version)
		}
	}
}

// describeMember returns the one member's metadata and assignment.
func describeMember(t *testing.T, c *Coordinator) ([]byte, []byte) {
	t.Helper()
	d := c.DescribeGroup("g", 5)
	if d.ErrorCode != 0 || d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("describe: code %d state %s %d members", d.ErrorCode, d.State, len(d.Members))
	}
	return d.Members[0].ProtocolMetadata, d.Members[0].MemberAssignment
}

// A group whose record is far beyond etcd's request limit is stored in
// chunks, loads back after a restart, is replaced by a newer version without
// leaving the old chunks, shrinks back to one value and is deleted whole.
func TestBigGroupRecordChunked(t *testing.T) {
	e := newEnv(t)
	c := e.coordinator(t, nil)
	ctx := context.Background()

	// 1 MiB of metadata and 1 MiB of assignment: 2.7 MiB of JSON (base64),
	// past etcd's 1.5 MiB.
	meta, assign := randomBytes(1<<20, 1), randomBytes(1<<20, 2)
	j := bigJoin(t, c, "", meta)
	sr := syncReq(j.MemberID, j.Generation, map[string]string{j.MemberID: string(assign)})
	if r := c.SyncGroup(ctx, sr); r.ErrorCode != 0 {
		t.Fatalf("sync of a big group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	checkChunked(t, e, 6) // 2.7 MiB in 511 KiB chunks

	// A restart loads it.
	c.Close()
	c = e.coordinator(t, nil)
	gotMeta, gotAssign := describeMember(t, c)
	if !bytes.Equal(gotMeta, meta) || !bytes.Equal(gotAssign, assign) {
		t.Fatalf("after restart: metadata %d bytes, assignment %d bytes (equal: %v, %v)",
			len(gotMeta), len(gotAssign), bytes.Equal(gotMeta, meta), bytes.Equal(gotAssign, assign))
	}

	// New metadata: a rebalance, a new generation, a new record version;
	// the previous version's chunks go in the same transaction.
	meta2, assign2 := randomBytes(3<<19, 3), randomBytes(1<<19, 4)
	j = bigJoin(t, c, j.MemberID, meta2)
	sr = syncReq(j.MemberID, j.Generation, map[string]string{j.MemberID: string(assign2)})
	if r := c.SyncGroup(ctx, sr); r.ErrorCode != 0 {
		t.Fatalf("second sync: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	checkChunked(t, e, 6)
	c.Close()
	c = e.coordinator(t, nil)
	if gotMeta, gotAssign := describeMember(t, c); !bytes.Equal(gotMeta, meta2) || !bytes.Equal(gotAssign, assign2) {
		t.Fatal("after the second restart: not the newest record")
	}

	// The member leaves: the empty group's record is one value again.
	lr := kmsg.NewPtrLeaveGroupRequest()
	lr.Version = 3
	lr.Group = "g"
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = j.MemberID
	lr.Members = append(lr.Members, m)
	if r := c.LeaveGroup(lr); r.ErrorCode != 0 {
		t.Fatalf("leave: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	e.clock.Advance(11 * time.Second) // the rebalance timeout: the join completes with no members
	deadline := time.Now().Add(10 * time.Second)
	for {
		keys, val := groupKeys(t, e)
		if len(keys) == 1 && strings.HasPrefix(val, `{"type":"classic"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after leave: keys %v, record %.80q", keys, val)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code := c.DeleteGroup(ctx, "g"); code != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(code))
	}
	if keys, _ := groupKeys(t, e); len(keys) != 0 {
		t.Fatalf("after delete: %v", keys)
	}
}

// Records written as one JSON value (every record before chunking existed)
// still load; chunks that no record names (a chunked write that died before
// its switch) are ignored and removed by the group's next write; a chunked
// record with a chunk missing is ignored, loudly, without stopping the load.
func TestGroupRecordCompatibility(t *testing.T) {
	e := newEnv(t)
	cli := e.store.Client()
	ctx := context.Background()
	legacy := `{"type":"classic","protocol_type":"consumer","protocol":"range","generation":3,"leader":"m-1",` +
		`"state_timestamp":1700000000000,"members":[{"id":"m-1","client_id":"c","client_host":"/h",` +
		`"session_timeout_ms":30000,"rebalance_timeout_ms":60000,"protocols":[{"name":"range","metadata":"bWV0YQ=="}],` +
		`"assignment":"YXNzaWdu"}]}`
	put := func(key, val string) {
		t.Helper()
		if _, err := cli.Put(ctx, e.store.Key("groups", key), val); err != nil {
			t.Fatal(err)
		}
	}
	put("g", legacy)
	put("g/00000000deadbeef/000000", "orphan")
	put("broken", `{"chunked":{"version":"0000000000000001","chunks":2,"bytes":10,"crc32c":0}}`)
	put("broken/0000000000000001/000000", "01234")

	c := e.coordinator(t, nil)
	gotMeta, gotAssign := describeMember(t, c)
	if string(gotMeta) != "meta" || string(gotAssign) != "assign" {
		t.Fatalf("legacy record: metadata %q assignment %q", gotMeta, gotAssign)
	}
	if d := c.DescribeGroup("broken", 6); d.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("group with a missing chunk: %+v", d)
	}

	// The member rejoins with new metadata; the new record (one value)
	// removes the orphan.
	j := bigJoin(t, c, "m-1", []byte("meta2"))
	if r := c.SyncGroup(ctx, syncReq(j.MemberID, j.Generation, map[string]string{j.MemberID: "a2"})); r.ErrorCode != 0 {
		t.Fatalf("sync: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	keys, val := groupKeys(t, e)
	for _, k := range keys {
		if strings.HasPrefix(k, "g/") {
			t.Fatalf("orphan chunk %s survived the group's write", k)
		}
	}
	if !strings.Contains(val, `"generation":4`) {
		t.Fatalf("record after rejoin: %s", val)
	}
}

// A commit queued behind a group write that does not come back (etcd stuck)
// gives up at its own deadline instead of waiting for the group's write lock
// forever.
func TestWriteLockWaitIsBounded(t *testing.T) {
	e := newEnv(t)
	c := e.coordinator(t, nil)
	ctx := context.Background()
	args := CommitArgs{Group: "g", Generation: -1, Version: 8}
	if codes := c.CommitOffsets(ctx, args, []Commit{{Topic: "t", Offset: 1, LeaderEpoch: -1}}); codes[0] != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(codes[0]))
	}
	g, _ := c.find("g", false)
	if err := g.wmu.lock(ctx); err != nil { // the stuck write
		t.Fatal(err)
	}
	defer g.wmu.unlock()
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	done := make(chan []int16, 1)
	go func() { done <- c.CommitOffsets(dctx, args, []Commit{{Topic: "t", Offset: 2, LeaderEpoch: -1}}) }()
	select {
	case codes := <-done:
		if codes[0] != kerr.RequestTimedOut.Code {
			t.Fatalf("queued commit: %v, want REQUEST_TIMED_OUT", kerr.ErrorForCode(codes[0]))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a commit queued behind a stuck write did not give up at its deadline")
	}
	if got, _ := c.FetchOffsets(FetchArgs{Group: "g"}); got["t"][0].Offset != 1 {
		t.Fatalf("offset after the failed commit: %+v", got)
	}
}
