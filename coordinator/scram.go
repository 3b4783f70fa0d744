package coordinator

// SCRAM credentials: scram/<mechanism>/<user, path-escaped>, the value a
// ScramCredential (RFC 5802's StoredKey and ServerKey, never the password
// or the salted password). Written by AlterSCRAM (one transaction for all
// the upsertions and deletions of an AlterUserScramCredentials request,
// scram/ keys only); read from the Snapshot (Snapshot.SCRAM) by every
// broker's SCRAM authenticator. scram/ lies in the second watch range
// (between producer-ids and topics-deleted/).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

const scramDir = "scram"

// SCRAMKey names one user's credential of one mechanism.
type SCRAMKey struct {
	Mechanism string // SCRAM-SHA-256 or SCRAM-SHA-512
	User      string
}

// ScramCredential is a stored SCRAM credential.
type ScramCredential struct {
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
	Iterations int32  `json:"iterations"`
}

// SCRAMChange is one upsertion (Credential set) or deletion.
type SCRAMChange struct {
	Key        SCRAMKey
	Credential *ScramCredential
}

func (s *Store) scramKey(k SCRAMKey) string {
	return s.Key(scramDir, k.Mechanism, url.PathEscape(k.User))
}

// AlterSCRAM applies the changes in one transaction and returns its
// revision.
func (s *Store) AlterSCRAM(ctx context.Context, changes []SCRAMChange) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	ops := make([]clientv3.Op, 0, len(changes))
	for _, c := range changes {
		if c.Credential == nil {
			ops = append(ops, clientv3.OpDelete(s.scramKey(c.Key)))
			continue
		}
		val, err := json.Marshal(c.Credential)
		if err != nil {
			return 0, fmt.Errorf("coordinator: encode SCRAM credential: %w", err)
		}
		ops = append(ops, clientv3.OpPut(s.scramKey(c.Key), string(val)))
	}
	if len(ops) == 0 {
		return 0, nil
	}
	resp, err := s.client.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return 0, fmt.Errorf("coordinator: alter SCRAM credentials: %w", err)
	}
	return resp.Header.Revision, nil
}

// applySCRAM decodes one scram/ key (rest: "<mechanism>/<escaped user>").
func (m *metaState) applySCRAM(d *dirtySet, key, rest string, value []byte, deleted bool) error {
	mech, esc, ok := strings.Cut(rest, "/")
	if !ok {
		return fmt.Errorf("SCRAM key %q: want scram/<mechanism>/<user>", key)
	}
	user, err := url.PathUnescape(esc)
	if err != nil {
		return fmt.Errorf("SCRAM key %q: %w", key, err)
	}
	k := SCRAMKey{Mechanism: mech, User: user}
	d.scram = true
	if deleted {
		delete(m.scram, k)
		return nil
	}
	var c ScramCredential
	if err := json.Unmarshal(value, &c); err != nil {
		delete(m.scram, k)
		return fmt.Errorf("SCRAM key %q: %w", key, err)
	}
	m.scram[k] = c
	return nil
}
