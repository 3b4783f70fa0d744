package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// echoServer echoes every connection back and counts them.
type echoServer struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func (e *echoServer) addr() string { return e.ln.Addr().String() }

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New("test", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", p, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads it back within timeout.
func roundTrip(c net.Conn, msg []byte, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo differs")
	}
	return nil
}

func mustRoundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if err := roundTrip(c, []byte(msg), 5*time.Second); err != nil {
		t.Fatalf("round trip %q: %v", msg, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// waitReset reads from c until it fails, and checks that it failed with a
// reset (not a timeout, not a clean EOF).
func waitReset(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1024)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read: %v, want a connection reset", err)
		}
		return
	}
}

// dialReset dials p and checks that the connection is reset, either while
// connecting (the RST can beat the end of connect on loopback) or on the
// first read.
func dialReset(t *testing.T, p *Proxy) {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial %s: %v, want success or a reset", p, err)
		}
		return
	}
	defer c.Close()
	waitReset(t, c)
}

func TestPass(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.addr())
	c := dial(t, p)
	mustRoundTrip(t, c, "hello")
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, many chunks
	go c.Write(big)
	got := make([]byte, len(big))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading 1 MiB back: %v", err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("1 MiB came back different")
	}
	if p.Accepted() != 1 || p.Dialed() != 1 || e.accepted.Load() != 1 {
		t.Fatalf("accepted %d, dialed %d, target accepted %d; want 1 each", p.Accepted(), p.Dialed(), e.accepted.Load())
	}
}

// TestHalfClose: a client that closes its write side still gets the
// target's answer, then EOF.
func TestHalfClose(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.addr())
	c := dial(t, p).(*net.TCPConn)
	c.Write([]byte("bye"))
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye" {
		t.Fatalf("after half-close read %q, %v; want \"bye\", EOF", got, err)
	}
}

// TestBlackhole: an existing connection stalls in both directions (no
// answer, no reset, no EOF); a new one is accepted and read but never
// reaches the target; after Pass, the connections that lived through the
// blackhole are reset and new ones work.
func TestBlackhole(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.addr())
	old := dial(t, p)
	mustRoundTrip(t, old, "before")

	p.Blackhole()
	err := roundTrip(old, []byte("during"), 500*time.Millisecond)
	if !isTimeout(err) {
		t.Fatalf("round trip on an existing connection during the blackhole: %v, want a timeout (a stall)", err)
	}
	fresh := dial(t, p)
	// Far more than the socket buffers hold: the proxy reads it all, so
	// the writer never blocks.
	fresh.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := fresh.Write(make([]byte, 16<<20)); err != nil {
		t.Fatalf("writing 16 MiB into a blackholed connection: %v (the proxy must read and drop)", err)
	}
	fresh.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := fresh.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read on a new blackholed connection: %v, want a timeout", err)
	}
	if n := e.accepted.Load(); n != 1 {
		t.Fatalf("target accepted %d connections during the blackhole, want only the one from before", n)
	}
	if p.Accepted() != 2 {
		t.Fatalf("proxy accepted %d connections, want 2", p.Accepted())
	}

	p.Pass()
	waitReset(t, old)
	waitReset(t, fresh)
	mustRoundTrip(t, dial(t, p), "after")
}

// TestBlackholeIdleConnectionSurvives: a connection that sent nothing
// during a blackhole has no hole, so it is not reset afterwards.
func TestBlackholeIdleConnectionSurvives(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.addr())
	c := dial(t, p)
	mustRoundTrip(t, c, "before")
	p.Blackhole()
	time.Sleep(100 * time.Millisecond)
	p.Pass()
	mustRoundTrip(t, c, "after")
}

// TestReset: current connections get an RST at once; new ones are accepted
// and reset; Pass restores service.
func TestReset(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.addr())
	old := dial(t, p)
	mustRoundTrip(t, old, "before")

	p.Reset()
	waitReset(t, old)
	dialReset(t, p)
	if n := e.accepted.Load(); n != 1 {
		t.Fatalf("target accepted %d connections, want 1 (none during the reset)", n)
	}

	p.Pass()
	mustRoundTrip(t, dial(t, p), "after")
}

// TestDelay: each direction is delayed by its own amount, and bytes keep
// their order.
func TestDelay(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.addr())
	c := dial(t, p)
	mustRoundTrip(t, c, "warm")

	const up, down = 300 * time.Millisecond, 150 * time.Millisecond
	p.SetDelay(up, down)
	start := time.Now()
	mustRoundTrip(t, c, "slow")
	if took := time.Since(start); took < up+down {
		t.Fatalf("round trip took %v with delays %v up and %v down, want at least %v", took, up, down, up+down)
	}

	// Order is kept across many writes in flight.
	var want bytes.Buffer
	for i := 0; i < 200; i++ {
		want.WriteString(time.Duration(i).String())
	}
	go func() {
		data := want.Bytes()
		for i := 0; i < len(data); i += 7 {
			c.Write(data[i:min(i+7, len(data))])
		}
	}()
	got := make([]byte, want.Len())
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("delayed bytes came back out of order")
	}

	p.SetDelay(0, 0)
	mustRoundTrip(t, c, "fast again")
}

// TestDelayOneDirection: only the configured direction waits.
func TestDelayOneDirection(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.addr())
	c := dial(t, p)
	p.SetDelay(0, 400*time.Millisecond)
	start := time.Now()
	mustRoundTrip(t, c, "x")
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Fatalf("round trip took %v with a 400ms down delay", took)
	}
}

// TestCloseConns resets the current connections and leaves the link
// working for new ones.
func TestCloseConns(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.addr())
	a, b := dial(t, p), dial(t, p)
	mustRoundTrip(t, a, "a")
	mustRoundTrip(t, b, "b")
	p.CloseConns()
	waitReset(t, a)
	waitReset(t, b)
	if p.Mode() != Pass {
		t.Fatalf("mode %v after CloseConns, want pass", p.Mode())
	}
	mustRoundTrip(t, dial(t, p), "new")
}

// TestTargetDown: a connection whose target refuses is reset.
func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newProxy(t, addr)
	dialReset(t, p)
}

// TestCloseStopsEverything: Close returns after every connection was
// closed, and the port refuses afterwards.
func TestCloseStopsEverything(t *testing.T) {
	e := startEcho(t)
	p, err := New("test", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	mustRoundTrip(t, c, "x")
	p.Blackhole()
	d := dial(t, p)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	waitReset(t, c)
	waitReset(t, d)
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatalf("the proxy's port still accepts after Close")
	}
}

func TestListenRefusesNonLoopback(t *testing.T) {
	if _, err := Listen("x", "0.0.0.0:0", "127.0.0.1:1"); err == nil {
		t.Fatalf("Listen on 0.0.0.0 succeeded; only loopback addresses are allowed")
	}
}
