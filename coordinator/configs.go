package coordinator

// Dynamic configs: broker configs altered at run time (Kafka's
// DynamicBrokerConfig) and KIP-848 group configs, each entity one key
// holding a JSON object of name -> value:
//
//	configs/brokers/<id>       one broker's dynamic values
//	configs/brokers/default    the cluster-wide dynamic defaults
//	configs/groups/<group>     one group's configs
//
// The keys sort between brokers/ and controller/, inside the metadata
// watch's first range (watch.go), so every broker's Snapshot carries them
// (Snapshot.Configs) and applies a change without a restart. They are
// written rarely (an operator's alter), never in a transaction with another
// key. An entity with no values has no key.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

const configsDir = "configs"

// BrokerConfigsDefault is the broker-config entity of the cluster-wide
// defaults (Kafka's default BROKER resource "").
const BrokerConfigsDefault = "default"

// relist reads configs/ with the other metadata dirs.
func init() { metadataDirs = append(metadataDirs, configsDir+"/") }

// DynamicConfigs are the dynamic configs of a Snapshot. Maps are never
// modified once in a Snapshot; an absent entity has no entry.
type DynamicConfigs struct {
	// Brokers by entity: a broker id in decimal, or BrokerConfigsDefault.
	Brokers map[string]map[string]string
	// Groups by group id.
	Groups map[string]map[string]string
}

// Broker returns the dynamic values of a broker-config entity (nil if none).
func (c DynamicConfigs) Broker(entity string) map[string]string { return c.Brokers[entity] }

// Group returns a group's configs (nil if none).
func (c DynamicConfigs) Group(group string) map[string]string { return c.Groups[group] }

func (s *Store) brokerConfigsKey(entity string) string { return s.Key(configsDir, "brokers", entity) }

func (s *Store) groupConfigsKey(group string) string { return s.Key(configsDir, "groups", group) }

// UpdateBrokerConfigs replaces a broker-config entity's dynamic values with
// what update returns, given the current ones (a read-modify-write that
// compares the key's revision, so concurrent alters never lose one
// another's values). update may return an error, which is returned as is;
// an empty result deletes the key. Returns the revision of the write (the
// current revision when nothing changed).
func (s *Store) UpdateBrokerConfigs(ctx context.Context, entity string, update func(cur map[string]string) (map[string]string, error)) (int64, error) {
	if entity == "" || strings.Contains(entity, "/") {
		return 0, fmt.Errorf("coordinator: bad broker config entity %q", entity)
	}
	return s.updateConfigs(ctx, s.brokerConfigsKey(entity), update)
}

// UpdateGroupConfigs is UpdateBrokerConfigs for a group's configs.
func (s *Store) UpdateGroupConfigs(ctx context.Context, group string, update func(cur map[string]string) (map[string]string, error)) (int64, error) {
	return s.updateConfigs(ctx, s.groupConfigsKey(group), update)
}

func (s *Store) updateConfigs(ctx context.Context, key string, update func(map[string]string) (map[string]string, error)) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	for range casRetries {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("coordinator: read %s: %w", key, err)
		}
		cur := map[string]string{}
		var modRev int64
		if len(resp.Kvs) > 0 {
			modRev = resp.Kvs[0].ModRevision
			if err := json.Unmarshal(resp.Kvs[0].Value, &cur); err != nil {
				// A hand-edited key: start from nothing rather than
				// refuse every alter of the entity.
				s.log.Warn().Err(err).Str("key", key).Msg("replacing an undecodable config key")
				cur = map[string]string{}
			}
		}
		next, err := update(maps.Clone(cur))
		if err != nil {
			return 0, err
		}
		if maps.Equal(next, cur) && (len(next) > 0 || modRev == 0) {
			return resp.Header.Revision, nil
		}
		op := clientv3.OpDelete(key)
		if len(next) > 0 {
			val, err := json.Marshal(next)
			if err != nil {
				return 0, fmt.Errorf("coordinator: encode %s: %w", key, err)
			}
			op = clientv3.OpPut(key, string(val))
		}
		txn, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
			Then(op).
			Commit()
		if err != nil {
			return 0, fmt.Errorf("coordinator: write %s: %w", key, err)
		}
		if txn.Succeeded {
			return txn.Header.Revision, nil
		}
	}
	return 0, fmt.Errorf("coordinator: write %s: %w", key, ErrConflict)
}

// applyConfig decodes a configs/ key (rest is the part after "configs/")
// into the state's copy-on-write maps. An undecodable value reads as an
// empty entity, logged by the caller.
func (m *metaState) applyConfig(d *dirtySet, key, rest string, value []byte, deleted bool) error {
	kind, entity, ok := strings.Cut(rest, "/")
	if !ok || entity == "" {
		return nil
	}
	var dst *map[string]map[string]string
	switch kind {
	case "brokers":
		dst = &m.configs.Brokers
	case "groups":
		dst = &m.configs.Groups
	default:
		return nil
	}
	d.configs = true
	next := maps.Clone(*dst) // never modify a map a Snapshot holds
	if next == nil {
		next = map[string]map[string]string{}
	}
	*dst = next
	delete(next, entity)
	if deleted {
		return nil
	}
	var vals map[string]string
	if err := json.Unmarshal(value, &vals); err != nil {
		return fmt.Errorf("config key %q: %w", key, err)
	}
	if len(vals) > 0 {
		next[entity] = vals
	}
	return nil
}
