// Package admin is samsa's admin HTTP listener (--admin-listener, default
// localhost:9644): Prometheus metrics, health and readiness probes, the web
// console and the small JSON API the console uses.
//
//	/metrics        the broker's registry in the Prometheus text format
//	/healthz        200 while the process runs
//	/readyz         200 once the broker serves clients (broker.Ready), else 503 and why
//	/api/...        the console's JSON API (api.go)
//	/v1/...         the dev API: virtual clusters, faults, clock (v1.go; samsa dev only)
//	/               the console (console/, embedded in the binary)
//
// The listener is bound before the broker starts, so /healthz answers and
// /readyz says "starting" during start-up; everything that reads the broker
// answers 503 until Attach. The JSON API talks to the broker like any
// client does, with kadm and kgo over its own Kafka listener, and reads what
// Kafka's protocol cannot tell (log sizes, hosted replicas, readiness)
// through the broker's read-only introspection (broker/introspect.go).
package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/admin/console"
	"github.com/samsa-io/samsa/broker"
)

// Options configure a Server.
type Options struct {
	Addr    string // host:port; port 0 picks one
	Logger  zerolog.Logger
	Version string // shown by the console
	// SampleInterval is how often the throughput and lag history is
	// sampled (default 2 s).
	SampleInterval time.Duration
}

// Server is the admin HTTP listener.
type Server struct {
	opts Options
	log  zerolog.Logger
	ln   net.Listener
	srv  *http.Server

	// att is set once by Attach; handlers that need the broker read it.
	att atomic.Pointer[attached]
	// host is the dev host of /v1 (v1.go), set by AttachHost.
	host hostRef

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// attached is the broker the server serves and its clients.
type attached struct {
	b    *broker.Broker
	cl   *kgo.Client
	prod *kgo.Client // the test producer (consolePartitioner)
	adm  *kadm.Client
	h    *history
}

// Listen binds the admin listener and starts serving /healthz (and 503 for
// the rest until Attach).
func Listen(opts Options) (*Server, error) {
	if opts.SampleInterval <= 0 {
		opts.SampleInterval = 2 * time.Second
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen %s: %w", opts.Addr, err)
	}
	s := &Server{opts: opts, log: opts.Logger.With().Str("component", "admin").Logger(), ln: ln, stop: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.needBroker(func(a *attached, w http.ResponseWriter, r *http.Request) {
		promhttp.HandlerFor(a.b.Gatherer(), promhttp.HandlerOpts{ErrorLog: promLogger{s.log}}).ServeHTTP(w, r)
	}))
	s.routes(mux)
	s.v1Routes(mux)
	mux.Handle("GET /", console.Handler())
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("admin listener failed")
		}
	}()
	s.log.Info().Str("addr", ln.Addr().String()).Msg("admin listener (metrics, console) listening")
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Attach serves b from now on; call it once b.Start has returned.
func (s *Server) Attach(b *broker.Broker) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.ClientID("samsa-console"),
		kgo.RequestTimeoutOverhead(5*time.Second), kgo.RetryTimeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("admin: client for %s: %w", b.KafkaAddr(), err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()), kgo.ClientID("samsa-console"),
		kgo.RecordPartitioner(consolePartitioner()), kgo.ProducerLinger(0), kgo.RecordRetries(3))
	if err != nil {
		cl.Close()
		return fmt.Errorf("admin: client for %s: %w", b.KafkaAddr(), err)
	}
	a := &attached{b: b, cl: cl, prod: prod, adm: kadm.NewClient(cl), h: newHistory(600)}
	if !s.att.CompareAndSwap(nil, a) {
		cl.Close()
		prod.Close()
		return errors.New("admin: already attached")
	}
	s.wg.Add(1)
	go s.sampleLoop(a)
	return nil
}

// Close stops the listener and the sampler and waits for them. Only the
// first call does anything.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		s.closeErr = s.srv.Shutdown(ctx)
		close(s.stop)
		s.wg.Wait()
		if a := s.att.Load(); a != nil {
			a.cl.Close()
			a.prod.Close()
		}
	})
	return s.closeErr
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	a := s.att.Load()
	if a == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready: starting")
		return
	}
	if err := a.b.Ready(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, err.Error())
		return
	}
	fmt.Fprintln(w, "ready")
}

// needBroker answers 503 until Attach.
func (s *Server) needBroker(fn func(a *attached, w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := s.att.Load()
		if a == nil {
			writeError(w, http.StatusServiceUnavailable, "the broker is starting")
			return
		}
		fn(a, w, r)
	})
}

// promLogger lets promhttp log through zerolog.
type promLogger struct{ log zerolog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn().Msg(fmt.Sprint(v...)) }
