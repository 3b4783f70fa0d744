// Package cli turns samsa's command line, environment and server.properties
// into a validated broker configuration and a logger. It is separate from
// package main so that it can be tested without starting a broker.
//
// Precedence, lowest first: property defaults < --config file < KAFKA_*
// environment variables < --override key=value < dedicated flags
// (--data-dir, --listeners, ...).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/samsa-io/samsa/broker/config"
)

// Options is a parsed command line.
type Options struct {
	Command string // "serve", "version" or "help"
	// Props are the merged properties for config.NewBroker.
	Props map[string]string
	// Origins says where each of Props was set, for messages:
	// "server.properties:12", "environment variable KAFKA_X", "--override",
	// "--data-dir".
	Origins   map[string]string
	LogLevel  zerolog.Level
	LogFormat string // "console" or "json"
	// EnvSkipped lists KAFKA_* variables that are not properties
	// (KAFKA_HEAP_OPTS, ...); logged at debug.
	EnvSkipped []string

	// Ephemeral is serve --ephemeral; the dev command is always
	// ephemeral. Brokers, Host and Port are the dev command's.
	Ephemeral bool
	Brokers   int
	Host      string
	Port      int

	// EnvUnknown lists the KAFKA_* variables whose property samsa does
	// not know ("KAFKA_X (x)"): skipped with a warn line, never a refusal
	// to start, as the Kafka images skip what they do not know. An
	// unknown key given with --config or --override still fails.
	EnvUnknown []string
}

// UsageError is a bad command line; main prints it and exits 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usageErr(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Usage is the text of `samsa help`.
const Usage = `samsa - a Kafka-compatible broker

Usage:
  samsa [serve] [flags]   run the broker (the default command)
  samsa dev [flags]       run an ephemeral dev cluster (data removed on exit)
  samsa tls dev-certs DIR write a throwaway CA and broker/client certificates
  samsa version           print the version
  samsa help              print this help

Flags:
  --data-dir DIR                    data directory (log.dirs; default ./samsa-data)
  --listeners LIST                  NAME://host:port,... (listeners; default PLAINTEXT://localhost:9092)
  --advertised-listeners LIST       addresses given to clients (advertised.listeners; default: listeners)
  --broker-id N                     this broker's id (node.id / broker.id; default 1)
  --etcd-endpoints HOST:PORT,...    external etcd (etcd.endpoints; default: embedded etcd in the data dir)
  --etcd-prefix PREFIX              key prefix in etcd (etcd.prefix; default /samsa/)
  --admin-listener HOST:PORT        metrics, health and the web console (samsa.admin.listener;
                                    default localhost:9644; '' turns it off)
  --config FILE                     Kafka server.properties file
  --override KEY=VALUE              set any Kafka property (repeatable)
  --log-level LEVEL                 debug, info, warn or error (default info)
  --log-format FORMAT               console or json (default console)
  --ephemeral                       serve: keep the data in a temporary directory removed on exit,
                                    never fsync (etcd included), smallest internal topics; log.dirs and
                                    the etcd properties are ignored; serves the dev API (/v1) too

samsa dev flags (and --admin-listener, --config, --override, --log-level, --log-format):
  --brokers N                       brokers in the cluster (default 1)
  --port P                          the brokers listen on HOST:P ... HOST:P+N-1 (default 9092)
  --host HOST                       listener host (default 127.0.0.1)

Kafka properties can also be set as KAFKA_* environment variables, mapped as
the Kafka and Confluent images do: KAFKA_AUTO_CREATE_TOPICS_ENABLE=false is
auto.create.topics.enable=false ("_" -> ".", "__" -> "_", "___" -> "-").
Precedence, lowest first: defaults, --config, environment, --override, flags.

Clusters: brokers sharing --etcd-endpoints form one cluster (each with its own
--broker-id). Combined mode needs no etcd: process.roles=broker,controller,
controller.quorum.voters=1@host:port,2@host:port,3@host:port and a
CONTROLLER listener named by controller.listener.names make each broker an
etcd member (see README, "Combined mode").
`

// overrides collects repeated --override flags.
type overrides []string

func (o *overrides) String() string     { return strings.Join(*o, ",") }
func (o *overrides) Set(v string) error { *o = append(*o, v); return nil }

// dedicated maps a dedicated flag to the properties it sets.
var dedicated = []struct {
	flag  string
	props []string
}{
	{"data-dir", []string{"log.dirs"}},
	{"listeners", []string{"listeners"}},
	{"advertised-listeners", []string{"advertised.listeners"}},
	// Both ids, so neither a file's broker.id nor its node.id can disagree.
	{"broker-id", []string{"node.id", "broker.id"}},
	{"etcd-endpoints", []string{"etcd.endpoints"}},
	{"etcd-prefix", []string{"etcd.prefix"}},
	{"admin-listener", []string{"samsa.admin.listener"}},
}

// Parse parses args (without the program name) and merges the properties
// from the --config file, environ (os.Environ() form) and flags. It returns
// flag.ErrHelp for -h/--help, a *UsageError for a bad command line, and the
// file's error for an unreadable or malformed --config file. It does not
// validate the properties; Load does.
func Parse(args, environ []string) (*Options, error) {
	o := &Options{
		Command:   "serve",
		Props:     make(map[string]string),
		Origins:   make(map[string]string),
		LogLevel:  zerolog.InfoLevel,
		LogFormat: "console",
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "serve":
			args = args[1:]
		case "dev":
			o.Command = "dev"
			args = args[1:]
		case "version", "help":
			o.Command = args[0]
			return o, nil
		default:
			return nil, usageErr("unknown command %q", args[0])
		}
	}

	fs := flag.NewFlagSet("samsa", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // main prints errors and Usage itself
	values := make(map[string]*string)
	for _, d := range dedicated {
		values[d.flag] = fs.String(d.flag, "", "")
	}
	configFile := fs.String("config", "", "")
	var ovr overrides
	fs.Var(&ovr, "override", "")
	logLevel := fs.String("log-level", "info", "")
	logFormat := fs.String("log-format", "console", "")
	ephemeral := fs.Bool("ephemeral", false, "")
	brokers := fs.Int("brokers", 1, "")
	port := fs.Int("port", 9092, "")
	host := fs.String("host", "127.0.0.1", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageErr("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usageErr("unexpected argument %q", fs.Arg(0))
	}
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if o.Command == "dev" {
		if given["ephemeral"] {
			return nil, usageErr("--ephemeral is for serve (samsa dev is always ephemeral)")
		}
		for _, f := range []string{"data-dir", "listeners", "advertised-listeners", "broker-id", "etcd-endpoints", "etcd-prefix"} {
			if given[f] {
				return nil, usageErr("--%s is not for samsa dev (it sets them itself; samsa serve --ephemeral takes listeners)", f)
			}
		}
		if *brokers < 1 || *brokers > 32 {
			return nil, usageErr("--brokers %d: want 1 to 32", *brokers)
		}
		if *port < 1 || *port+*brokers-1 > 65535 {
			return nil, usageErr("--port %d: want 1 to %d for %d brokers", *port, 65536-*brokers, *brokers)
		}
		o.Ephemeral, o.Brokers, o.Port, o.Host = true, *brokers, *port, *host
	} else {
		for _, f := range []string{"brokers", "port", "host"} {
			if given[f] {
				return nil, usageErr("--%s is for samsa dev", f)
			}
		}
		o.Ephemeral, o.Brokers = *ephemeral, 1
	}

	lvl, err := zerolog.ParseLevel(*logLevel)
	if err != nil || !(lvl == zerolog.DebugLevel || lvl == zerolog.InfoLevel || lvl == zerolog.WarnLevel || lvl == zerolog.ErrorLevel) {
		return nil, usageErr("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	o.LogLevel = lvl
	if *logFormat != "console" && *logFormat != "json" {
		return nil, usageErr("--log-format %q: want console or json", *logFormat)
	}
	o.LogFormat = *logFormat

	set := func(key, value, origin string) {
		o.Props[key] = value
		o.Origins[key] = origin
	}
	if *configFile != "" {
		props, err := config.ParsePropertiesFile(*configFile)
		if err != nil {
			return nil, err
		}
		for _, p := range props {
			set(p.Key, p.Value, fmt.Sprintf("%s:%d", *configFile, p.Line))
		}
	}
	env, skipped := config.PropertiesFromEnv(environ)
	for _, p := range env {
		if !config.IsBrokerKey(p.Key) {
			o.EnvUnknown = append(o.EnvUnknown, p.Var+" ("+p.Key+")")
			continue
		}
		set(p.Key, p.Value, "environment variable "+p.Var)
	}
	o.EnvSkipped = skipped
	for _, kv := range ovr {
		k, v, ok := strings.Cut(kv, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			return nil, usageErr("--override %q: want key=value", kv)
		}
		set(k, v, "--override")
	}
	for _, d := range dedicated {
		if given[d.flag] {
			for _, p := range d.props {
				set(p, *values[d.flag], "--"+d.flag)
			}
		}
	}
	return o, nil
}

// Load validates the merged properties. Its error, printed with Explain,
// names every bad key and where it was set.
func Load(o *Options) (*config.Broker, error) { return config.NewBroker(o.Props) }

// Explain formats a Load error for people: one line per bad property, with
// where it came from.
func Explain(err error, o *Options) string {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("samsa: ")
		var ce *config.Error
		if errors.As(e, &ce) {
			b.WriteString(ce.Message())
			if from, ok := o.Origins[ce.Key]; ok {
				fmt.Fprintf(&b, " (set by %s)", from)
			}
		} else {
			b.WriteString(e.Error())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// NewLogger builds the process logger writing to w. It sets zerolog's
// process-wide timestamp format to millisecond precision (start-up takes
// milliseconds; second resolution hides it).
func NewLogger(w io.Writer, level zerolog.Level, format string) zerolog.Logger {
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// LogSettings logs what Load accepted but samsa ignores (warn) and, at
// debug, every property that differs from its default and where it was set.
func LogSettings(log zerolog.Logger, cfg *config.Broker, o *Options) {
	for _, w := range cfg.Warnings() {
		log.Warn().Msg(w)
	}
	for _, in := range cfg.Inert() {
		log.Warn().Str("property", in.Name).Str("value", in.Value).Str("from", o.Origins[in.Name]).
			Str("reason", in.Reason).Msg("property has no effect in samsa")
	}
	if len(o.EnvSkipped) > 0 {
		log.Debug().Strs("vars", o.EnvSkipped).Msg("environment variables that are not properties, ignored")
	}
	for _, v := range o.EnvUnknown {
		log.Warn().Str("var", v).Msg("environment variable names no broker property samsa knows; ignored")
	}
	for _, e := range cfg.Entries() {
		if e.Source == config.SourceStaticBroker {
			log.Debug().Str("property", e.Name).Str("value", e.Value).Str("from", o.Origins[e.Name]).Msg("setting")
		}
	}
	var ignored []string
	for _, k := range cfg.IgnoredKeys() {
		ignored = append(ignored, k+" ("+o.Origins[k]+")")
	}
	sort.Strings(ignored)
	if len(ignored) > 0 {
		log.Debug().Strs("properties", ignored).Msg("ignored properties")
	}
}

// ShutdownTimeout bounds Broker.Close after SIGINT/SIGTERM: the controlled
// shutdown (leaderships moved away first, bounded at 20 s; normally a few
// milliseconds) plus the deregistration and the closing of the logs.
const ShutdownTimeout = 35 * time.Second
