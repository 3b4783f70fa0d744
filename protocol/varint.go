package protocol

import "errors"

var (
	errVarintTruncated = errors.New("varint truncated")
	errVarintTooLong   = errors.New("varint too long")
)

// varint reads a Kafka zigzag varint (at most 5 bytes). Like Kafka's
// ByteUtils.readVarint it rejects a sixth continuation byte; bits above 32 in
// the fifth byte are dropped as Java's int arithmetic drops them. It returns
// the number of bytes read, 0 when truncated and -1 when too long.
func varint(b []byte) (int32, int) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(v>>1) ^ -int32(v&1), i + 1
		}
	}
	return 0, -1
}

// varlong reads a Kafka zigzag varlong (at most 10 bytes); results as varint.
func varlong(b []byte) (int64, int) {
	var v uint64
	for i := 0; i < 10; i++ {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int64(v>>1) ^ -int64(v&1), i + 1
		}
	}
	return 0, -1
}
