package difftest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The recording proxy: a TCP proxy in front of Kafka that forwards every
// frame unchanged and logs each request and response frame of every client
// connection to the current recording. Kafka advertises the proxy's port
// (KafkaOptions.AdvertisedPort), so that clients that follow Metadata or
// FindCoordinator come back through it.
//
// Each connection belongs to the recording that was current when it was
// accepted; its frames after that recording ended are forwarded but not
// logged.

// Proxy is a recording TCP proxy.
type Proxy struct {
	ln net.Listener

	mu       sync.Mutex // guards the fields below
	upstream string
	rec      *recording
	conns    map[net.Conn]bool
	closed   bool
	wg       sync.WaitGroup // the pipes
	acceptWG sync.WaitGroup // the accept loop
}

// recording is one client's session of the proxy.
type recording struct {
	mu     sync.Mutex // guards the fields below
	w      *corpusWriter
	start  time.Time
	seq    int
	conns  int
	capped bool
	limit  int64 // frame bytes after which logging stops
	done   bool
	err    error
}

// NewProxy listens on a free loopback port.
func NewProxy() (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &Proxy{ln: ln, conns: map[net.Conn]bool{}}, nil
}

// Port is the port the proxy listens on.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Addr is the proxy's address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Serve starts forwarding to upstream.
func (p *Proxy) Serve(upstream string) {
	p.SetUpstream(upstream)
	p.acceptWG.Add(1)
	go p.acceptLoop()
}

// SetUpstream changes where new connections go (a fresh Kafka per
// recording); connections already open keep theirs.
func (p *Proxy) SetUpstream(upstream string) {
	p.mu.Lock()
	p.upstream = upstream
	p.mu.Unlock()
}

func (p *Proxy) acceptLoop() {
	defer p.acceptWG.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		up, rec := p.upstream, p.rec
		p.conns[c] = true
		p.wg.Add(1)
		p.mu.Unlock()
		go p.pipe(c, up, rec)
	}
}

// Record starts a recording into path (ending the current one); limit
// bounds the frame bytes logged.
func (p *Proxy) Record(path, client, note string, limit int64) error {
	if err := p.EndRecording(); err != nil {
		return err
	}
	w, err := createCorpus(path)
	if err != nil {
		return err
	}
	rec := &recording{w: w, start: time.Now(), limit: limit}
	if err := w.write(Event{Dir: "meta", Client: client, Kafka: "4.4.0", Note: note, Started: rec.start.UTC().Format(time.RFC3339)}); err != nil {
		return err
	}
	p.mu.Lock()
	p.rec = rec
	p.mu.Unlock()
	return nil
}

// EndRecording closes the current recording, if any, and returns the first
// error writing it.
func (p *Proxy) EndRecording() error {
	p.mu.Lock()
	rec := p.rec
	p.rec = nil
	p.mu.Unlock()
	if rec == nil {
		return nil
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.done = true
	err := rec.w.write(Event{Seq: rec.seq + 1, Dir: "end", Capped: rec.capped})
	if cerr := rec.w.close(); err == nil {
		err = cerr
	}
	if rec.err != nil {
		return rec.err
	}
	return err
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.acceptWG.Wait()
	p.wg.Wait()
	return errors.Join(err, p.EndRecording())
}

// log appends one event to rec (nil: not recording).
func (rec *recording) log(e Event) {
	if rec == nil {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.done || rec.capped || rec.err != nil {
		return
	}
	if rec.w.n+int64(len(e.Frame)) > rec.limit {
		rec.capped = true
		return
	}
	rec.seq++
	e.Seq = rec.seq
	e.US = time.Since(rec.start).Microseconds()
	rec.err = rec.w.write(e)
}

func (rec *recording) newConn() int {
	if rec == nil {
		return 0
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.conns++
	return rec.conns
}

// pipe forwards one client connection to upstream, logging both ways.
func (p *Proxy) pipe(client net.Conn, upstream string, rec *recording) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, client)
		p.mu.Unlock()
		client.Close()
	}()
	server, err := net.DialTimeout("tcp", upstream, 10*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	id := rec.newConn()
	var once sync.Once
	closeBy := func(by string) {
		once.Do(func() { rec.log(Event{Conn: id, Dir: "close", By: by}) })
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			frame, err := readFrame(server)
			if err != nil {
				closeBy("broker")
				client.Close()
				return
			}
			corr := int32(0)
			if len(frame) >= 4 {
				corr = int32(binary.BigEndian.Uint32(frame))
			}
			// Logged before it is forwarded: whatever the client sends
			// after seeing it is logged after it.
			rec.log(Event{Conn: id, Dir: "resp", Corr: corr, Frame: frame})
			if err := writeFrame(client, frame); err != nil {
				closeBy("client")
				server.Close()
				return
			}
		}
	}()
	for {
		frame, err := readFrame(client)
		if err != nil {
			closeBy("client")
			server.Close()
			break
		}
		key, ver, corr, herr := parseRequestHeader(frame)
		if herr == nil {
			rec.log(Event{Conn: id, Dir: "req", Key: key, Ver: ver, Corr: corr, Frame: frame})
		}
		if err := writeFrame(server, frame); err != nil {
			closeBy("broker")
			break
		}
	}
	<-done
}

func writeFrame(w io.Writer, frame []byte) error {
	buf := make([]byte, 4, 4+len(frame))
	binary.BigEndian.PutUint32(buf, uint32(len(frame)))
	buf = append(buf, frame...)
	_, err := w.Write(buf)
	if err != nil {
		return fmt.Errorf("difftest: proxy write: %w", err)
	}
	return nil
}
