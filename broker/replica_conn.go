package broker

// A follower's connection to a leader: one request at a time, encoded and
// decoded with kmsg, the response body read into a buffer the connection
// reuses (a Fetch response's record batches alias it until the next
// request).

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/protocol"
)

// brokerConn is a client connection to another broker.
type brokerConn struct {
	nc   net.Conn
	br   *bufio.Reader
	fmtr *kmsg.RequestFormatter
	corr int32
	wbuf []byte
	rbuf []byte
	// maxResp bounds a response frame.
	maxResp int32
	// versions are the broker's max versions by API key (ApiVersions).
	versions map[int16]int16
}

// dialBroker connects to addr and learns the broker's API versions.
func dialBroker(ctx context.Context, addr, clientID string, maxResp int32, timeout time.Duration) (*brokerConn, error) {
	return dialBrokerWith(ctx, addr, clientID, maxResp, timeout, nil)
}

// dialBrokerWith is dialBroker on a secured inter-broker listener: TLS
// first, SASL after ApiVersions (replica_auth.go).
func dialBrokerWith(ctx context.Context, addr, clientID string, maxResp int32, timeout time.Duration, auth *interBrokerAuth) (*brokerConn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	raw := nc
	if nc, err = auth.secure(ctx, nc, addr); err != nil {
		raw.Close()
		return nil, err
	}
	c := &brokerConn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10), maxResp: maxResp,
		fmtr: kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID))}
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName = "samsa-replica-fetcher"
	av.ClientSoftwareVersion = "1"
	resp, err := c.request(ctx, av, timeout)
	if err != nil {
		nc.Close()
		return nil, err
	}
	avr := resp.(*kmsg.ApiVersionsResponse)
	if err := kerr.ErrorForCode(avr.ErrorCode); err != nil {
		nc.Close()
		return nil, fmt.Errorf("broker: ApiVersions from %s: %w", addr, err)
	}
	c.versions = make(map[int16]int16, len(avr.ApiKeys))
	for _, k := range avr.ApiKeys {
		c.versions[k.ApiKey] = k.MaxVersion
	}
	if err := auth.authenticate(ctx, c, addr, timeout); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// maxVersion is the highest version of key both sides serve, -1 if none.
func (c *brokerConn) maxVersion(key kmsg.Key) int16 {
	theirs, ok := c.versions[key.Int16()]
	h := handlerFor(key.Int16())
	if !ok || h == nil {
		return -1
	}
	return min(theirs, h.max)
}

func (c *brokerConn) close() { c.nc.Close() }

// request sends req and reads its response, within timeout. The response
// may alias the connection's read buffer until the next request.
func (c *brokerConn) request(ctx context.Context, req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c.corr++
	c.wbuf = c.fmtr.AppendRequest(c.wbuf[:0], req, c.corr)
	if _, err := c.nc.Write(c.wbuf); err != nil {
		return nil, err
	}
	frame, err := protocol.ReadFrame(c.br, c.maxResp, c.rbuf[:0])
	if err != nil {
		return nil, err
	}
	if cap(frame) <= 64<<20 {
		c.rbuf = frame[:0]
	}
	if len(frame) < 4 {
		return nil, errors.New("broker: short response frame")
	}
	if corr := int32(binary.BigEndian.Uint32(frame)); corr != c.corr {
		return nil, fmt.Errorf("broker: response correlation id %d, want %d", corr, c.corr)
	}
	body := frame[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != kmsg.ApiVersions.Int16() {
		if body, err = skipResponseTags(body); err != nil {
			return nil, err
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("broker: decode %s response: %w", kmsg.NameForKey(req.Key()), err)
	}
	return resp, nil
}

// skipResponseTags skips the tagged fields of a flexible response header.
func skipResponseTags(b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("broker: bad response header tags")
	}
	b = b[k:]
	for range n {
		_, k := binary.Uvarint(b) // tag
		if k <= 0 {
			return nil, errors.New("broker: bad response header tag")
		}
		b = b[k:]
		size, k := binary.Uvarint(b)
		if k <= 0 || size > uint64(len(b)-k) {
			return nil, errors.New("broker: bad response header tag size")
		}
		b = b[k+int(size):]
	}
	return b, nil
}
