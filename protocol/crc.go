package protocol

import (
	"encoding/binary"
	"hash/crc32"
)

// crcOffset is where the CRC sits; it covers [crcCoveredFrom, end).
const (
	crcOffset      = 17
	crcCoveredFrom = 21
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchCRC computes the CRC-32C the batch at the start of b should carry:
// Castagnoli over bytes [21, end), the end taken from batchLength and clamped
// to len(b). It returns 0 when b is shorter than the 21 bytes up to the
// attributes.
func BatchCRC(b []byte) uint32 {
	if len(b) < crcCoveredFrom {
		return 0
	}
	end := len(b)
	if n := int64(LogOverhead) + int64(int32(binary.BigEndian.Uint32(b[BatchLengthOffset:]))); n >= crcCoveredFrom && n < int64(end) {
		end = int(n)
	}
	return crc32.Checksum(b[crcCoveredFrom:end], castagnoli)
}
