// Package protocol is samsa's wire level: request framing, request and
// response headers, and the v2 RecordBatch header (parsing, in-place
// rewriting of the fields the broker owns, and validation).
//
// It imports nothing else of samsa's. Message bodies are decoded and encoded
// with franz-go's kmsg; this package only adds what kmsg does not do for a
// server: reading frames with a size limit, parsing request headers, and
// framing responses with the right header version.
package protocol

import (
	"errors"
)

// Sentinel errors. Callers test with errors.Is.
var (
	// ErrFrameTooLarge: the frame's size prefix is above the configured
	// socket.request.max.bytes. The connection must be closed.
	ErrFrameTooLarge = errors.New("protocol: frame too large")
	// ErrMalformed: bytes that cannot be a valid request (negative size,
	// truncated header, a count larger than the bytes left, ...).
	ErrMalformed = errors.New("protocol: malformed request")
	// ErrUnknownAPIKey: the header names an API key kmsg does not know.
	ErrUnknownAPIKey = errors.New("protocol: unknown api key")
)

// DefaultMaxRequestSize is Kafka's socket.request.max.bytes default (100 MiB).
const DefaultMaxRequestSize = 100 * 1024 * 1024
