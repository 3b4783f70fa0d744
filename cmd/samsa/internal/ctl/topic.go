package ctl

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
)

func init() {
	register(&command{name: "topic create", args: "NAME...", short: "create topics",
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.IntVar(&o.partitions, "partitions", -1, "partitions (default: the broker's num.partitions)")
			fs.IntVar(&o.partitions, "p", -1, "")
			fs.IntVar(&o.replicas, "replicas", -1, "replication factor (default: the broker's default.replication.factor)")
			fs.IntVar(&o.replicas, "r", -1, "")
			fs.Var(&o.configs, "config", "topic config KEY=VALUE (repeatable)")
			fs.Var(&o.configs, "c", "")
		},
		run: topicCreate})
	register(&command{name: "topic list", short: "list topics",
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.BoolVar(&o.internal, "internal", false, "include internal topics")
			fs.BoolVar(&o.internal, "i", false, "")
		},
		run: topicList})
	register(&command{name: "topic describe", args: "NAME", short: "show a topic's partitions and configs", run: topicDescribe})
	register(&command{name: "topic delete", args: "NAME...", short: "delete topics", run: topicDelete})
	register(&command{name: "topic alter-config", args: "NAME", short: "set or delete topic configs",
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.Var(&o.set, "set", "KEY=VALUE to set (repeatable)")
			fs.Var(&o.del, "delete", "KEY to reset to its default (repeatable)")
		},
		run: topicAlterConfig})
	register(&command{name: "topic add-partitions", args: "NAME", short: "add partitions to a topic",
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.IntVar(&o.count, "num", 0, "how many partitions to add")
			fs.IntVar(&o.count, "n", 0, "")
		},
		run: topicAddPartitions})
}

func parseKV(list []string, what string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("%s %q: want KEY=VALUE", what, kv)
		}
		out[k] = v
	}
	return out, nil
}

func topicCreate(ctx context.Context, c *cmdCtx) error {
	if err := c.need(1, "topic name..."); err != nil {
		return err
	}
	cfgs, err := parseKV(c.o.configs, "--config")
	if err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	configs := map[string]*string{}
	for k, v := range cfgs {
		configs[k] = &v
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resps, err := c.adm.CreateTopics(ctx, int32(c.o.partitions), int16(c.o.replicas), configs, c.args...)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	var failed error
	for _, name := range c.args {
		r := resps[name]
		if r.Err != nil {
			failed = withMsg(fmt.Errorf("topic %s: %w", name, r.Err), r.ErrMessage)
			continue
		}
		c.out("created %s (%d partitions, replication factor %d)\n", name, r.NumPartitions, r.ReplicationFactor)
	}
	return failed
}

func withMsg(err error, msg string) error {
	if msg == "" || err == nil || strings.Contains(err.Error(), msg) {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}

func topicList(ctx context.Context, c *cmdCtx) error {
	if err := c.need(0, ""); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	var details kadm.TopicDetails
	var err error
	if c.o.internal {
		details, err = c.adm.ListTopicsWithInternal(ctx)
	} else {
		details, err = c.adm.ListTopics(ctx)
	}
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPARTITIONS\tREPLICAS")
	for _, name := range details.Names() {
		d := details[name]
		rf := 0
		if p, ok := d.Partitions[0]; ok {
			rf = len(p.Replicas)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\n", name, len(d.Partitions), rf)
	}
	return tw.Flush()
}

func topicDescribe(ctx context.Context, c *cmdCtx) error {
	if err := c.need(1, "topic name"); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	name := c.args[0]
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	details, err := c.adm.ListTopicsWithInternal(ctx, name)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	d, ok := details[name]
	if !ok {
		return fmt.Errorf("topic %s: UNKNOWN_TOPIC_OR_PARTITION: the topic does not exist", name)
	}
	if d.Err != nil {
		return fmt.Errorf("topic %s: %w", name, d.Err)
	}
	start, err := c.adm.ListStartOffsets(ctx, name)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	end, err := c.adm.ListEndOffsets(ctx, name)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	c.out("NAME        %s\nID          %s\nINTERNAL    %v\nPARTITIONS  %d\n\n", name,
		base64.RawURLEncoding.EncodeToString(d.ID[:]), d.IsInternal, len(d.Partitions))
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tLEADER\tEPOCH\tREPLICAS\tISR\tOFFLINE\tSTART\tEND")
	for _, p := range d.Partitions.Sorted() {
		so, eo := int64(-1), int64(-1)
		if o, ok := start.Lookup(name, p.Partition); ok && o.Err == nil {
			so = o.Offset
		}
		if o, ok := end.Lookup(name, p.Partition); ok && o.Err == nil {
			eo = o.Offset
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%v\t%v\t%v\t%d\t%d\n", p.Partition, p.Leader, p.LeaderEpoch, p.Replicas, p.ISR, p.OfflineReplicas, so, eo)
	}
	tw.Flush()
	rcs, err := c.adm.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	rc, err := rcs.On(name, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return fmt.Errorf("configs of %s: %w", name, err)
	}
	sort.Slice(rc.Configs, func(i, j int) bool { return rc.Configs[i].Key < rc.Configs[j].Key })
	c.out("\n")
	tw = tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONFIG\tVALUE\tSOURCE")
	for _, cfg := range rc.Configs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", cfg.Key, cfg.MaybeValue(), cfg.Source)
	}
	return tw.Flush()
}

func topicDelete(ctx context.Context, c *cmdCtx) error {
	if err := c.need(1, "topic name..."); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resps, err := c.adm.DeleteTopics(ctx, c.args...)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	var failed error
	for _, name := range c.args {
		r := resps[name]
		if r.Err != nil {
			failed = withMsg(fmt.Errorf("topic %s: %w", name, r.Err), r.ErrMessage)
			continue
		}
		c.out("deleted %s\n", name)
	}
	return failed
}

func topicAlterConfig(ctx context.Context, c *cmdCtx) error {
	if err := c.need(1, "topic name"); err != nil {
		return err
	}
	set, err := parseKV(c.o.set, "--set")
	if err != nil {
		return err
	}
	if len(set) == 0 && len(c.o.del) == 0 {
		return usagef("nothing to alter: give --set KEY=VALUE or --delete KEY")
	}
	var alters []kadm.AlterConfig
	for k, v := range set {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	for _, k := range c.o.del {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if err := c.connect(); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	name := c.args[0]
	resps, err := c.adm.AlterTopicConfigs(ctx, alters, name)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	r, err := resps.On(name, nil)
	if err == nil {
		err = withMsg(r.Err, r.ErrMessage)
		if r.Err == nil {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("topic %s: %w", name, err)
	}
	c.out("altered %d configs of %s\n", len(alters), name)
	return nil
}

func topicAddPartitions(ctx context.Context, c *cmdCtx) error {
	if err := c.need(1, "topic name"); err != nil {
		return err
	}
	if c.o.count <= 0 {
		return usagef("--num N: how many partitions to add (at least 1)")
	}
	if err := c.connect(); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	name := c.args[0]
	resps, err := c.adm.CreatePartitions(ctx, c.o.count, name)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	r, err := resps.On(name, nil)
	if err == nil && r.Err != nil {
		err = withMsg(r.Err, r.ErrMessage)
	}
	if err != nil {
		return fmt.Errorf("topic %s: %w", name, err)
	}
	c.out("added %d partitions to %s\n", c.o.count, name)
	return nil
}
