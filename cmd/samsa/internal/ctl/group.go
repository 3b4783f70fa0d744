package ctl

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func init() {
	register(&command{name: "group list", short: "list consumer groups", run: groupList})
	register(&command{name: "group describe", args: "GROUP", short: "show a group's members, committed offsets and lag", run: groupDescribe})
	register(&command{name: "group seek", args: "GROUP", short: "move a group's committed offsets",
		long: `--to is start, end, N (an offset), -N (N before the end) or @TIME (unix ms or
RFC 3339). The group must have no active members: stop its consumers first.`,
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.StringVar(&o.to, "to", "", "where to: start, end, N, -N or @TIME")
			fs.Var(&o.topics, "topic", "topic to move (repeatable; default: every topic the group has offsets for)")
			fs.Var(&o.topics, "t", "")
		},
		run: groupSeek})
	register(&command{name: "group delete", args: "GROUP...", short: "delete groups without members and their offsets", run: groupDelete})
}

func groupList(ctx context.Context, c *cmdCtx) error {
	if err := c.need(0, ""); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	listed, err := c.adm.ListGroups(ctx)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL\tCOORDINATOR")
	for _, g := range listed.Sorted() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", g.Group, g.State, g.ProtocolType, g.Coordinator)
	}
	return tw.Flush()
}

func groupDescribe(ctx context.Context, c *cmdCtx) error {
	if err := c.need(1, "group"); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	name := c.args[0]
	lags, err := c.adm.Lag(ctx, name)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	l, ok := lags[name]
	if !ok || l.State == "Dead" {
		return fmt.Errorf("group %s: %w", name, kerr.GroupIDNotFound)
	}
	if err := l.Error(); err != nil {
		return fmt.Errorf("group %s: %w", name, err)
	}
	c.out("GROUP        %s\nSTATE        %s\nPROTOCOL     %s\nCOORDINATOR  %d\nMEMBERS      %d\nTOTAL-LAG    %d\n\n",
		name, l.State, l.Protocol, l.Coordinator.NodeID, len(l.Members), l.Lag.Total())
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER\tCLIENT")
	for _, ml := range l.Lag.Sorted() {
		member, client := "-", "-"
		if ml.Member != nil {
			member, client = ml.Member.MemberID, ml.Member.ClientID
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", ml.Topic, ml.Partition, ml.Commit.At, ml.End.Offset, ml.Lag, member, client)
	}
	return tw.Flush()
}

func groupSeek(ctx context.Context, c *cmdCtx) error {
	if err := c.need(1, "group"); err != nil {
		return err
	}
	to := c.o.to
	if to == "" {
		return usagef("--to is required: start, end, N, -N or @TIME")
	}
	var ms, n int64
	switch {
	case to == "start" || to == "end":
	case strings.HasPrefix(to, "@"):
		v, err := strconv.ParseInt(to[1:], 10, 64)
		if err != nil {
			t, terr := time.Parse(time.RFC3339, to[1:])
			if terr != nil {
				return usagef("--to %q: want @<unix ms> or @<RFC 3339 time>", to)
			}
			v = t.UnixMilli()
		}
		ms = v
	default:
		v, err := strconv.ParseInt(to, 10, 64)
		if err != nil {
			return usagef("--to %q: want start, end, N, -N or @TIME", to)
		}
		n = v
	}
	if err := c.connect(); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	name := c.args[0]
	described, err := c.adm.DescribeGroups(ctx, name)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	if g, ok := described[name]; ok && len(g.Members) > 0 {
		return fmt.Errorf("group %s: %w: it has %d active members; stop its consumers first", name, kerr.NonEmptyGroup, len(g.Members))
	}
	topics := []string(c.o.topics)
	if len(topics) == 0 {
		committed, err := c.adm.FetchOffsets(ctx, name)
		if err != nil {
			return reachErr(err, c.o.brokers)
		}
		seen := map[string]bool{}
		committed.Each(func(o kadm.OffsetResponse) {
			if !seen[o.Topic] {
				seen[o.Topic] = true
				topics = append(topics, o.Topic)
			}
		})
		if len(topics) == 0 {
			return usagef("group %s has no committed offsets: name the topics with --topic", name)
		}
	}
	starts, err := c.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	ends, err := c.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	var atTime kadm.ListedOffsets
	if strings.HasPrefix(to, "@") {
		if atTime, err = c.adm.ListOffsetsAfterMilli(ctx, ms, topics...); err != nil {
			return reachErr(err, c.o.brokers)
		}
	}
	offs := kadm.Offsets{}
	var missing error
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil {
			missing = fmt.Errorf("topic %s: %w", e.Topic, e.Err)
			return
		}
		s, _ := starts.Lookup(e.Topic, e.Partition)
		lo, hi := s.Offset, e.Offset
		var at int64
		switch {
		case to == "start":
			at = lo
		case to == "end":
			at = hi
		case strings.HasPrefix(to, "@"):
			at = hi
			if t, ok := atTime.Lookup(e.Topic, e.Partition); ok && t.Err == nil && t.Offset >= 0 {
				at = t.Offset
			}
		case n < 0:
			at = hi + n
		default:
			at = n
		}
		offs.Add(kadm.Offset{Topic: e.Topic, Partition: e.Partition, At: min(max(at, lo), hi), LeaderEpoch: -1})
	})
	if missing != nil {
		return missing
	}
	resps, err := c.adm.CommitOffsets(ctx, name, offs)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	if err := resps.Error(); err != nil {
		return fmt.Errorf("group %s: %w", name, err)
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tOFFSET")
	for _, o := range offs.Sorted() {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", o.Topic, o.Partition, o.At)
	}
	return tw.Flush()
}

func groupDelete(ctx context.Context, c *cmdCtx) error {
	if err := c.need(1, "group..."); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resps, err := c.adm.DeleteGroups(ctx, c.args...)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	var failed error
	for _, g := range c.args {
		if r := resps[g]; r.Err != nil {
			failed = fmt.Errorf("group %s: %w", g, r.Err)
			continue
		}
		c.out("deleted %s\n", g)
	}
	return failed
}
