package coordinator

// ACLs: acls/<id>, one key per ACL binding, id = the first 16 bytes of the
// SHA-256 of its canonical form in hex, so creating a binding that exists
// is a no-op (as in Kafka) and two brokers creating the same one write the
// same key. Written by CreateACLs and DeleteACLs (one transaction per chunk
// of bindings, acls/ keys only), read by every broker from the Snapshot
// (Snapshot.ACLs), which the metadata watch keeps current (acls/ lies in
// the first watch range, see watchRanges).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ACL is one ACL binding. The numbers are Kafka's: ResourceType (2 TOPIC,
// 3 GROUP, 4 CLUSTER, 5 TRANSACTIONAL_ID, 6 DELEGATION_TOKEN, 7 USER),
// PatternType (3 LITERAL, 4 PREFIXED), Operation (2 ALL ... 15), Permission
// (2 DENY, 3 ALLOW).
type ACL struct {
	ResourceType int8   `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	PatternType  int8   `json:"pattern_type"`
	Principal    string `json:"principal"`
	Host         string `json:"host"`
	Operation    int8   `json:"operation"`
	Permission   int8   `json:"permission"`
}

// ID is the binding's key under acls/.
func (a ACL) ID() string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%d\x00%s\x00%s\x00%d\x00%d", a.ResourceType, a.ResourceName, a.PatternType, a.Principal, a.Host, a.Operation, a.Permission)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

const aclsDir = "acls"

// aclChunk bounds the bindings of one transaction (etcd allows 128
// operations per transaction by default).
const aclChunk = 100

// CreateACLs stores the bindings (existing ones are left as they are) and
// returns the revision of the last write.
func (s *Store) CreateACLs(ctx context.Context, acls []ACL) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	var rev int64
	for chunk := range slices.Chunk(uniqueACLs(acls), aclChunk) {
		ops := make([]clientv3.Op, 0, len(chunk))
		for _, a := range chunk {
			val, err := json.Marshal(a)
			if err != nil {
				return rev, fmt.Errorf("coordinator: encode ACL: %w", err)
			}
			ops = append(ops, clientv3.OpPut(s.Key(aclsDir, a.ID()), string(val)))
		}
		resp, err := s.client.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return rev, fmt.Errorf("coordinator: create ACLs: %w", err)
		}
		rev = resp.Header.Revision
	}
	return rev, nil
}

// DeleteACLs removes the bindings and returns the revision of the last
// write (0 when there was nothing to delete).
func (s *Store) DeleteACLs(ctx context.Context, acls []ACL) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	var rev int64
	for chunk := range slices.Chunk(uniqueACLs(acls), aclChunk) {
		ops := make([]clientv3.Op, 0, len(chunk))
		for _, a := range chunk {
			ops = append(ops, clientv3.OpDelete(s.Key(aclsDir, a.ID())))
		}
		resp, err := s.client.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return rev, fmt.Errorf("coordinator: delete ACLs: %w", err)
		}
		rev = resp.Header.Revision
	}
	return rev, nil
}

// uniqueACLs drops repeated bindings (etcd refuses a key twice in one
// transaction).
func uniqueACLs(acls []ACL) []ACL {
	seen := make(map[ACL]bool, len(acls))
	out := make([]ACL, 0, len(acls))
	for _, a := range acls {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// applyACL decodes one acls/ key into the state.
func (m *metaState) applyACL(d *dirtySet, key, id string, value []byte, deleted bool) error {
	d.acls = true
	if deleted {
		delete(m.acls, id)
		return nil
	}
	var a ACL
	if err := json.Unmarshal(value, &a); err != nil {
		delete(m.acls, id)
		return fmt.Errorf("ACL key %q: %w", key, err)
	}
	m.acls[id] = a
	return nil
}

// aclList is the Snapshot's ACLs: sorted by resource, then the rest, so
// that DescribeAcls answers in a stable order.
func aclList(m map[string]ACL) []ACL {
	out := make([]ACL, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b ACL) int {
		if c := int(a.ResourceType) - int(b.ResourceType); c != 0 {
			return c
		}
		if c := strings.Compare(a.ResourceName, b.ResourceName); c != 0 {
			return c
		}
		if c := int(a.PatternType) - int(b.PatternType); c != 0 {
			return c
		}
		if c := strings.Compare(a.Principal, b.Principal); c != 0 {
			return c
		}
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		if c := int(a.Operation) - int(b.Operation); c != 0 {
			return c
		}
		return int(a.Permission) - int(b.Permission)
	})
	return out
}
