package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/protocol"
)

// conn is one client connection: a read loop that decodes and handles
// requests one at a time (so responses go out in request order, as Kafka
// does) and a write loop that sends the encoded responses.
type conn struct {
	b   *Broker
	nc  net.Conn
	log zerolog.Logger
	ctx context.Context

	out  chan []byte // encoded response frames, in order
	done chan struct{}
}

// maxKeptFrame bounds the request buffer a connection keeps between Produce
// requests.
const maxKeptFrame = 16 << 20

// maxPooledRespBuf bounds the response buffers kept for reuse: large enough
// for the usual fetch responses (several partitions of 1 MiB each).
const maxPooledRespBuf = 16 << 20

var respBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (b *Broker) acceptLoop(ln net.Listener) {
	defer b.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if b.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary errors (EMFILE...): back off, as net/http does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			b.log.Warn().Err(err).Dur("retry_in", delay).Msg("accept failed")
			time.Sleep(delay)
			continue
		}
		delay = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		c := &conn{
			b:    b,
			nc:   nc,
			log:  b.log.With().Str("remote", nc.RemoteAddr().String()).Logger(),
			ctx:  b.ctx,
			out:  make(chan []byte, 64),
			done: make(chan struct{}),
		}
		b.connsMu.Lock()
		if b.closed.Load() {
			b.connsMu.Unlock()
			nc.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.connsMu.Unlock()
		b.wg.Add(2)
		go c.writeLoop()
		go c.readLoop()
	}
}

func (c *conn) readLoop() {
	defer c.b.wg.Done()
	defer func() {
		close(c.out) // the write loop drains what is queued, then closes
		c.b.connsMu.Lock()
		delete(c.b.conns, c)
		c.b.connsMu.Unlock()
	}()
	defer func() {
		// Defense in depth: a bug in a handler must not take the broker down.
		if r := recover(); r != nil {
			c.log.Error().Interface("panic", r).Stack().Msg("handler panic; closing connection")
			c.nc.Close()
		}
	}()
	br := bufio.NewReaderSize(c.nc, 64<<10)
	maxSize := c.b.cfg.SocketRequestMaxBytes
	if maxSize <= 0 {
		maxSize = protocol.DefaultMaxRequestSize
	}
	var buf []byte
	for {
		// Size the buffer from the prefix once, up to maxKeptFrame, rather
		// than letting ReadFrame grow it step by step (a producer writing
		// to many partitions sends multi-MiB requests). Larger frames still
		// grow as their bytes arrive, so a peer cannot pin memory by
		// announcing a size and stalling.
		if hdr, err := br.Peek(4); err == nil {
			if n := int32(binary.BigEndian.Uint32(hdr)); n > int32(cap(buf)) && n <= maxKeptFrame && n <= maxSize {
				buf = make([]byte, 0, n)
			}
		}
		frame, err := protocol.ReadFrame(br, maxSize, buf)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			case errors.Is(err, protocol.ErrFrameTooLarge):
				c.log.Warn().Err(err).Int32("socket_request_max_bytes", maxSize).Msg("closing connection: request larger than socket.request.max.bytes")
			case errors.Is(err, protocol.ErrMalformed):
				c.log.Warn().Err(err).Msg("closing connection: malformed frame")
			default:
				c.log.Debug().Err(err).Msg("connection read ended")
			}
			return
		}
		if !c.handleFrame(frame) {
			return
		}
		// kmsg's decoded []byte fields alias the frame. Only Produce,
		// whose records are written before its handler returns, lets the
		// next request reuse the buffer; any other request may have handed
		// slices of it to state that outlives the handler (group
		// assignments, ...), so it keeps its buffer.
		if len(frame) >= 2 && int16(frame[0])<<8|int16(frame[1]) == kmsg.Produce.Int16() && cap(frame) <= maxKeptFrame {
			buf = frame[:0]
		} else {
			buf = nil
		}
	}
}

// handleFrame decodes, dispatches and queues the response of one request.
// It returns false when the connection must be closed.
func (c *conn) handleFrame(frame []byte) bool {
	hdr, body, err := protocol.ParseRequestHeader(frame)
	if err != nil && !errors.Is(err, protocol.ErrUnknownAPIKey) {
		c.log.Warn().Err(err).Msg("closing connection: malformed request header")
		return false
	}
	h := handlerFor(hdr.APIKey)
	if h == nil {
		c.log.Warn().Int16("api_key", hdr.APIKey).Int16("api_version", hdr.APIVersion).
			Str("client_id", hdr.ClientID).Msg("closing connection: unsupported api key")
		return false
	}
	if hdr.APIKey == kmsg.ApiVersions.Int16() && hdr.APIVersion > h.max {
		// A client newer than us: answer in the v0 layout with our table
		// so it retries at a version we know (KIP-511).
		c.send(hdr.CorrelationID, unsupportedApiVersions())
		return true
	}
	if hdr.APIVersion < h.min || hdr.APIVersion > h.max {
		if resp := h.unsupported(hdr, body); resp != nil {
			c.send(hdr.CorrelationID, resp)
			return true
		}
		c.log.Warn().Int16("api_key", hdr.APIKey).Int16("api_version", hdr.APIVersion).
			Str("client_id", hdr.ClientID).Msg("closing connection: unsupported api version")
		return false
	}
	req, err := protocol.DecodeRequest(hdr, body)
	if err != nil {
		c.log.Warn().Err(err).Int16("api_key", hdr.APIKey).Int16("api_version", hdr.APIVersion).
			Str("client_id", hdr.ClientID).Msg("closing connection: undecodable request body")
		return false
	}
	rc := &reqCtx{ctx: c.ctx, hdr: hdr, conn: c}
	resp := h.fn(c.b, rc, req)
	if rc.release != nil {
		// After send: the encoded frame no longer refers to what the
		// handler borrowed.
		defer rc.release()
	}
	if rc.closeConn {
		return false
	}
	if resp == nil { // acks=0 produce
		return true
	}
	resp.SetVersion(hdr.APIVersion)
	c.send(hdr.CorrelationID, resp)
	return true
}

// send encodes resp and queues it for the write loop.
func (c *conn) send(correlationID int32, resp kmsg.Response) {
	bp := respBufPool.Get().(*[]byte)
	frame := protocol.AppendResponse((*bp)[:0], correlationID, resp)
	*bp = frame
	select {
	case c.out <- frame:
	case <-c.ctx.Done():
	}
}

func (c *conn) writeLoop() {
	defer c.b.wg.Done()
	defer c.nc.Close()
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	failed := false
	for frame := range c.out {
		if !failed {
			if len(frame) >= bw.Available() && bw.Buffered() > 0 {
				if err := bw.Flush(); err != nil {
					failed = true
				}
			}
			if !failed {
				if _, err := bw.Write(frame); err != nil {
					failed = true
				}
			}
			// Flush when nothing else is queued.
			if !failed && len(c.out) == 0 {
				if err := bw.Flush(); err != nil {
					failed = true
				}
			}
			if failed {
				c.nc.Close() // unblocks the read loop
			}
		}
		if cap(frame) <= maxPooledRespBuf {
			f := frame[:0]
			respBufPool.Put(&f)
		}
	}
}

// reqCtx carries one request through its handler.
type reqCtx struct {
	ctx  context.Context
	hdr  protocol.RequestHeader
	conn *conn
	// closeConn asks the connection to be closed after the handler returns
	// (acks=0 produce errors, as Kafka does).
	closeConn bool
	// release, when set, runs once the response has been encoded (Fetch
	// returns its pooled read buffer).
	release func()
}
