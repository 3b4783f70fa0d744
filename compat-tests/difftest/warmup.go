package difftest

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Warm-up: a fresh Kafka creates __consumer_offsets and
// __transaction_state on the first FindCoordinator and then loads each of
// their partitions, answering COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
// or COORDINATOR_LOAD_IN_PROGRESS meanwhile; its first InitProducerID
// waits for a producer-id block from the controller. None of that is a
// difference worth reporting, so the run starts only once every
// coordinator partition answers and a producer id can be had.

// javaHash is Java's String.hashCode (Kafka places a group or transactional
// id on partition abs(hashCode) % partitions).
func javaHash(s string) int32 {
	var h int32
	for _, c := range s {
		if c >= 0x10000 {
			c -= 0x10000
			h = 31*h + int32(0xD800+(c>>10))
			h = 31*h + int32(0xDC00+(c&0x3FF))
			continue
		}
		h = 31*h + int32(c)
	}
	return h
}

// partitionFor is Kafka's coordinator partition of key.
func partitionFor(key string, partitions int32) int32 {
	h := javaHash(key)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

// keysCovering returns one key per partition of an internal topic with
// that many partitions.
func keysCovering(prefix string, partitions int32) []string {
	keys := make([]string, partitions)
	found := int32(0)
	for i := 0; found < partitions; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		p := partitionFor(k, partitions)
		if keys[p] == "" {
			keys[p] = k
			found++
		}
	}
	return keys
}

// WarmUp waits (up to timeout) until s answers FindCoordinator for groups
// and, if transactions, for transactional ids on every partition of the
// internal topics, DescribeGroups on every group partition, and
// InitProducerID for an idempotent producer.
func WarmUp(s *Side, transactions bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	defer s.dropConn("warm-up")
	wait := func(what string, ok func() (bool, string)) error {
		for {
			done, why := ok()
			if done {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("difftest: %s: %s not ready after %v: %s", s.Name, what, timeout, why)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	findAll := func(keyType int8, keys []string) (bool, string) {
		req := findCoordinatorReq(4, keyType, keys...)
		a := s.request("warm-up", req)
		if a.Err != nil {
			return false, a.Err.Error()
		}
		for _, c := range a.Resp.(*kmsg.FindCoordinatorResponse).Coordinators {
			if c.ErrorCode != 0 {
				return false, fmt.Sprintf("%s: %v", c.Key, kerr.ErrorForCode(c.ErrorCode))
			}
		}
		return true, ""
	}
	types := []int8{0}
	if transactions {
		types = append(types, 1)
	}
	for _, kt := range types {
		topic := map[int8]string{0: "__consumer_offsets", 1: "__transaction_state"}[kt]
		if err := wait("FindCoordinator "+topic, func() (bool, string) { return findAll(kt, []string{"difftest-warm-up"}) }); err != nil {
			return err
		}
		var n int32
		if err := wait("partitions of "+topic, func() (bool, string) {
			req := metadataReq(12, topic)
			a := s.request("warm-up", req)
			if a.Err != nil {
				return false, a.Err.Error()
			}
			md := a.Resp.(*kmsg.MetadataResponse)
			if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) == 0 {
				return false, "not listed"
			}
			n = int32(len(md.Topics[0].Partitions))
			return true, ""
		}); err != nil {
			return err
		}
		keys := keysCovering("difftest-warm-up", n)
		if err := wait("coordinators on all of "+topic, func() (bool, string) { return findAll(kt, keys) }); err != nil {
			return err
		}
		if kt == 0 {
			if err := wait("group coordinators loaded", func() (bool, string) {
				a := s.request("warm-up", describeGroupsReq(5, keys...))
				if a.Err != nil {
					return false, a.Err.Error()
				}
				for _, g := range a.Resp.(*kmsg.DescribeGroupsResponse).Groups {
					if g.ErrorCode != 0 {
						return false, fmt.Sprintf("%s: %v", g.Group, kerr.ErrorForCode(g.ErrorCode))
					}
				}
				return true, ""
			}); err != nil {
				return err
			}
		}
	}
	return wait("InitProducerID", func() (bool, string) {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 4
		req.TransactionTimeoutMillis = 60000
		a := s.request("warm-up", req)
		if a.Err != nil {
			return false, a.Err.Error()
		}
		if code := a.Resp.(*kmsg.InitProducerIDResponse).ErrorCode; code != 0 {
			return false, kerr.ErrorForCode(code).Error()
		}
		return true, ""
	})
}
