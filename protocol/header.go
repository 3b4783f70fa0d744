package protocol

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// RequestHeader is a decoded Kafka request header (v1 or v2).
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      string // "" when null
	// Flexible is true when the request (and so its response, except
	// ApiVersions) uses the flexible (tagged-field) encoding at this version.
	// It is false when the API key is unknown or the version is above what
	// kmsg knows — except for ApiVersions, whose header is v2 from v3 on
	// whatever the version (see ParseRequestHeader).
	Flexible bool
}

// ParseRequestHeader parses the header at the front of a frame and returns the
// remaining body. The key, version and correlation id are always filled when
// at least 8 bytes are present, even when the rest fails to parse, so that the
// broker can answer with an error. For unknown keys it returns
// ErrUnknownAPIKey (with the header filled); a truncated header returns
// ErrMalformed.
//
// Header v2 (flexible versions) adds a tagged-field section after the client
// id; the client id itself stays a non-compact nullable string. Tags are
// skipped: no request header tag is defined.
//
// A version above what kmsg knows parses as header v1 with Flexible false (the
// broker answers UNSUPPORTED_VERSION), except ApiVersions: a client probing
// with a newer ApiVersions than ours still sends header v2, and the broker
// must read it to answer with its version list — Kafka likewise parses
// unknown newer ApiVersions requests with the newest header it knows.
func ParseRequestHeader(frame []byte) (RequestHeader, []byte, error) {
	var h RequestHeader
	if len(frame) < 8 {
		if len(frame) >= 2 {
			h.APIKey = int16(binary.BigEndian.Uint16(frame))
		}
		if len(frame) >= 4 {
			h.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
		}
		return h, nil, fmt.Errorf("%w: request header truncated at %d bytes", ErrMalformed, len(frame))
	}
	h.APIKey = int16(binary.BigEndian.Uint16(frame))
	h.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))

	var keyErr error
	req := kmsg.RequestForKey(h.APIKey)
	switch {
	case req == nil:
		// Best effort: read the client id as header v1 so the broker can
		// log who sent it; the error says what matters.
		keyErr = fmt.Errorf("%w: %d", ErrUnknownAPIKey, h.APIKey)
	case h.APIVersion > req.MaxVersion():
		h.Flexible = h.APIKey == kmsg.ApiVersions.Int16()
	case h.APIVersion >= 0:
		req.SetVersion(h.APIVersion)
		h.Flexible = req.IsFlexible()
	}

	if h.APIKey == controlledShutdownKey && h.APIVersion == 0 {
		// ControlledShutdown v0 is the one request with header v0: no
		// client id.
		return h, frame[8:], nil
	}
	clientID, rest, err := parseClientID(frame[8:])
	if err != nil {
		if keyErr != nil {
			return h, nil, keyErr
		}
		return h, nil, err
	}
	h.ClientID = clientID
	if keyErr != nil {
		return h, rest, keyErr
	}
	if h.Flexible {
		if rest, err = skipTags(rest); err != nil {
			return h, nil, fmt.Errorf("request header: %w", err)
		}
	}
	return h, rest, nil
}

const controlledShutdownKey = 7

// parseClientID reads the header's nullable (int16-length) client id.
func parseClientID(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, fmt.Errorf("%w: request header truncated before client id", ErrMalformed)
	}
	n := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	switch {
	case n == -1:
		return "", b, nil
	case n < 0:
		return "", nil, fmt.Errorf("%w: client id length %d", ErrMalformed, n)
	case int(n) > len(b):
		return "", nil, fmt.Errorf("%w: client id length %d exceeds remaining %d bytes", ErrMalformed, n, len(b))
	}
	return string(b[:n]), b[n:], nil
}

// skipTags skips a tagged-field section: uvarint count, then per field an
// uvarint tag, an uvarint size and size bytes.
func skipTags(b []byte) ([]byte, error) {
	count, b, err := uvarint32(b)
	if err != nil {
		return nil, fmt.Errorf("%w: tagged field count: %v", ErrMalformed, err)
	}
	// Every field takes at least two bytes (tag and size).
	if uint64(count)*2 > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d tagged fields exceed remaining %d bytes", ErrMalformed, count, len(b))
	}
	for i := uint32(0); i < count; i++ {
		var tag, size uint32
		if tag, b, err = uvarint32(b); err != nil {
			return nil, fmt.Errorf("%w: tagged field %d: tag: %v", ErrMalformed, i, err)
		}
		if size, b, err = uvarint32(b); err != nil {
			return nil, fmt.Errorf("%w: tagged field %d (tag %d): size: %v", ErrMalformed, i, tag, err)
		}
		if uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field %d (tag %d): size %d exceeds remaining %d bytes", ErrMalformed, i, tag, size, len(b))
		}
		b = b[size:]
	}
	return b, nil
}

// uvarint32 reads a Kafka unsigned varint (at most 5 bytes, 32 bits).
func uvarint32(b []byte) (uint32, []byte, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, nil, errVarintTruncated
		}
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, nil, errVarintTooLong
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, b[i+1:], nil
		}
	}
	return 0, nil, errVarintTooLong
}

// AppendResponse appends a complete response frame (4-byte size, response
// header, body) to dst. The response header is v1 (with an empty tag buffer)
// when resp is flexible, v0 otherwise; ApiVersions always uses header v0.
// resp's version must already be set.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	// ApiVersions responses keep header v0 at every version so that a client
	// that does not yet know our versions can always read the answer.
	if resp.IsFlexible() && resp.Key() != kmsg.ApiVersions.Int16() {
		dst = append(dst, 0) // empty tagged-field section
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
