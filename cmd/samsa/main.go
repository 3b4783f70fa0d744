// Command samsa runs a Kafka-compatible broker.
//
//	samsa [serve] [flags]   run the broker
//	samsa dev [flags]       an ephemeral dev cluster (dev.go); also serve --ephemeral
//	samsa tls dev-certs DIR throwaway TLS certificates for development (tls.go)
//	samsa version
//	samsa help
//	samsa topic|produce|consume|group|cluster ...   a client of any Kafka cluster (internal/ctl)
//
// Exit codes: 0 after a clean shutdown, 1 when the broker fails or does not
// shut down in time, 2 for a bad command line or configuration (nothing has
// started then). The client commands: 0 ok, 1 the cluster refused or could
// not be reached, 2 a bad command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/samsa-io/samsa/cmd/samsa/internal/cli"
	"github.com/samsa-io/samsa/cmd/samsa/internal/ctl"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// stdin is what the client commands read (samsa produce).
var stdin io.Reader = os.Stdin

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "tls" {
		return tlsCommand(args[1:], stdout, stderr)
	}
	if len(args) > 0 && ctl.Commands[args[0]] {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return ctl.Run(ctx, args, ctl.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Environ: environ})
	}
	opts, err := cli.Parse(args, environ)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, cli.Usage)
			return 0
		}
		fmt.Fprintf(stderr, "samsa: %v\n", err)
		var ue *cli.UsageError
		if errors.As(err, &ue) {
			fmt.Fprintln(stderr, "Run 'samsa help' for usage.")
		}
		return 2
	}
	switch opts.Command {
	case "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help":
		fmt.Fprint(stdout, cli.Usage)
		fmt.Fprint(stdout, "\nClient commands (any Kafka-compatible cluster; -b/--brokers or SAMSA_BROKERS):\n"+ctl.Usage())
		return 0
	}
	cfg, err := cli.Load(opts)
	if err != nil {
		fmt.Fprint(stderr, cli.Explain(err, opts))
		return 2
	}
	log := cli.NewLogger(stderr, opts.LogLevel, opts.LogFormat)
	cli.LogSettings(log, cfg, opts)
	if opts.Ephemeral {
		return dev(ctx, cfg, opts, log, stdout)
	}
	return serve(ctx, cfg, log)
}

func versionString() string {
	s := "samsa " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				s += " (" + kv.Value[:12] + ")"
			}
		}
	}
	return s + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}
