// Package faultproxy is a TCP proxy that failure tests put on a network
// link (client -> broker, broker -> broker, broker -> etcd) to cut it, stall
// it, reset it or slow it down, while both ends keep running.
//
// A Proxy listens on a loopback port and forwards every accepted connection
// to one target address. Its mode applies to every connection, current and
// new, from the moment it is set:
//
//	Pass       bytes are forwarded, each direction after its own delay
//	           (SetDelay; zero by default)
//	Blackhole  connections are accepted and read, but nothing is forwarded
//	           in either direction and nothing is dialed: the peers see a
//	           stall, never a reset (what a network partition looks like)
//	Reset      every current connection is closed with a TCP RST, and so is
//	           every new one right after it is accepted
//
// Bytes read during a blackhole are dropped, so a connection that lived
// through one has a hole in its stream: when the mode leaves Blackhole
// those connections are reset, and the peers reconnect (a partition that
// lasted long enough for the connection to die). CloseConns resets the
// current connections on demand, whatever the mode.
//
// A connection whose target cannot be dialed (the broker behind it was
// killed) is reset: its peer sees what a refused connection looks like
// from behind a proxy.
//
// Every goroutine belongs to the Proxy and has exited when Close returns.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what a Proxy does with its connections.
type Mode int

const (
	// Pass forwards bytes (after the configured delays).
	Pass Mode = iota
	// Blackhole reads and drops everything; nothing reaches the other end.
	Blackhole
	// Reset closes every connection with a TCP RST.
	Reset
)

func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Blackhole:
		return "blackhole"
	case Reset:
		return "reset"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// dialTimeout bounds the dial of the target for one accepted connection.
const dialTimeout = 3 * time.Second

// chunkSize is the read buffer of one direction of one connection.
const chunkSize = 32 << 10

// queueChunks bounds the chunks of one direction waiting out their delay.
const queueChunks = 256

// ErrClosed is returned by the methods of a closed Proxy.
var ErrClosed = errors.New("faultproxy: closed")

// Proxy forwards the connections accepted on one loopback port to a target.
type Proxy struct {
	name   string
	target string
	ln     net.Listener
	wg     sync.WaitGroup // the accept loop and every connection's goroutines

	accepted atomic.Int64 // connections accepted since New
	dialed   atomic.Int64 // connections dialed to the target since New

	mu        sync.Mutex
	mode      Mode               // guarded by mu
	delayUp   time.Duration      // guarded by mu; client -> target
	delayDown time.Duration      // guarded by mu; target -> client
	conns     map[*pair]struct{} // guarded by mu; the open connections
	closed    bool               // guarded by mu
	modeSig   chan struct{}      // guarded by mu; closed and replaced at every mode change
}

// New starts a proxy on 127.0.0.1 (a free port) forwarding to target. name
// appears in errors and String.
func New(name, target string) (*Proxy, error) {
	return Listen(name, "127.0.0.1:0", target)
}

// Listen is New on a given listen address (it must be a loopback address).
func Listen(name, addr, target string) (*Proxy, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy %s: listen address %q: %w", name, addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("faultproxy %s: listen address %q is not a loopback address", name, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy %s: %w", name, err)
	}
	p := &Proxy{
		name:    name,
		target:  target,
		ln:      ln,
		conns:   make(map[*pair]struct{}),
		modeSig: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the address the proxy listens on (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the port the proxy listens on.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Target is the address connections are forwarded to.
func (p *Proxy) Target() string { return p.target }

func (p *Proxy) String() string {
	return fmt.Sprintf("%s (%s -> %s, %s)", p.name, p.Addr(), p.target, p.Mode())
}

// Accepted is the number of connections accepted since New.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Dialed is the number of connections made to the target since New.
func (p *Proxy) Dialed() int64 { return p.dialed.Load() }

// Active is the number of connections open now.
func (p *Proxy) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// Pass forwards again (after a Blackhole, the connections that lived
// through it are reset first).
func (p *Proxy) Pass() { p.SetMode(Pass) }

// Blackhole stalls the link: see the package comment.
func (p *Proxy) Blackhole() { p.SetMode(Blackhole) }

// Reset resets every current and new connection until the mode changes.
func (p *Proxy) Reset() { p.SetMode(Reset) }

// SetMode switches the mode of every current and future connection.
func (p *Proxy) SetMode(m Mode) {
	p.mu.Lock()
	if p.closed || p.mode == m {
		p.mu.Unlock()
		return
	}
	old := p.mode
	p.mode = m
	close(p.modeSig)
	p.modeSig = make(chan struct{})
	var reset []*pair
	for c := range p.conns {
		if m == Reset || (old == Blackhole && c.holed) {
			reset = append(reset, c)
		}
	}
	p.mu.Unlock()
	for _, c := range reset {
		c.reset()
	}
}

// SetDelay sets the delay of each direction: up is client -> target, down
// is target -> client. It applies to bytes read from now on, on current and
// new connections; order within a direction is kept.
func (p *Proxy) SetDelay(up, down time.Duration) {
	p.mu.Lock()
	p.delayUp, p.delayDown = max(0, up), max(0, down)
	p.mu.Unlock()
}

// CloseConns resets every connection open now. New ones are served as the
// mode says.
func (p *Proxy) CloseConns() {
	p.mu.Lock()
	cs := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.reset()
	}
}

// Close stops listening, resets every connection and waits for every
// goroutine of the proxy.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	cs := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, c := range cs {
		c.reset()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			return // closed (Close), or the listener failed: nothing to serve
		}
		p.accepted.Add(1)
		c := &pair{p: p, client: nc.(*net.TCPConn), done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			rst(c.client)
			continue
		}
		p.conns[c] = struct{}{}
		mode := p.mode
		p.mu.Unlock()
		if mode == Reset {
			c.reset()
			p.forget(c)
			continue
		}
		p.wg.Add(1)
		go c.serve()
	}
}

func (p *Proxy) forget(c *pair) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// state returns the mode, the delay of one direction and the channel closed
// at the next mode change.
func (p *Proxy) state(up bool) (Mode, time.Duration, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.delayDown
	if up {
		d = p.delayUp
	}
	return p.mode, d, p.modeSig
}

// markHoled records that bytes of c were dropped; it reports false if the
// mode is not Blackhole any more (the caller then forwards instead).
func (p *Proxy) markHoled(c *pair) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode != Blackhole {
		return false
	}
	c.holed = true
	return true
}

// pair is one proxied connection: the accepted client side and, once
// dialed, the target side.
type pair struct {
	p      *Proxy
	client *net.TCPConn

	holed bool // guarded by p.mu: bytes were dropped (Blackhole)

	mu       sync.Mutex
	target   *net.TCPConn // guarded by mu; nil until dialed
	isClosed bool         // guarded by mu

	done chan struct{} // closed by reset/close: every goroutine of the pair stops
	once sync.Once
}

// serve dials the target (waiting while the link is blackholed) and pumps
// both directions until either side ends or the pair is reset.
func (c *pair) serve() {
	defer c.p.wg.Done()
	defer c.p.forget(c)

	// While blackholed, read and drop what the client sends; dial once the
	// link passes (unless the blackhole left a hole: then reset).
	for {
		mode, _, sig := c.p.state(true)
		if mode == Pass {
			break
		}
		if mode == Reset {
			c.reset()
			return
		}
		if !c.drainUntil(sig) {
			return
		}
	}
	c.client.SetReadDeadline(time.Time{})
	if !c.p.markPassing(c) {
		c.reset()
		return
	}
	tc, err := net.DialTimeout("tcp", c.p.target, dialTimeout)
	if err != nil {
		c.reset()
		return
	}
	c.p.dialed.Add(1)
	c.mu.Lock()
	if c.isClosed {
		c.mu.Unlock()
		rst(tc.(*net.TCPConn))
		return
	}
	c.target = tc.(*net.TCPConn)
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.pump(c.client, c.target, true) }()
	go func() { defer wg.Done(); c.pump(c.target, c.client, false) }()
	wg.Wait()
	c.close()
}

// markDropped records that bytes of c were dropped, whatever the mode now.
func (p *Proxy) markDropped(c *pair) {
	p.mu.Lock()
	c.holed = true
	p.mu.Unlock()
}

// markPassing reports whether c may be connected: it has no hole.
func (p *Proxy) markPassing(c *pair) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !c.holed
}

// drainUntil reads and drops the client's bytes until sig is closed (true)
// or the client side ends (false, the pair is closed).
func (c *pair) drainUntil(sig <-chan struct{}) bool {
	buf := make([]byte, chunkSize)
	for {
		select {
		case <-sig:
			return true
		case <-c.done:
			return false
		default:
		}
		c.client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := c.client.Read(buf)
		if n > 0 {
			c.p.markDropped(c)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			c.close()
			return false
		}
	}
}

// chunk is bytes read from one side, due to be written at due.
type chunk struct {
	data []byte
	due  time.Time
}

// pump copies src to dst. Each chunk read is forwarded after the
// direction's delay, or dropped while the link is blackholed. When src
// ends, dst's write side is closed (half-close); an error resets the pair.
func (c *pair) pump(src, dst *net.TCPConn, up bool) {
	q := make(chan chunk, queueChunks)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(dst, q, up)
	}()
	defer func() {
		close(q)
		<-writerDone
	}()
	for {
		buf := make([]byte, chunkSize)
		n, err := src.Read(buf)
		if n > 0 {
			mode, delay, _ := c.p.state(up)
			switch mode {
			case Blackhole:
				if c.p.markHoled(c) {
					break
				}
				fallthrough // the mode just changed back: forward
			case Pass:
				select {
				case q <- chunk{data: buf[:n], due: time.Now().Add(delay)}:
				case <-c.done:
					return
				}
			case Reset:
				c.reset()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Forward the end once everything before it is written.
				select {
				case q <- chunk{}:
				case <-c.done:
				}
				return
			}
			c.reset()
			return
		}
	}
}

// writeLoop writes the queued chunks of one direction when they are due;
// an empty chunk is the end of the stream (half-close of dst).
func (c *pair) writeLoop(dst *net.TCPConn, q <-chan chunk, up bool) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ch := range q {
		if wait := time.Until(ch.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-c.done:
				return
			}
		}
		if ch.data == nil {
			dst.CloseWrite()
			continue
		}
		if mode, _, _ := c.p.state(up); mode == Blackhole {
			if c.p.markHoled(c) {
				continue // dropped: it would have been delivered during the blackhole
			}
		}
		if _, err := dst.Write(ch.data); err != nil {
			c.reset()
			return
		}
	}
}

// reset closes both sides with RST and stops the pair's goroutines.
func (c *pair) reset() { c.shut(true) }

// close closes both sides normally.
func (c *pair) close() { c.shut(false) }

func (c *pair) shut(hard bool) {
	c.once.Do(func() {
		c.mu.Lock()
		c.isClosed = true
		t := c.target
		c.mu.Unlock()
		close(c.done)
		if hard {
			rst(c.client)
			if t != nil {
				rst(t)
			}
			return
		}
		c.client.Close()
		if t != nil {
			t.Close()
		}
	})
}

// rst closes a TCP connection so that the peer gets a reset, not a FIN.
func rst(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}
