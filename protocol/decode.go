package protocol

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DecodeRequest decodes the body of a request whose header was parsed by
// ParseRequestHeader. The version must already be known to be supported by the
// caller. Never panics: any decoding failure (including a panic inside kmsg,
// which is recovered) returns an error wrapping ErrMalformed.
//
// Byte fields of the decoded request (Produce records, SASL tokens, ...)
// alias body: the caller must not reuse the frame buffer while the request is
// still in use.
//
// kmsg rejects any array whose count times the element's minimum encoded
// size exceeds the bytes left, so a forged count cannot allocate more than a
// small multiple of the body (the in-memory element over its minimum wire
// size, a few tens at most); see TestDecodeRequestHugeArrayCount.
func DecodeRequest(h RequestHeader, body []byte) (req kmsg.Request, err error) {
	defer func() {
		if r := recover(); r != nil {
			req = nil
			err = fmt.Errorf("%w: api key %d v%d: decoder panic: %v", ErrMalformed, h.APIKey, h.APIVersion, r)
		}
	}()
	return decodeRequest(h, body)
}

// decodeRequest is DecodeRequest without the recover, so that fuzzing
// surfaces kmsg panics.
func decodeRequest(h RequestHeader, body []byte) (kmsg.Request, error) {
	req := kmsg.RequestForKey(h.APIKey)
	if req == nil {
		return nil, fmt.Errorf("%w: %d", ErrUnknownAPIKey, h.APIKey)
	}
	if h.APIVersion < 0 || h.APIVersion > req.MaxVersion() {
		return nil, fmt.Errorf("%w: api key %d: version %d outside 0..%d", ErrMalformed, h.APIKey, h.APIVersion, req.MaxVersion())
	}
	req.SetVersion(h.APIVersion)
	if err := req.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("%w: api key %d v%d: %v", ErrMalformed, h.APIKey, h.APIVersion, err)
	}
	return req, nil
}
