package coordinator

// Producer-id blocks: producer-ids holds {"next": N}, the first id never
// handed out. A broker reserves a block with a CAS and hands ids out of it
// locally, as Kafka's controller does with ProducerIdsBlock.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	clientv3 "go.etcd.io/etcd/client/v3"
)

type producerIDsValue struct {
	Next int64 `json:"next"`
}

// AllocateProducerIDs reserves a block of n producer ids and returns its
// first id. Ids are never reused. The first block starts at 0.
func (s *Store) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("coordinator: invalid producer id block size %d", n)
	}
	key := s.Key("producer-ids")
	for {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("coordinator: read producer ids: %w", err)
		}
		var cur producerIDsValue
		cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		if len(resp.Kvs) > 0 {
			if err := json.Unmarshal(resp.Kvs[0].Value, &cur); err != nil {
				return 0, fmt.Errorf("coordinator: decode producer ids: %w", err)
			}
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)
		}
		if cur.Next < 0 || cur.Next > math.MaxInt64-n {
			return 0, fmt.Errorf("coordinator: producer ids exhausted (next %d)", cur.Next)
		}
		val, _ := json.Marshal(producerIDsValue{Next: cur.Next + n})
		tresp, err := s.client.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, string(val))).Commit()
		if err != nil {
			return 0, fmt.Errorf("coordinator: allocate producer ids: %w", err)
		}
		if tresp.Succeeded {
			return cur.Next, nil
		}
		// Lost the race; another broker took a block. Read again.
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// ReserveProducerIDsBelow makes sure no producer id below next is ever
// handed out: the first unallocated id becomes at least next. Rebuilding a
// cluster around existing logs uses it so that new producers never get the
// id of one the logs remember.
func (s *Store) ReserveProducerIDsBelow(ctx context.Context, next int64) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	key := s.Key("producer-ids")
	for {
		resp, err := s.client.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("coordinator: read producer ids: %w", err)
		}
		var cur producerIDsValue
		cmp := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
		if len(resp.Kvs) > 0 {
			if err := json.Unmarshal(resp.Kvs[0].Value, &cur); err != nil {
				return fmt.Errorf("coordinator: decode producer ids: %w", err)
			}
			cmp = clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)
		}
		if cur.Next >= next {
			return nil
		}
		val, _ := json.Marshal(producerIDsValue{Next: next})
		tresp, err := s.client.Txn(ctx).If(cmp).Then(clientv3.OpPut(key, string(val))).Commit()
		if err != nil {
			return fmt.Errorf("coordinator: reserve producer ids: %w", err)
		}
		if tresp.Succeeded {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
