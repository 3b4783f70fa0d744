// Command samsa runs a Kafka-compatible broker.
//
//	samsa [serve] [flags]   run the broker
//	samsa version
//	samsa help
//
// Exit codes: 0 after a clean shutdown, 1 when the broker fails or does not
// shut down in time, 2 for a bad command line or configuration (nothing has
// started then).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/samsa-io/samsa/cmd/samsa/internal/cli"
)

// version is set at build time: -ldflags "-X main.version=v0.1.0".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
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
		return 0
	}
	cfg, err := cli.Load(opts)
	if err != nil {
		fmt.Fprint(stderr, cli.Explain(err, opts))
		return 2
	}
	log := cli.NewLogger(stderr, opts.LogLevel, opts.LogFormat)
	cli.LogSettings(log, cfg, opts)
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
