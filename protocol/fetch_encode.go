package protocol

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch responses are the one hot path encoded by hand (DESIGN.md): kmsg's
// AppendTo copies every record byte into the frame, which profiles showed
// to be the largest cost of a consume. AppendFetchResponseVec writes every
// field exactly as kmsg's FetchResponse.AppendTo does, but leaves the record
// batches where they are and returns the frame as a vector for writev.
// fetch_encode_test.go compares the two encodings byte for byte.

// minVecRecords is the size from which a partition's records are referenced
// rather than copied: below it the copy is cheaper than another iovec.
const minVecRecords = 4 << 10

// AppendFetchResponseVec encodes the response frame of resp (size prefix,
// header, body) and returns it as a vector: written in order, vec is the
// frame that AppendResponse(nil, correlationID, resp) would build. Every
// part but the larger record batches is appended to dst; vec's entries are
// either slices of the returned dst or a partition's RecordBatches, which
// must therefore stay unchanged until vec has been written. vec is appended
// to the vec passed in (pass a reused slice to avoid allocating).
func AppendFetchResponseVec(dst []byte, vec [][]byte, correlationID int32, resp *kmsg.FetchResponse) ([]byte, [][]byte) {
	return AppendFetchResponseVecExt(dst, vec, correlationID, resp, nil)
}

// ExternalRecords says whether a partition's records are sent from outside
// the vector (a file, with sendfile) and how many bytes they are; the
// partition's RecordBatches are then ignored.
type ExternalRecords func(p *kmsg.FetchResponseTopicPartition) (n int, ok bool)

// AppendFetchResponseVecExt is AppendFetchResponseVec where external, when
// not nil, can take a partition's records out of the vector: its length
// prefix is written as usual and its place in vec is a nil entry (every
// other entry is non-nil), to be filled by the caller in order.
func AppendFetchResponseVecExt(dst []byte, vec [][]byte, correlationID int32, resp *kmsg.FetchResponse, external ExternalRecords) ([]byte, [][]byte) {
	version := resp.Version
	flex := version >= 12
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // size, set below
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if flex {
		dst = append(dst, 0) // response header v1: no tagged fields
	}
	if version >= 1 {
		dst = appendInt32(dst, resp.ThrottleMillis)
	}
	if version >= 7 {
		dst = appendInt16(dst, resp.ErrorCode)
		dst = appendInt32(dst, resp.SessionID)
	}

	// Referenced record batches: refs[i] goes after dst[:marks[i]]. vec
	// holds them until the end, when dst has stopped moving and the
	// pieces of dst between them can be sliced.
	vecStart := len(vec)
	var marksArr [16]int
	marks := marksArr[:0]
	refBytes := 0

	dst = appendArrayLen(dst, len(resp.Topics), flex)
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if version <= 12 {
			dst = appendString(dst, t.Topic, flex)
		}
		if version >= 13 {
			dst = append(dst, t.TopicID[:]...)
		}
		dst = appendArrayLen(dst, len(t.Partitions), flex)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			dst = appendInt32(dst, p.Partition)
			dst = appendInt16(dst, p.ErrorCode)
			dst = appendInt64(dst, p.HighWatermark)
			if version >= 4 {
				dst = appendInt64(dst, p.LastStableOffset)
			}
			if version >= 5 {
				dst = appendInt64(dst, p.LogStartOffset)
			}
			if version >= 4 {
				txns := p.AbortedTransactions
				dst = appendNullableArrayLen(dst, len(txns), txns == nil, flex)
				for k := range txns {
					dst = appendInt64(dst, txns[k].ProducerID)
					dst = appendInt64(dst, txns[k].FirstOffset)
					if flex {
						dst = appendTagsWithCount(dst, &txns[k].UnknownTags)
					}
				}
			}
			if version >= 11 {
				dst = appendInt32(dst, p.PreferredReadReplica)
			}
			recs := p.RecordBatches
			extN, ext := 0, false
			if external != nil {
				extN, ext = external(p)
			}
			switch {
			case ext:
				if flex {
					dst = appendUvarint(dst, 1+uint32(extN))
				} else {
					dst = appendInt32(dst, int32(extN))
				}
				marks = append(marks, len(dst))
				vec = append(vec, nil)
				refBytes += extN
			case recs == nil:
				if flex {
					dst = append(dst, 0)
				} else {
					dst = appendInt32(dst, -1)
				}
			default:
				if flex {
					dst = appendUvarint(dst, 1+uint32(len(recs)))
				} else {
					dst = appendInt32(dst, int32(len(recs)))
				}
				if len(recs) < minVecRecords {
					dst = append(dst, recs...)
				} else {
					marks = append(marks, len(dst))
					vec = append(vec, recs)
					refBytes += len(recs)
				}
			}
			if flex {
				dst = appendFetchPartitionTags(dst, p)
			}
		}
		if flex {
			dst = appendTagsWithCount(dst, &t.UnknownTags)
		}
	}
	if flex {
		n := resp.UnknownTags.Len()
		if len(resp.Brokers) > 0 {
			n++
		}
		dst = appendUvarint(dst, uint32(n))
		if len(resp.Brokers) > 0 {
			dst = appendUvarint(dst, 0)
			at := len(dst)
			dst = appendArrayLen(dst, len(resp.Brokers), true)
			for i := range resp.Brokers {
				b := &resp.Brokers[i]
				dst = appendInt32(dst, b.NodeID)
				dst = appendString(dst, b.Host, true)
				dst = appendInt32(dst, b.Port)
				dst = appendNullableString(dst, b.Rack, true)
				dst = appendTagsWithCount(dst, &b.UnknownTags)
			}
			dst = prefixUvarintLen(dst, at)
		}
		dst = resp.UnknownTags.AppendEach(dst)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4+refBytes))

	// Interleave: vec[vecStart:] holds the refs; spread them out into
	// [dst piece, ref, dst piece, ref, ..., dst piece].
	nrefs := len(marks)
	for range nrefs + 1 {
		vec = append(vec, nil)
	}
	refs := vec[vecStart : vecStart+nrefs]
	out := vec[vecStart:]
	// Walk backwards so every ref is read before its slot is overwritten
	// (ref k moves from vecStart+k to vecStart+2k+1 >= vecStart+k).
	end := len(dst)
	out[2*nrefs] = dst[marksOr(marks, nrefs, start):end]
	for k := nrefs - 1; k >= 0; k-- {
		out[2*k+1] = refs[k]
		out[2*k] = dst[marksOr(marks, k, start):marks[k]]
	}
	return dst, vec
}

// marksOr returns where the dst piece before ref k starts: the frame start
// for the first, else the end of the previous piece.
func marksOr(marks []int, k, start int) int {
	if k == 0 {
		return start
	}
	return marks[k-1]
}

// appendFetchPartitionTags writes a partition's tagged fields, each only when
// it differs from its default, as kmsg does.
func appendFetchPartitionTags(dst []byte, p *kmsg.FetchResponseTopicPartition) []byte {
	de, cl, sn := &p.DivergingEpoch, &p.CurrentLeader, &p.SnapshotID
	hasDE := de.Epoch != -1 || de.EndOffset != -1 || de.UnknownTags.Len() > 0
	hasCL := cl.LeaderID != -1 || cl.LeaderEpoch != -1 || cl.UnknownTags.Len() > 0
	hasSN := sn.EndOffset != -1 || sn.Epoch != -1 || sn.UnknownTags.Len() > 0
	n := p.UnknownTags.Len()
	for _, has := range [3]bool{hasDE, hasCL, hasSN} {
		if has {
			n++
		}
	}
	dst = appendUvarint(dst, uint32(n))
	if hasDE {
		dst = appendUvarint(dst, 0)
		at := len(dst)
		dst = appendInt32(dst, de.Epoch)
		dst = appendInt64(dst, de.EndOffset)
		dst = appendTagsWithCount(dst, &de.UnknownTags)
		dst = prefixUvarintLen(dst, at)
	}
	if hasCL {
		dst = appendUvarint(dst, 1)
		at := len(dst)
		dst = appendInt32(dst, cl.LeaderID)
		dst = appendInt32(dst, cl.LeaderEpoch)
		dst = appendTagsWithCount(dst, &cl.UnknownTags)
		dst = prefixUvarintLen(dst, at)
	}
	if hasSN {
		dst = appendUvarint(dst, 2)
		at := len(dst)
		dst = appendInt64(dst, sn.EndOffset)
		dst = appendInt32(dst, sn.Epoch)
		dst = appendTagsWithCount(dst, &sn.UnknownTags)
		dst = prefixUvarintLen(dst, at)
	}
	return p.UnknownTags.AppendEach(dst)
}

// prefixUvarintLen inserts, at dst[at], the uvarint length of dst[at:].
func prefixUvarintLen(dst []byte, at int) []byte {
	n := len(dst) - at
	var lb [5]byte
	l := appendUvarint(lb[:0], uint32(n))
	dst = append(dst, l...) // grow by len(l)
	copy(dst[at+len(l):], dst[at:at+n])
	copy(dst[at:], l)
	return dst
}

// appendTagsWithCount writes a tagged-field section holding only unknown
// tags (kmsg keeps tags it could not parse and writes them back).
func appendTagsWithCount(dst []byte, t *kmsg.Tags) []byte {
	if t.Len() == 0 {
		return append(dst, 0)
	}
	dst = appendUvarint(dst, uint32(t.Len()))
	return t.AppendEach(dst)
}

func appendInt16(dst []byte, v int16) []byte {
	return binary.BigEndian.AppendUint16(dst, uint16(v))
}

func appendInt32(dst []byte, v int32) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(v))
}

func appendInt64(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v))
}

func appendUvarint(dst []byte, u uint32) []byte {
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// appendArrayLen writes an array length: int32, or uvarint length+1 when
// flexible (compact).
func appendArrayLen(dst []byte, n int, flex bool) []byte {
	if flex {
		return appendUvarint(dst, 1+uint32(n))
	}
	return appendInt32(dst, int32(n))
}

func appendNullableArrayLen(dst []byte, n int, isNil, flex bool) []byte {
	if isNil {
		if flex {
			return append(dst, 0)
		}
		return appendInt32(dst, -1)
	}
	return appendArrayLen(dst, n, flex)
}

func appendString(dst []byte, s string, flex bool) []byte {
	if flex {
		dst = appendUvarint(dst, 1+uint32(len(s)))
	} else {
		dst = appendInt16(dst, int16(len(s)))
	}
	return append(dst, s...)
}

func appendNullableString(dst []byte, s *string, flex bool) []byte {
	if s == nil {
		if flex {
			return append(dst, 0)
		}
		return appendInt16(dst, -1)
	}
	return appendString(dst, *s, flex)
}
