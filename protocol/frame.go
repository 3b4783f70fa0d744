package protocol

import (
	"io"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ReadFrame reads one size-prefixed frame from r. It returns the frame body
// (without the 4-byte size), reusing buf when it is large enough. A size
// above maxSize returns ErrFrameTooLarge before anything is allocated; a
// negative size returns ErrMalformed.
func ReadFrame(r io.Reader, maxSize int32, buf []byte) ([]byte, error) {
	panic("TODO")
}

// RequestHeader is a decoded Kafka request header (v1 or v2).
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      string // "" when null
	// Flexible is true when the request (and so its response, except
	// ApiVersions) uses the flexible (tagged-field) encoding at this version.
	// It is false when the API key is unknown or the version is above what
	// kmsg knows.
	Flexible bool
}

// ParseRequestHeader parses the header at the front of a frame and returns the
// remaining body. The key, version and correlation id are always filled when
// at least 8 bytes are present, even when the rest fails to parse, so that the
// broker can answer with an error. For unknown keys it returns
// ErrUnknownAPIKey (with the header filled); a truncated header returns
// ErrMalformed.
func ParseRequestHeader(frame []byte) (RequestHeader, []byte, error) {
	panic("TODO")
}

// DecodeRequest decodes the body of a request whose header was parsed by
// ParseRequestHeader. The version must already be known to be supported by the
// caller. Never panics: any decoding failure (including a panic inside kmsg,
// which is recovered) returns an error wrapping ErrMalformed.
func DecodeRequest(h RequestHeader, body []byte) (kmsg.Request, error) {
	panic("TODO")
}

// AppendResponse appends a complete response frame (4-byte size, response
// header, body) to dst. The response header is v1 (with an empty tag buffer)
// when resp is flexible, v0 otherwise; ApiVersions always uses header v0.
// resp's version must already be set.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	panic("TODO")
}
