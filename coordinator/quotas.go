package coordinator

// Client quotas: quotas/<entity>, the entity "user=<name>" and/or
// "client-id=<name>" joined with "," (user first; names query-escaped, the
// default entity "<default>"), the value its quota values by key
// (producer_byte_rate, ...). Written by AlterQuotas (compare-and-swap on
// the key, quotas/ keys only); read from the Snapshot (Snapshot.Quotas) by
// every broker's quota manager. quotas/ lies in the second watch range
// (between producer-ids and scram/).

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

const quotasDir = "quotas"

// QuotaEntity names who a quota applies to. A component is unset (the
// entity does not name it), the default ("<default>" in Kafka's tools:
// Default set) or a name.
type QuotaEntity struct {
	User, ClientID               string
	HasUser, HasClientID         bool
	DefaultUser, DefaultClientID bool
}

// DefaultName marks a default entity component in keys.
const DefaultName = "<default>"

// String is the entity's key under quotas/.
func (e QuotaEntity) String() string {
	var parts []string
	if e.HasUser {
		n := url.QueryEscape(e.User)
		if e.DefaultUser {
			n = DefaultName
		}
		parts = append(parts, "user="+n)
	}
	if e.HasClientID {
		n := url.QueryEscape(e.ClientID)
		if e.DefaultClientID {
			n = DefaultName
		}
		parts = append(parts, "client-id="+n)
	}
	return strings.Join(parts, ",")
}

// ParseQuotaEntity parses a key made by String.
func ParseQuotaEntity(s string) (QuotaEntity, error) {
	var e QuotaEntity
	for _, p := range strings.Split(s, ",") {
		typ, name, ok := strings.Cut(p, "=")
		if !ok {
			return e, fmt.Errorf("coordinator: quota entity %q", s)
		}
		dflt := name == DefaultName
		if !dflt {
			var err error
			if name, err = url.QueryUnescape(name); err != nil {
				return e, fmt.Errorf("coordinator: quota entity %q: %w", s, err)
			}
		} else {
			name = ""
		}
		switch typ {
		case "user":
			e.HasUser, e.User, e.DefaultUser = true, name, dflt
		case "client-id":
			e.HasClientID, e.ClientID, e.DefaultClientID = true, name, dflt
		default:
			return e, fmt.Errorf("coordinator: quota entity %q: unknown type %s", s, typ)
		}
	}
	return e, nil
}

// AlterQuotas sets and removes quota values of one entity (an entity left
// with no value is deleted) and returns the revision written, 0 when
// nothing changed.
func (s *Store) AlterQuotas(ctx context.Context, e QuotaEntity, set map[string]float64, remove []string) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	key := s.Key(quotasDir, e.String())
	for range casRetries {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("coordinator: read quotas of %s: %w", e, err)
		}
		vals := map[string]float64{}
		var modRev int64
		if len(resp.Kvs) == 1 {
			modRev = resp.Kvs[0].ModRevision
			if err := json.Unmarshal(resp.Kvs[0].Value, &vals); err != nil {
				vals = map[string]float64{}
			}
		}
		old := maps.Clone(vals)
		for _, k := range remove {
			delete(vals, k)
		}
		maps.Copy(vals, set)
		if maps.Equal(old, vals) && modRev != 0 || len(vals) == 0 && modRev == 0 {
			return 0, nil
		}
		op := clientv3.OpDelete(key)
		if len(vals) > 0 {
			b, err := json.Marshal(vals)
			if err != nil {
				return 0, err
			}
			op = clientv3.OpPut(key, string(b))
		}
		tr, err := s.client.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).Then(op).Commit()
		if err != nil {
			return 0, fmt.Errorf("coordinator: alter quotas of %s: %w", e, err)
		}
		if tr.Succeeded {
			return tr.Header.Revision, nil
		}
	}
	return 0, fmt.Errorf("coordinator: alter quotas of %s: %w", e, ErrConflict)
}

// applyQuota decodes one quotas/ key.
func (m *metaState) applyQuota(d *dirtySet, key, rest string, value []byte, deleted bool) error {
	e, err := ParseQuotaEntity(rest)
	if err != nil {
		return err
	}
	d.quotas = true
	if deleted {
		delete(m.quotas, e)
		return nil
	}
	vals := map[string]float64{}
	if err := json.Unmarshal(value, &vals); err != nil {
		delete(m.quotas, e)
		return fmt.Errorf("quota key %q: %w", key, err)
	}
	m.quotas[e] = vals
	return nil
}
