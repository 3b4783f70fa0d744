package coordinator

import (
	"testing"
)

// TestSecurityStateReachesOtherBrokers: ACLs, SCRAM credentials and quotas
// written through one Store are in another Store's Snapshot (the metadata
// watch carries them), deletions too, and a relist (after a compacted
// watch) reads them back.
func TestSecurityStateReachesOtherBrokers(t *testing.T) {
	s1 := openEmbedded(t, "")
	defer closeStore(t, s1)
	s2 := openClient(t, s1, 0)
	defer closeStore(t, s2)
	ctx := testCtx(t)

	a1 := ACL{ResourceType: 2, ResourceName: "orders", PatternType: 3, Principal: "User:alice", Host: "*", Operation: 4, Permission: 3}
	a2 := ACL{ResourceType: 3, ResourceName: "app-", PatternType: 4, Principal: "User:bob", Host: "10.0.0.1", Operation: 3, Permission: 2}
	rev, err := s1.CreateACLs(ctx, []ACL{a2, a1, a1})
	if err != nil {
		t.Fatal(err)
	}
	snap := waitRev(t, s2, rev)
	if len(snap.ACLs) != 2 || snap.ACLs[0] != a1 || snap.ACLs[1] != a2 || snap.ACLRevision == 0 {
		t.Fatalf("ACLs %+v (revision %d)", snap.ACLs, snap.ACLRevision)
	}
	aclRev := snap.ACLRevision

	u := SCRAMKey{Mechanism: "SCRAM-SHA-256", User: "al/ice=1"}
	cred := ScramCredential{Salt: []byte("salt"), StoredKey: []byte("sk"), ServerKey: []byte("srv"), Iterations: 4096}
	if rev, err = s1.AlterSCRAM(ctx, []SCRAMChange{{Key: u, Credential: &cred}}); err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, s2, rev)
	if got, ok := snap.SCRAM[u]; !ok || string(got.StoredKey) != "sk" || got.Iterations != 4096 {
		t.Fatalf("SCRAM %+v", snap.SCRAM)
	}
	if snap.ACLRevision != aclRev {
		t.Fatal("a SCRAM change moved the ACL revision")
	}

	e := QuotaEntity{HasUser: true, User: "alice", HasClientID: true, DefaultClientID: true}
	if rev, err = s1.AlterQuotas(ctx, e, map[string]float64{"producer_byte_rate": 1024, "consumer_byte_rate": 2048}, nil); err != nil {
		t.Fatal(err)
	}
	snap = waitRev(t, s2, rev)
	if q := snap.Quotas[e]; q["producer_byte_rate"] != 1024 || q["consumer_byte_rate"] != 2048 {
		t.Fatalf("quotas %+v", snap.Quotas)
	}
	if rev, err = s1.AlterQuotas(ctx, e, nil, []string{"consumer_byte_rate"}); err != nil {
		t.Fatal(err)
	}
	if q := waitRev(t, s2, rev).Quotas[e]; len(q) != 1 || q["producer_byte_rate"] != 1024 {
		t.Fatalf("after removal: %+v", q)
	}

	// Deletions.
	if rev, err = s1.DeleteACLs(ctx, []ACL{a1}); err != nil {
		t.Fatal(err)
	}
	if snap = waitRev(t, s2, rev); len(snap.ACLs) != 1 || snap.ACLs[0] != a2 || snap.ACLRevision <= aclRev {
		t.Fatalf("after delete: %+v", snap.ACLs)
	}
	if rev, err = s1.AlterQuotas(ctx, e, nil, []string{"producer_byte_rate"}); err != nil {
		t.Fatal(err)
	}
	if snap = waitRev(t, s2, rev); len(snap.Quotas) != 0 {
		t.Fatalf("an entity with no value left: %+v", snap.Quotas)
	}

	// A relist reads everything back.
	s2.relistNow <- struct{}{}
	eventually(t, 5e9, "relist", func() bool { return s2.relists.Load() >= 2 })
	snap = s2.Snapshot()
	if len(snap.ACLs) != 1 || snap.ACLs[0] != a2 || len(snap.SCRAM) != 1 {
		t.Fatalf("after relist: ACLs %+v SCRAM %+v", snap.ACLs, snap.SCRAM)
	}
}

func TestQuotaEntityKey(t *testing.T) {
	for _, e := range []QuotaEntity{
		{HasUser: true, User: "a,b=c/<default>"},
		{HasUser: true, DefaultUser: true},
		{HasClientID: true, ClientID: "x y"},
		{HasUser: true, User: "u", HasClientID: true, DefaultClientID: true},
	} {
		got, err := ParseQuotaEntity(e.String())
		if err != nil || got != e {
			t.Errorf("%+v -> %q -> %+v, %v", e, e.String(), got, err)
		}
	}
}
