package main

import (
	"context"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/samsa-io/samsa/admin"
	"github.com/samsa-io/samsa/broker"
	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/cmd/samsa/internal/cli"
)

// serve runs the broker until SIGINT or SIGTERM and returns the exit code.
func serve(ctx context.Context, cfg *config.Broker, log zerolog.Logger) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// SAMSA_PPROF_ADDR (e.g. 127.0.0.1:6060) serves net/http/pprof for
	// profiling; off unless set.
	if addr := os.Getenv("SAMSA_PPROF_ADDR"); addr != "" {
		go func() {
			log.Info().Str("addr", addr).Msg("pprof listening")
			if err := http.ListenAndServe(addr, nil); err != nil {
				log.Warn().Err(err).Msg("pprof listener failed")
			}
		}()
	}

	b, err := broker.New(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot create broker")
		return 1
	}
	// The admin listener is up before the broker starts, so /healthz
	// answers and /readyz says "starting" meanwhile.
	adm, err := startAdmin(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot start the admin listener; set --admin-listener to a free address, or '' to turn it off")
		return 1
	}
	if adm != nil {
		defer adm.Close()
	}
	// Start logs the "listening" line itself once requests are accepted.
	if err := b.Start(ctx); err != nil {
		log.Error().Err(err).Msg("cannot start broker")
		return 1
	}
	if adm != nil {
		if err := adm.Attach(b); err != nil {
			log.Error().Err(err).Msg("admin listener cannot serve the broker")
		}
	}
	logReady(ctx, b, log)

	<-ctx.Done()
	// From here a second signal kills the process the default way.
	stop()
	log.Info().Msg("shutting down")
	if adm != nil {
		adm.Close() // before the broker: its sampler reads the broker
	}
	return closeWithin(b.Close, cli.ShutdownTimeout, log)
}

// logReady logs "samsa ready" once the broker serves clients
// (broker.Ready, what /readyz answers): the line a container wait strategy
// matches. A broker that is not ready within a minute says why instead.
func logReady(ctx context.Context, b *broker.Broker, log zerolog.Logger) {
	deadline := time.Now().Add(time.Minute)
	for {
		err := b.Ready()
		if err == nil {
			log.Info().Str("bootstrap", b.KafkaAddr()).Int32("broker_id", b.ID()).Dur("startup", b.Uptime()).Msg("samsa ready")
			// Start-up (etcd, the logs, the coordinators' loading) leaves
			// garbage the runtime would return to the OS only slowly.
			debug.FreeOSMemory()
			return
		}
		if time.Now().After(deadline) {
			log.Warn().Err(err).Msg("not ready a minute after start")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// startAdmin binds samsa.admin.listener (--admin-listener); nil when it is
// turned off. A listener beyond loopback gets a warning: it has no
// authentication, and the console can delete topics.
func startAdmin(cfg *config.Broker, log zerolog.Logger) (*admin.Server, error) {
	addr := cfg.Str("samsa.admin.listener")
	if addr == "" {
		log.Info().Msg("admin listener turned off (--admin-listener '')")
		return nil, nil
	}
	s, err := admin.Listen(admin.Options{Addr: addr, Logger: log, Version: versionString()})
	if err != nil {
		return nil, err
	}
	if ta, ok := s.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		log.Warn().Str("addr", ta.String()).Msg("the admin listener (metrics, console) is reachable beyond this host and has no authentication")
	}
	log.Info().Str("url", "http://"+s.Addr().String()+"/").Msg("web console")
	return s, nil
}

// closeWithin runs closeFn and waits at most timeout for it.
func closeWithin(closeFn func() error, timeout time.Duration, log zerolog.Logger) int {
	done := make(chan error, 1)
	go func() { done <- closeFn() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			log.Error().Err(err).Msg("shutdown failed")
			return 1
		}
		return 0 // the broker logs its own "stopped" line
	case <-t.C:
		log.Error().Dur("timeout", timeout).Msg("shutdown timed out; exiting")
		return 1
	}
}
