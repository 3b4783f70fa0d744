package placement

import "unicode/utf16"

// javaStringHashCode is Java's String.hashCode: s[0]*31^(n-1) + ... over
// UTF-16 code units, in int32 arithmetic.
func javaStringHashCode(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// Partition is the partition of an internal topic with n partitions that
// key (a group id or a transactional id) belongs to: Kafka's
// Utils.abs(key.hashCode) % n, where abs(MinInt32) is 0. n must be > 0.
func Partition(key string, n int32) int32 {
	h := javaStringHashCode(key)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

// JavaStringHashCode exposes the hash (tests that pin Kafka's values).
func JavaStringHashCode(s string) int32 { return javaStringHashCode(s) }
