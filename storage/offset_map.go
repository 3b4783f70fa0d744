package storage

import (
	"hash/maphash"
	"math/bits"
)

// offsetMap is the cleaner's key -> latest offset map (Kafka's
// SkimpyOffsetMap): a fixed-size open-addressing table of 128-bit key
// hashes and offsets, so that its memory is bounded by
// log.cleaner.dedupe.buffer.size whatever the keys are. Two keys whose 128
// bits collide would be taken for one (Kafka takes the same chance with
// MD5); the seeds are random per map, so no producer can aim at it.
type offsetMap struct {
	slots   []omSlot
	mask    uint64
	used    int
	limit   int // at most this many keys (the load factor)
	s1, s2  maphash.Seed
	lastOff int64 // the largest offset put, -1 when empty
}

// omSlot is one entry; off < 0 marks an empty slot.
type omSlot struct {
	h1, h2 uint64
	off    int64
}

// omSlotSize is what one slot costs, for sizing a map to a memory budget.
const omSlotSize = 24

// newOffsetMap makes a map of at most budget bytes that holds up to want
// keys when the budget allows (fewer slots make a cheaper map for a small
// log).
func newOffsetMap(budget, want int64, load float64) *offsetMap {
	n := offsetMapSlots(budget, want, load)
	m := &offsetMap{slots: make([]omSlot, n), mask: n - 1}
	m.setLoad(load)
	m.clear()
	return m
}

// setLoad sets how full the map may get (log.cleaner.io.buffer.load.factor);
// one slot always stays empty, so that a probe ends.
func (m *offsetMap) setLoad(load float64) {
	m.limit = min(int(float64(len(m.slots))*load), len(m.slots)-1)
}

// offsetMapSlots is the slot count of a map for budget and want: a power of
// two (probes use a mask), at least want/load, at most what budget pays for.
func offsetMapSlots(budget, want int64, load float64) uint64 {
	maxSlots := max(budget/omSlotSize, 2)
	n := uint64(max(int64(float64(want)/load)+1, 2))
	n = 1 << bits.Len64(n-1)
	for int64(n) > maxSlots {
		n >>= 1
	}
	return n
}

// clear empties the map (new seeds: a new cleaning).
func (m *offsetMap) clear() {
	for i := range m.slots {
		m.slots[i] = omSlot{off: -1}
	}
	m.used, m.lastOff = 0, -1
	m.s1, m.s2 = maphash.MakeSeed(), maphash.MakeSeed()
}

func (m *offsetMap) hash(key []byte) (uint64, uint64) {
	return maphash.Bytes(m.s1, key), maphash.Bytes(m.s2, key)
}

// full reports whether n more keys might not fit.
func (m *offsetMap) full(n int) bool { return m.used+n > m.limit }

// put records that key's latest offset is off (puts come in offset order).
func (m *offsetMap) put(key []byte, off int64) {
	h1, h2 := m.hash(key)
	for i := h1 & m.mask; ; i = (i + 1) & m.mask {
		s := &m.slots[i]
		if s.off < 0 {
			*s = omSlot{h1: h1, h2: h2, off: off}
			m.used++
			break
		}
		if s.h1 == h1 && s.h2 == h2 {
			s.off = off
			break
		}
	}
	m.lastOff = max(m.lastOff, off)
}

// get returns key's latest offset, or -1.
func (m *offsetMap) get(key []byte) int64 {
	h1, h2 := m.hash(key)
	for i := h1 & m.mask; ; i = (i + 1) & m.mask {
		s := &m.slots[i]
		if s.off < 0 {
			return -1
		}
		if s.h1 == h1 && s.h2 == h2 {
			return s.off
		}
	}
}
