package protocol

import (
	"encoding/binary"
	"fmt"
	"io"
)

// frameGrowStep is the largest body ReadFrame allocates in one go before any
// of it has arrived. Bigger frames are read in growing steps so that a peer
// that announces a 16 MiB frame and then stalls pins at most this much plus
// twice what it actually sent.
const frameGrowStep = 64 << 10

// ReadFrame reads one size-prefixed frame from r. It returns the frame body
// (without the 4-byte size), reusing buf when it is large enough; a larger
// frame grows from buf's storage (or frameGrowStep), doubling as its bytes
// arrive, so the size prefix alone never makes it allocate more than
// frameGrowStep. A size above maxSize returns ErrFrameTooLarge before
// anything is allocated; a negative size returns ErrMalformed. buf's
// contents are not kept.
//
// A clean close (EOF before the first byte of the size) returns io.EOF itself,
// not wrapped, so the caller can tell it from a truncated frame
// (io.ErrUnexpectedEOF, wrapped).
func ReadFrame(r io.Reader, maxSize int32, buf []byte) ([]byte, error) {
	// The size prefix is read into buf's own storage when it has room, so that
	// a steady-state read loop allocates nothing (a local array would escape
	// through the io.Reader interface).
	var size int32
	if cap(buf) >= 4 {
		hdr := buf[:4]
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, sizeErr(err)
		}
		size = int32(binary.BigEndian.Uint32(hdr))
	} else {
		hdr := make([]byte, 4)
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, sizeErr(err)
		}
		size = int32(binary.BigEndian.Uint32(hdr))
	}
	switch {
	case size < 0:
		return nil, fmt.Errorf("%w: negative frame size %d", ErrMalformed, size)
	case size > maxSize:
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, size, maxSize)
	}
	n := int(size)
	if cap(buf) >= n {
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, bodyErr(n, err)
		}
		return buf, nil
	}
	if n <= frameGrowStep {
		buf = make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, bodyErr(n, err)
		}
		return buf, nil
	}
	// Large frame, buf too small: do not trust the prefix with n bytes up
	// front; grow (doubling) as the bytes arrive, starting from buf's
	// storage when it is worth it.
	if cap(buf) < frameGrowStep {
		buf = make([]byte, 0, frameGrowStep)
	} else {
		buf = buf[:0]
	}
	for len(buf) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		end := min(cap(buf), n)
		if _, err := io.ReadFull(r, buf[len(buf):end]); err != nil {
			return nil, bodyErr(n, err)
		}
		buf = buf[:end]
	}
	return buf, nil
}

func sizeErr(err error) error {
	if err == io.EOF {
		return io.EOF
	}
	return fmt.Errorf("protocol: reading frame size: %w", err)
}

func bodyErr(n int, err error) error {
	if err == io.EOF {
		// ReadFull reports io.EOF when no body byte arrived; after a size
		// prefix that is a truncated frame, not a clean close.
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("protocol: reading %d-byte frame: %w", n, err)
}
