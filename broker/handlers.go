package broker

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/protocol"
)

// handlerFunc serves one decoded request. A nil response sends nothing
// (acks=0 produce).
type handlerFunc func(b *Broker, rc *reqCtx, req kmsg.Request) kmsg.Response

type handler struct {
	key      int16
	min, max int16
	// advertisedMin is what ApiVersions lists as the minimum; below min and
	// at or above it, requests get an UNSUPPORTED_VERSION answer (Produce
	// v0-v2, see DESIGN.md's client quirks).
	advertisedMin int16
	fn            handlerFunc
	// unsupportedFn, when set, builds an error response for a version
	// outside [min, max] that kmsg can still decode.
	unsupportedFn func(hdr protocol.RequestHeader, req kmsg.Request) kmsg.Response
	// transactional marks the transaction APIs: served and advertised only
	// with samsa.transactions.enable while they are being built (a broker
	// without it answers them as an unknown API, as before).
	transactional bool
}

// txn marks h as one of the transaction APIs (see handler.transactional).
func (h *handler) txn() *handler {
	h.transactional = true
	return h
}

// serves reports whether b serves h: every API, the transaction ones only
// with samsa.transactions.enable (b nil: without).
func (h *handler) serves(b *Broker) bool {
	return !h.transactional || (b != nil && b.cfg.TransactionsEnabled)
}

// handlers is the dispatch table, filled by each API file's init. The
// ApiVersions table is built from it, so the advertised versions can never
// drift from the code.
var handlers [128]*handler

// register adds an API's handler and the version range it serves.
func register(key kmsg.Key, min, max int16, fn handlerFunc) *handler {
	if kmsg.RequestForKey(key.Int16()) == nil || max > kmsg.RequestForKey(key.Int16()).MaxVersion() {
		panic("broker: register beyond what kmsg knows: " + key.Name())
	}
	if handlers[key] != nil {
		panic("broker: duplicate handler for " + key.Name())
	}
	h := &handler{key: key.Int16(), min: min, max: max, advertisedMin: min, fn: fn}
	handlers[key] = h
	return h
}

func handlerFor(key int16) *handler {
	if key < 0 || int(key) >= len(handlers) {
		return nil
	}
	return handlers[key]
}

// unsupported returns an error response for an out-of-range version, or nil
// when the connection should be closed instead (what Kafka does for versions
// it cannot parse).
func (h *handler) unsupported(hdr protocol.RequestHeader, body []byte) kmsg.Response {
	if h.unsupportedFn == nil || hdr.APIVersion < h.advertisedMin || hdr.APIVersion < 0 {
		return nil
	}
	req := kmsg.RequestForKey(hdr.APIKey)
	if hdr.APIVersion > req.MaxVersion() {
		return nil
	}
	decoded, err := protocol.DecodeRequest(hdr, body)
	if err != nil {
		return nil
	}
	resp := h.unsupportedFn(hdr, decoded)
	if resp != nil {
		resp.SetVersion(hdr.APIVersion)
	}
	return resp
}

// apiVersionsTable lists every API b serves, sorted by key.
func apiVersionsTable(b *Broker) []kmsg.ApiVersionsResponseApiKey {
	var out []kmsg.ApiVersionsResponseApiKey
	for _, h := range handlers {
		if h == nil || !h.serves(b) {
			continue
		}
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey = h.key
		k.MinVersion = h.advertisedMin
		k.MaxVersion = h.max
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ApiKey < out[j].ApiKey })
	return out
}

// errMsg is a small helper for the (code, message) pairs handlers return.
func errCode(err *kerr.Error) int16 {
	if err == nil {
		return 0
	}
	return err.Code
}

func strPtr(s string) *string { return &s }
