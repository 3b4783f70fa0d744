// Package ctl is samsa's client command line, in the spirit of Redpanda's
// rpk: topics, produce, consume, groups and cluster information for any
// Kafka-compatible cluster, built on franz-go's kgo and kadm.
//
//	samsa topic create|list|describe|delete|alter-config|add-partitions
//	samsa produce TOPIC
//	samsa consume TOPIC
//	samsa group list|describe|seek|delete
//	samsa cluster info|config
//
// Every command takes -b/--brokers (default $SAMSA_BROKERS, else
// localhost:9092) and --timeout, and prints its help with --help.
//
// Exit codes, for scripts: 0 success; 1 the cluster refused the request or
// could not be reached (the message names the Kafka error, e.g.
// UNKNOWN_TOPIC_OR_PARTITION); 2 a bad command line (unknown command or
// flag, bad offset spec, missing argument). Errors go to stderr as one line
// starting with "samsa: ".
package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitCluster = 1
	ExitUsage   = 2
)

// Commands are the first words ctl handles.
var Commands = map[string]bool{"topic": true, "produce": true, "consume": true, "group": true, "cluster": true}

// Env is what a command runs with.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Environ        []string
}

// usageError is a bad command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// command is one leaf command.
type command struct {
	name  string // "topic create"
	args  string // "NAME"
	short string
	long  string
	flags func(fs *flag.FlagSet, o *opts)
	run   func(ctx context.Context, c *cmdCtx) error
}

// opts holds every flag any command has; each command registers the ones
// it uses.
type opts struct {
	brokers string
	timeout time.Duration

	partitions int
	replicas   int
	configs    multi
	internal   bool
	set, del   multi
	count      int
	key        string
	headers    multi
	format     string
	acks       string
	partition  int
	offset     string
	group      string
	num        int
	exitAtEnd  bool
	topics     multi
	to         string
	brokerID   int
}

// multi is a repeatable flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// cmdCtx is a running command.
type cmdCtx struct {
	o    *opts
	args []string
	env  Env
	cl   *kgo.Client
	adm  *kadm.Client
	// parts is the partition count produce checked, when it did.
	parts int
}

func (c *cmdCtx) out(format string, args ...any) { fmt.Fprintf(c.env.Stdout, format, args...) }

var commands []*command

func register(c *command) { commands = append(commands, c) }

// Run runs args (starting with the command's first word) and returns the
// exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdin == nil {
		env.Stdin = os.Stdin
	}
	cmd, rest := find(args)
	if cmd == nil {
		if len(args) == 1 || (len(args) > 1 && (args[1] == "--help" || args[1] == "-h" || args[1] == "help")) {
			fmt.Fprint(env.Stdout, groupUsage(args[0]))
			return ExitOK
		}
		fmt.Fprintf(env.Stderr, "samsa: unknown command %q\n%s", strings.Join(args[:min(len(args), 2)], " "), groupUsage(args[0]))
		return ExitUsage
	}
	o := &opts{}
	fs := flag.NewFlagSet("samsa "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	brokers := "localhost:9092"
	for _, kv := range env.Environ {
		if v, ok := strings.CutPrefix(kv, "SAMSA_BROKERS="); ok && v != "" {
			brokers = v
		}
	}
	fs.StringVar(&o.brokers, "brokers", brokers, "")
	fs.StringVar(&o.brokers, "b", brokers, "")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Second, "")
	if cmd.flags != nil {
		cmd.flags(fs, o)
	}
	pos, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.Stdout, cmd.usage())
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "samsa: %s: %v\nRun 'samsa %s --help' for usage.\n", cmd.name, err, cmd.name)
		return ExitUsage
	}
	c := &cmdCtx{o: o, args: pos, env: env}
	if err := cmd.run(ctx, c); err != nil {
		if c.cl != nil {
			c.cl.Close()
		}
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(env.Stderr, "samsa: %s: %v\nRun 'samsa %s --help' for usage.\n", cmd.name, err, cmd.name)
			return ExitUsage
		}
		fmt.Fprintf(env.Stderr, "samsa: %s: %v\n", cmd.name, err)
		return ExitCluster
	}
	if c.cl != nil {
		c.cl.Close()
	}
	return ExitOK
}

// find resolves the command: "topic create ..." or "produce ...".
func find(args []string) (*command, []string) {
	if len(args) == 0 {
		return nil, nil
	}
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && slicesEqual(args[:len(words)], words) {
			return c, args[len(words):]
		}
	}
	return nil, nil
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// parseInterspersed parses flags wherever they are among the positional
// arguments ("topic create orders -p 3"); "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// connect makes the clients; extra options for consume and produce.
func (c *cmdCtx) connect(extra ...kgo.Opt) error {
	seeds := strings.Split(c.o.brokers, ",")
	opts := append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ClientID("samsa-cli"),
		kgo.RetryTimeout(c.o.timeout), kgo.RequestTimeoutOverhead(c.o.timeout)}, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return usagef("%v", err)
	}
	c.cl, c.adm = cl, kadm.NewClient(cl)
	return nil
}

// withTimeout bounds one command's requests.
func (c *cmdCtx) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.o.timeout)
}

// need checks the number of positional arguments.
func (c *cmdCtx) need(n int, what string) error {
	if len(c.args) < n {
		return usagef("missing %s", what)
	}
	if len(c.args) > n && n > 0 && !strings.HasSuffix(what, "...") {
		return usagef("unexpected argument %q", c.args[n])
	}
	return nil
}

// reachErr words a failure to get any answer.
func reachErr(err error, brokers string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from %s in time: %w", brokers, err)
	}
	return err
}

func (c *command) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nUsage:\n  samsa %s", c.short, c.name)
	if c.args != "" {
		fmt.Fprintf(&b, " %s", c.args)
	}
	b.WriteString(" [flags]\n")
	if c.long != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(c.long))
	}
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	o := &opts{}
	if c.flags != nil {
		c.flags(fs, o)
	}
	b.WriteString("\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		if f.Usage == "" {
			return
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		fmt.Fprintf(&b, "  %-24s %s\n", dash+f.Name+valueHint(f), f.Usage)
	})
	b.WriteString(commonFlags)
	return b.String()
}

func valueHint(f *flag.Flag) string {
	if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
		return ""
	}
	return " " + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

const commonFlags = `  -b, --brokers HOST:PORT,...  brokers to bootstrap from (default $SAMSA_BROKERS, else localhost:9092)
  --timeout DURATION       give up on the cluster after this long (default 15s)

Exit codes: 0 ok, 1 the cluster refused or could not be reached, 2 bad command line.
`

// groupUsage lists the commands starting with word.
func groupUsage(word string) string {
	var names []string
	for _, c := range commands {
		if strings.Fields(c.name)[0] == word {
			names = append(names, fmt.Sprintf("  samsa %-22s %s\n", c.name, c.short))
		}
	}
	sort.Strings(names)
	return "Commands:\n" + strings.Join(names, "") + "\nRun 'samsa <command> --help' for a command's flags.\n"
}

// Usage lists every client command (for `samsa help`).
func Usage() string {
	var names []string
	for _, c := range commands {
		names = append(names, fmt.Sprintf("  samsa %-22s %s\n", c.name, c.short))
	}
	sort.Strings(names)
	return strings.Join(names, "")
}
