package main

// samsa dev and samsa serve --ephemeral: a throw-away cluster for
// development and CI (package devcluster). The data lives in a directory
// made for the run and removed on exit; nothing is fsynced (etcd
// included); the internal topics have one partition. The admin listener
// serves the dev API (/v1: virtual clusters, faults, the virtual clock,
// broker kill and restart) beside the console.

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/samsa-io/samsa/broker/config"
	"github.com/samsa-io/samsa/cmd/samsa/internal/cli"
	"github.com/samsa-io/samsa/devcluster"
)

// devIgnored are properties an ephemeral run sets itself.
var devIgnored = []string{"log.dirs", "log.dir", "node.id", "broker.id", "etcd.endpoints", "etcd.prefix",
	// A KRaft combined node's quorum (Testcontainers sets one): the dev
	// cluster runs its own etcd.
	"process.roles", "controller.quorum.voters", "controller.quorum.bootstrap.servers"}

// dev runs the ephemeral cluster until SIGINT or SIGTERM and returns the
// exit code.
func dev(ctx context.Context, cfg *config.Broker, opts *cli.Options, log zerolog.Logger, stdout io.Writer) int {
	start := time.Now()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	props := maps.Clone(opts.Props)
	ignored := append([]string(nil), devIgnored...)
	if opts.Command == "dev" {
		ignored = append(ignored, "listeners", "advertised.listeners")
	}
	for _, k := range ignored {
		if _, ok := props[k]; ok {
			log.Warn().Str("property", k).Str("from", opts.Origins[k]).
				Msg("ignored in ephemeral mode: the dev cluster sets it itself")
			delete(props, k)
		}
	}
	spec := devcluster.Spec{ID: "default", Brokers: opts.Brokers, Port: opts.Port}
	host := opts.Host
	if opts.Command != "dev" {
		// serve --ephemeral: the configured listeners, as serve has them.
		var ls []string
		for _, l := range cfg.Listeners {
			ls = append(ls, l.String())
		}
		props["listeners"] = strings.Join(ls, ",")
		spec.Port = 0
	}

	adm, err := startAdmin(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot start the admin listener; set --admin-listener to a free address, or '' to turn it off")
		return 1
	}
	if adm != nil {
		defer adm.Close()
	}
	h, err := devcluster.NewHost(devcluster.HostOptions{Host: host, Properties: props, Logger: log})
	if err != nil {
		log.Error().Err(err).Msg("cannot start the dev host")
		return 1
	}
	closeHost := func() int { return closeWithin(h.Close, cli.ShutdownTimeout, log) }
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	c, err := h.Create(cctx, spec)
	cancel()
	if err != nil {
		log.Error().Err(err).Msg("cannot start the dev cluster")
		closeHost()
		return 1
	}
	adminURL := ""
	if adm != nil {
		if err := adm.Attach(c.Broker(1)); err != nil {
			log.Error().Err(err).Msg("admin listener cannot serve the broker")
		}
		adm.AttachHost(h)
		adminURL = "http://" + adm.Addr().String() + "/"
	}
	var ids []int32
	for _, b := range c.Brokers() {
		ids = append(ids, b.ID)
	}
	// The readiness line: a wait strategy matches "samsa ready".
	log.Info().Str("bootstrap", c.Bootstrap()).Str("cluster_id", c.ClusterID()).Ints32("brokers", ids).
		Str("admin", adminURL).Str("data_dir", h.Root()).Dur("startup", time.Since(start)).
		Msg("samsa ready")
	fmt.Fprintf(stdout, "SAMSA_BOOTSTRAP=%s\n", c.Bootstrap())

	<-ctx.Done()
	stop()
	log.Info().Msg("shutting down; removing the ephemeral data")
	if adm != nil {
		adm.Close()
	}
	return closeHost()
}
