package broker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-io/samsa/protocol"
	"github.com/samsa-io/samsa/storage"
)

// conn is one client connection: a read loop that decodes and handles
// requests one at a time (so responses go out in request order, as Kafka
// does) and a write loop that sends the encoded responses. A small response
// that finds nothing queued ahead of it is written by the read loop itself
// (queue), which saves waking the write loop for each Produce answer.
type conn struct {
	b  *Broker
	nc net.Conn // the connection: raw, or its *tls.Conn on a TLS listener
	// raw is the TCP connection under nc: closing it never waits on the
	// peer (a *tls.Conn's Close may try to send close_notify).
	raw net.Conn
	ip  netip.Addr // the peer's address, counted for max.connections.per.ip
	log zerolog.Logger
	ctx context.Context
	// listener is the name of the listener the connection came through:
	// answers give the endpoints of that listener (controller_endpoints.go).
	listener string
	// sec is the listener's security (auth.go); nil on PLAINTEXT.
	sec *listenerSec
	// isTLS: nc is a TLS connection, which cannot use sendfile (Fetch
	// copies the records instead).
	isTLS bool
	// auth is the authentication state (auth.go); read loop only.
	auth connAuth
	// br and rd are the read loop's buffered reader and what it reads
	// from; small until a SASL connection authenticates (growBuffers).
	br *bufio.Reader
	rd io.Reader
	// acl caches the authorizer's decisions for this connection's
	// principal and host (acl.go); read loop only.
	acl aclCache
	// quota is the connection's client quota state (quota.go); read loop
	// only.
	quota connQuota

	out  chan outFrame // encoded responses, in order
	done chan struct{}

	// wmu is held by whoever writes to the socket. queued counts frames
	// handed to the write loop and not yet written: the read loop
	// increments it before queueing, the write loop decrements it after
	// the write, under wmu, so with wmu held and queued at zero every
	// earlier response is out.
	wmu     sync.Mutex
	bw      *bufio.Writer
	wfailed bool // a write failed; the connection is closing
	queued  atomic.Int32
	// lastWrite is when a response was last queued or written (unix ns):
	// a connection whose responses are still going out is not idle.
	lastWrite atomic.Int64
}

// outFrame is one encoded response queued for the write loop, which owns it
// from then on and calls finish once it is written (or dropped).
type outFrame struct {
	rb *respBuf
	// release, when set, returns what the vector borrowed (Fetch's pooled
	// read buffer). It may only run once the bytes are on the socket.
	release func()
}

// respBuf holds an encoded response: the whole frame in buf or, when vec is
// set, the frame as a vector whose parts are slices of buf and record
// batches referenced in place (Fetch, written with writev).
type respBuf struct {
	buf []byte
	vec [][]byte
	// files are the parts of vec that are nil, in order: record batches
	// sent from segment files with sendfile.
	files []storage.FileSlice
}

// finish returns the buffers of f to their pools.
func (f outFrame) finish() {
	if f.release != nil {
		f.release()
	}
	rb := f.rb
	if cap(rb.buf) > maxPooledRespBuf || cap(rb.vec) > maxPooledRespVec {
		return
	}
	clear(rb.vec) // do not keep record buffers reachable from the pool
	clear(rb.files)
	rb.buf, rb.vec, rb.files = rb.buf[:0], rb.vec[:0], rb.files[:0]
	respBufPool.Put(rb)
}

// maxKeptFrame bounds the request buffer a connection keeps between Produce
// requests.
const maxKeptFrame = 16 << 20

// maxPooledRespBuf bounds the response buffers kept for reuse: large enough
// for the usual fetch responses (several partitions of 1 MiB each).
const maxPooledRespBuf = 16 << 20

// maxPooledRespVec bounds the vectors kept for reuse (parts, not bytes).
const maxPooledRespVec = 1024

// vecCopyMax is the size up to which a vector is copied into the write
// buffer rather than written with writev, so that small responses (empty
// long-poll answers, ...) still share write calls.
const vecCopyMax = 16 << 10

var respBufPool = sync.Pool{New: func() any { return &respBuf{buf: make([]byte, 0, 64<<10)} }}

func (b *Broker) acceptLoop(ln net.Listener, listener string) {
	defer b.wg.Done()
	overrides := b.conf().MaxConnectionsPerIPOverrides
	perIP := b.resolveConnOverrides(overrides)
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
		ip := peerIP(nc)
		if o := b.conf().MaxConnectionsPerIPOverrides; !maps.Equal(o, overrides) {
			// Altered at run time (a dynamic broker config).
			overrides, perIP = o, b.resolveConnOverrides(o)
		}
		c := &conn{
			b:        b,
			nc:       nc,
			raw:      nc,
			ip:       ip,
			log:      b.log.With().Str("remote", nc.RemoteAddr().String()).Logger(),
			ctx:      b.ctx,
			listener: listener,
			sec:      b.secs[listener],
			out:      make(chan outFrame, 64),
			done:     make(chan struct{}),
		}
		c.auth.principal, c.auth.authenticated = anonymousPrincipal, true
		if c.sec != nil && c.sec.tls != nil {
			// The handshake runs on the read loop (handshakeTLS).
			c.nc, c.isTLS = tls.Server(nc, c.sec.tls), true
		}
		wsize := 64 << 10
		if c.saslListener() {
			// Unauthenticated: small buffers until the client has
			// proved who it is (growBuffers).
			c.auth.authenticated = false
			wsize = preAuthBufSize
		}
		c.bw = bufio.NewWriterSize(c.nc, wsize)
		b.connsMu.Lock()
		if b.closed.Load() {
			b.connsMu.Unlock()
			nc.Close()
			return
		}
		refused := b.admitLocked(ip, perIP)
		if refused.limit == "" {
			b.conns[c] = struct{}{}
		}
		b.connsMu.Unlock()
		if refused.limit != "" {
			closeQuietly(nc)
			b.logRefusal(refused, ip)
			continue
		}
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
		c.b.releaseLocked(c.ip)
		c.b.connsMu.Unlock()
	}()
	defer func() {
		// Defense in depth: a bug in a handler must not take the broker down.
		if r := recover(); r != nil {
			c.log.Error().Interface("panic", r).Stack().Msg("handler panic; closing connection")
			c.raw.Close()
		}
	}()
	if c.isTLS && !c.handshakeTLS() {
		c.raw.Close()
		return
	}
	c.rd = c.nc
	if idle := c.b.cfg.ConnectionsMaxIdle; idle >= 0 {
		c.rd = &idleReader{c: c, idle: idle}
	}
	rsize := 64 << 10
	if !c.auth.authenticated {
		rsize = preAuthBufSize
	}
	c.br = bufio.NewReaderSize(c.rd, rsize)
	configuredMax := c.b.cfg.SocketRequestMaxBytes
	if configuredMax <= 0 {
		configuredMax = protocol.DefaultMaxRequestSize
	}
	var buf []byte
	for {
		// ReadFrame grows the buffer as the body arrives rather than
		// trusting the size prefix, so a peer that announces 16 MiB and
		// stalls pins only what it sent. Produce reuses its buffer (below),
		// so a producer's connection soon holds one of its request size
		// and reads into it without allocating. Before a SASL connection
		// has authenticated, sasl.server.max.receive.size bounds it.
		maxSize := c.maxFrame(configuredMax)
		frame, err := protocol.ReadFrame(c.br, maxSize, buf)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			case errors.Is(err, os.ErrDeadlineExceeded):
				// Close now, not after the write loop drains: a write
				// blocked on a peer that stopped reading must end too.
				c.raw.Close()
				c.log.Debug().Dur("connections_max_idle", c.b.cfg.ConnectionsMaxIdle).Msg("closing idle connection")
			case errors.Is(err, protocol.ErrFrameTooLarge) && maxSize < configuredMax:
				c.b.authLog.log(c.log.Warn(), "preauth_frame", func(e *zerolog.Event) {
					e.Err(err).Int32("sasl_server_max_receive_size", maxSize).Str("listener", c.listener).
						Msg("closing connection: request before authentication larger than sasl.server.max.receive.size")
				})
			case errors.Is(err, protocol.ErrFrameTooLarge):
				c.log.Warn().Err(err).Int32("socket_request_max_bytes", maxSize).Msg("closing connection: request larger than socket.request.max.bytes")
			case errors.Is(err, protocol.ErrMalformed):
				c.log.Warn().Err(err).Msg("closing connection: malformed frame")
			default:
				c.log.Debug().Err(err).Msg("connection read ended")
			}
			return
		}
		if c.auth.raw {
			if !c.handleRawToken(frame) {
				return
			}
			buf = nil
			continue
		}
		if !c.handleFrame(frame) {
			return
		}
		if !c.quota.throttleUntil.IsZero() && !c.muteForQuota() {
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
	if !c.preAuthAllowed(hdr.APIKey, hdr.ClientID) {
		return false
	}
	h := handlerFor(hdr.APIKey)
	if h != nil && !h.serves(c.b) {
		h = nil // not served by this broker's configuration
	}
	if h == nil {
		c.log.Warn().Int16("api_key", hdr.APIKey).Int16("api_version", hdr.APIVersion).
			Str("client_id", hdr.ClientID).Msg("closing connection: unsupported api key")
		return false
	}
	if hdr.APIKey == kmsg.ApiVersions.Int16() && hdr.APIVersion > h.max {
		// A client newer than us: answer in the v0 layout with our table
		// so it retries at a version we know (KIP-511).
		c.send(hdr.CorrelationID, unsupportedApiVersions(c.b))
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
	start := time.Now()
	resp := c.b.serveRequest(h, rc, req)
	c.b.applyQuotas(rc, req, resp, len(frame), time.Since(start)) // quota.go
	if rc.throttleBefore > 0 && !c.waitThrottle(rc.throttleBefore) {
		if rc.release != nil {
			rc.release()
		}
		return false
	}
	if rc.closeConn || resp == nil { // resp nil: acks=0 produce
		if rc.release != nil {
			rc.release()
		}
		return !rc.closeConn
	}
	resp.SetVersion(hdr.APIVersion)
	if fr, ok := resp.(*kmsg.FetchResponse); ok {
		// The vector refers to the records the handler borrowed: the
		// write loop releases them once they are on the socket.
		c.sendFetch(hdr.CorrelationID, fr, rc)
		return true
	}
	c.send(hdr.CorrelationID, resp)
	if rc.release != nil {
		// After send: the encoded frame no longer refers to what the
		// handler borrowed.
		rc.release()
	}
	// closeAfter: the answer goes out, then the connection closes (the
	// write loop drains what is queued once the read loop returns).
	return !rc.closeAfter
}

// waitThrottle holds the response for d. False when the broker is closing.
func (c *conn) waitThrottle(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// preAuthBufSize is the read and write buffer of a SASL connection until
// it has authenticated: a flood of unauthenticated connections costs
// little memory each.
const preAuthBufSize = 4 << 10

// growBuffers gives an authenticated connection its full-size buffers.
// Read loop only.
func (c *conn) growBuffers() {
	if c.br != nil && c.br.Size() < 64<<10 {
		if n := c.br.Buffered(); n > 0 {
			pending, _ := c.br.Peek(n)
			c.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(pending)), c.rd), 64<<10)
		} else {
			c.br = bufio.NewReaderSize(c.rd, 64<<10)
		}
	}
	c.wmu.Lock()
	if c.bw.Size() < 64<<10 && !c.wfailed {
		if err := c.bw.Flush(); err != nil {
			c.wfailed = true
			c.raw.Close()
		}
		c.bw = bufio.NewWriterSize(c.nc, 64<<10)
	}
	c.wmu.Unlock()
}

// send encodes resp and queues it for the write loop.
func (c *conn) send(correlationID int32, resp kmsg.Response) {
	rb := respBufPool.Get().(*respBuf)
	rb.buf, rb.vec = protocol.AppendResponse(rb.buf[:0], correlationID, resp), rb.vec[:0]
	c.queue(outFrame{rb: rb})
}

// sendFetch queues resp as a vector that refers to its record batches
// rather than copying them (the largest cost of a consume), some of them
// still in their segment files; rc.release runs once they have been
// written.
func (c *conn) sendFetch(correlationID int32, resp *kmsg.FetchResponse, rc *reqCtx) {
	rb := respBufPool.Get().(*respBuf)
	rc.fetchFiles = rb.files[:0]
	rb.buf, rb.vec = protocol.AppendFetchResponseVecExt(rb.buf[:0], rb.vec[:0], correlationID, resp, rc.fetchExternal)
	rb.files = rc.fetchFiles
	c.queue(outFrame{rb: rb, release: rc.release})
}

// inlineMax is the largest response the read loop writes itself: one that
// fits the socket buffer, so the write does not hold up reading the next
// request.
const inlineMax = 32 << 10

// queue hands f to the write loop or, when it is a small plain frame and
// nothing is queued or being written, writes it at once. Only the read loop
// calls it.
func (c *conn) queue(f outFrame) {
	if len(f.rb.vec) == 0 && len(f.rb.buf) <= inlineMax && c.queued.Load() == 0 && c.wmu.TryLock() {
		if c.queued.Load() == 0 {
			c.writeLocked(f, true)
			c.wmu.Unlock()
			f.finish()
			return
		}
		c.wmu.Unlock()
	}
	c.queued.Add(1)
	c.lastWrite.Store(time.Now().UnixNano())
	select {
	case c.out <- f:
	case <-c.ctx.Done():
		c.queued.Add(-1)
		f.finish()
	}
}

// writeLocked writes f (wmu held), flushing when flush is set; after a
// failed write nothing more is written and the connection is closed, which
// also ends the read loop.
func (c *conn) writeLocked(f outFrame, flush bool) {
	if c.wfailed {
		return
	}
	var err error
	if len(f.rb.vec) > 0 {
		err = writeVec(c.bw, c.nc, f.rb.vec, f.rb.files)
	} else {
		err = writeFrame(c.bw, f.rb.buf)
	}
	if err == nil && flush {
		err = c.bw.Flush()
	}
	if err != nil {
		c.wfailed = true
		c.raw.Close()
		return
	}
	c.lastWrite.Store(time.Now().UnixNano())
}

func (c *conn) writeLoop() {
	defer c.b.wg.Done()
	defer c.raw.Close()
	for f := range c.out {
		c.wmu.Lock()
		// Flush when nothing else is queued.
		c.writeLocked(f, len(c.out) == 0)
		c.queued.Add(-1)
		c.wmu.Unlock()
		f.finish()
	}
}

func writeFrame(bw *bufio.Writer, frame []byte) error {
	if len(frame) >= bw.Available() && bw.Buffered() > 0 {
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	_, err := bw.Write(frame)
	return err
}

// writeVec writes a vector frame: small ones through the write buffer, the
// others with writev after flushing what is buffered (order matters), and
// each nil part with sendfile from the next of files.
func writeVec(bw *bufio.Writer, nc net.Conn, vec [][]byte, files []storage.FileSlice) error {
	if len(files) > 0 {
		if err := bw.Flush(); err != nil {
			return err
		}
		start, fi := 0, 0
		for i := 0; i < len(vec); i++ {
			if vec[i] != nil {
				continue
			}
			if i > start {
				bufs := net.Buffers(vec[start:i])
				if _, err := bufs.WriteTo(nc); err != nil {
					return err
				}
			}
			if fi == len(files) {
				return errors.New("broker: fetch frame has more file parts than files")
			}
			if err := sendFileSlice(nc, files[fi]); err != nil {
				return err
			}
			fi++
			start = i + 1
		}
		if start < len(vec) {
			bufs := net.Buffers(vec[start:])
			if _, err := bufs.WriteTo(nc); err != nil {
				return err
			}
		}
		return nil
	}
	n := 0
	for _, b := range vec {
		n += len(b)
	}
	if n <= vecCopyMax {
		if n >= bw.Available() && bw.Buffered() > 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		for _, b := range vec {
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	bufs := net.Buffers(vec) // WriteTo consumes (clears) vec's parts
	_, err := bufs.WriteTo(nc)
	return err
}

// reqCtx carries one request through its handler.
type reqCtx struct {
	ctx  context.Context
	hdr  protocol.RequestHeader
	conn *conn
	// closeConn asks the connection to be closed after the handler returns
	// (acks=0 produce errors, as Kafka does).
	closeConn bool
	// closeAfter asks the connection to be closed once the response is
	// sent (a failed authentication).
	closeAfter bool
	// throttleBefore delays the response (a client quota exceeded, with a
	// version that Kafka throttles before answering).
	throttleBefore time.Duration
	// fetchThrottle (Fetch) is the consumer quota's throttle time in ms
	// when the response was throttled (sent empty); quota.go.
	fetchThrottle int32
	// release, when set, runs once the response no longer refers to what
	// the handler borrowed: after encoding, or for Fetch, whose records are
	// written in place, after the write (it returns its pooled read buffer
	// and unpins its file slices).
	release func()
	// fetchExternal (Fetch) tells the encoder which partitions' records are
	// sent from a file; it collects those slices in fetchFiles, in frame
	// order.
	fetchExternal protocol.ExternalRecords
	fetchFiles    []storage.FileSlice
}
