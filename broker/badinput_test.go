package broker

import (
	"encoding/binary"
	"math/rand"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGarbageNeverTakesTheBrokerDown sends malformed frames for every API
// key the broker serves (random bodies, truncated bodies, huge array counts)
// and checks after each batch that the broker still answers a well-formed
// request. Each bad frame must get an error response or a closed
// connection, never a hang.
func TestGarbageNeverTakesTheBrokerDown(t *testing.T) {
	_, addr := startTestBroker(t)
	rng := rand.New(rand.NewSource(1))
	send := func(frame []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("broker stopped accepting: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(frame)
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() && !longPoll(frame) {
					// A response may be a partial answer; a silent hang on
					// a complete frame is not acceptable.
					t.Fatalf("no answer and no close for frame % x", frame[:min(len(frame), 32)])
				}
				return
			}
			// Got bytes: an error response. Good enough; stop reading.
			return
		}
	}
	for _, h := range handlers {
		if h == nil {
			continue
		}
		for v := h.min; v <= h.max; v++ {
			for i := 0; i < 6; i++ {
				body := make([]byte, rng.Intn(64))
				rng.Read(body)
				if i%3 == 1 {
					// Huge compact/array counts right after the header.
					body = append([]byte{0xff, 0xff, 0xff, 0x7f}, body...)
				}
				hdr := make([]byte, 10)
				binary.BigEndian.PutUint16(hdr[0:], uint16(h.key))
				binary.BigEndian.PutUint16(hdr[2:], uint16(v))
				binary.BigEndian.PutUint32(hdr[4:], uint32(i))
				binary.BigEndian.PutUint16(hdr[8:], 0xffff) // null client id
				payload := append(hdr, body...)
				if kmsg.RequestForKey(h.key) != nil {
					r := kmsg.RequestForKey(h.key)
					r.SetVersion(v)
					if r.IsFlexible() {
						payload = append(hdr, append([]byte{0}, body...)...)
					}
				}
				frame := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
				send(append(frame, payload...))
			}
		}
	}
	// A negative size closes the connection. (A truncated size prefix just
	// waits for more bytes, as it should.)
	send([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	// The broker is alive and serves a well-formed request.
	cl := newClient(t, addr)
	if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(testCtx(t), cl); err != nil {
		t.Fatalf("broker unusable after garbage: %v", err)
	}
}

// longPoll reports whether frame is a Fetch, which may legitimately wait up
// to the max_wait_ms that random bytes decoded into.
func longPoll(frame []byte) bool {
	return len(frame) >= 6 && binary.BigEndian.Uint16(frame[4:]) == uint16(kmsg.Fetch)
}
