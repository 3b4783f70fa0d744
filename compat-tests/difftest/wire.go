package difftest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The wire layer: one TCP connection that sends kmsg requests at a version
// the caller picks (or raw bytes nobody would send) and reads the answer
// frame. It does not negotiate versions, retry or follow leaders: the
// scenarios decide everything, so that edge cases a client library would
// never produce can be sent.

// maxFrame bounds a response frame read (Kafka's default
// socket.request.max.bytes; no scenario fetches more).
const maxFrame = 100 << 20

// ioTimeout bounds one request/response exchange. Requests that park on the
// broker (Fetch MaxWait, JoinGroup rebalances) wait well under this.
const ioTimeout = 30 * time.Second

// ErrClosed is what Roundtrip returns when the broker closed the
// connection instead of answering (Kafka does this for requests it cannot
// parse).
var ErrClosed = errors.New("difftest: connection closed by the broker")

// Conn is one connection to one broker. It is not safe for concurrent use.
type Conn struct {
	addr string
	nc   net.Conn
	corr int32
	fmtr *kmsg.RequestFormatter
	// Timeout bounds one exchange (ioTimeout if zero).
	Timeout time.Duration
}

// Dial opens a connection to addr with clientID in every request header.
func Dial(addr, clientID string) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("difftest: dial %s: %w", addr, err)
	}
	return &Conn{addr: addr, nc: nc, fmtr: kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Request sends req at its set version and decodes the answer. acks=0
// produce requests get no answer: Request returns (nil, nil, nil).
func (c *Conn) Request(req kmsg.Request) (kmsg.Response, []byte, error) {
	c.corr++
	frame := c.fmtr.AppendRequest(nil, req, c.corr)
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		if err := c.write(frame); err != nil {
			return nil, nil, err
		}
		return nil, nil, nil
	}
	body, err := c.exchange(frame, c.corr, responseHeaderFlexible(req.Key(), req.GetVersion()))
	if err != nil {
		return nil, nil, err
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		return nil, body, fmt.Errorf("difftest: decoding %s v%d response (%d bytes): %w", kmsg.NameForKey(req.Key()), req.GetVersion(), len(body), err)
	}
	return resp, body, nil
}

// RequestRaw sends a request whose header is (key, version, the next
// correlation id, the client id, tags if flexible) and whose body is body as
// given, and returns the response body bytes (after the response header).
// It is for bodies kmsg would never encode: truncated, corrupt, or at a
// version kmsg does not know. respVersion is the version the answer is
// expected at (it decides the response header's form).
func (c *Conn) RequestRaw(key, version int16, flexible bool, respVersion int16, body []byte) ([]byte, error) {
	c.corr++
	frame := make([]byte, 4, 64+len(body))
	frame = binary.BigEndian.AppendUint16(frame, uint16(key))
	frame = binary.BigEndian.AppendUint16(frame, uint16(version))
	frame = binary.BigEndian.AppendUint32(frame, uint32(c.corr))
	frame = binary.BigEndian.AppendUint16(frame, uint16(len("difftest")))
	frame = append(frame, "difftest"...)
	if flexible {
		frame = append(frame, 0)
	}
	frame = append(frame, body...)
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	return c.exchange(frame, c.corr, responseHeaderFlexible(key, respVersion))
}

// WriteFrame writes one whole frame (length prefix included) as is; it is
// the replay's way of sending recorded bytes.
func (c *Conn) WriteFrame(frame []byte) error { return c.write(frame) }

// ReadFrame reads one whole response frame and returns it without the
// length prefix.
func (c *Conn) ReadFrame() ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout()))
	return readFrame(c.nc)
}

func (c *Conn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return ioTimeout
}

func (c *Conn) write(frame []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout()))
	if _, err := c.nc.Write(frame); err != nil {
		return fmt.Errorf("difftest: write to %s: %w", c.addr, err)
	}
	return nil
}

// exchange writes frame and reads the response with correlation id corr,
// returning its body (the response header skipped).
func (c *Conn) exchange(frame []byte, corr int32, flexHeader bool) ([]byte, error) {
	if err := c.write(frame); err != nil {
		return nil, err
	}
	resp, err := c.ReadFrame()
	if err != nil {
		return nil, err
	}
	gotCorr, body, err := splitResponse(resp, flexHeader)
	if err != nil {
		return nil, err
	}
	if gotCorr != corr {
		return nil, fmt.Errorf("difftest: %s answered correlation id %d, want %d", c.addr, gotCorr, corr)
	}
	return body, nil
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("difftest: reading frame length: %w", err)
	}
	n := int32(binary.BigEndian.Uint32(hdr[:]))
	if n < 4 || n > maxFrame {
		return nil, fmt.Errorf("difftest: frame length %d out of range", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("difftest: reading %d-byte frame: %w", n, err)
	}
	return buf, nil
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// splitResponse splits a response frame (no length prefix) into its
// correlation id and body; flexHeader says whether the header is v1 (ends
// in tagged fields).
func splitResponse(frame []byte, flexHeader bool) (int32, []byte, error) {
	if len(frame) < 4 {
		return 0, nil, fmt.Errorf("difftest: %d-byte response frame", len(frame))
	}
	corr := int32(binary.BigEndian.Uint32(frame))
	body := frame[4:]
	if flexHeader {
		var err error
		if body, err = skipTags(body); err != nil {
			return corr, nil, err
		}
	}
	return corr, body, nil
}

// skipTags skips a tagged-field section (KIP-482): a count, then per field
// a tag and a length-prefixed value.
func skipTags(b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("difftest: bad tag count in response header")
	}
	b = b[k:]
	for range n {
		if _, k = binary.Uvarint(b); k <= 0 {
			return nil, errors.New("difftest: bad tag in response header")
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < size {
			return nil, errors.New("difftest: bad tag size in response header")
		}
		b = b[k+int(size):]
	}
	return b, nil
}

// responseHeaderFlexible says whether the response to (key, version) has a
// v1 header. ApiVersions never does, so that a client can read the answer
// before it knows which versions the broker speaks.
func responseHeaderFlexible(key, version int16) bool {
	if key == kmsg.ApiVersions.Int16() {
		return false
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return false
	}
	req.SetVersion(version)
	return req.IsFlexible()
}
