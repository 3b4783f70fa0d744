package ctl

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"text/tabwriter"
)

func init() {
	register(&command{name: "cluster info", short: "show the cluster's id, controller and brokers", run: clusterInfo})
	register(&command{name: "cluster config", short: "show a broker's configuration",
		flags: func(fs *flag.FlagSet, o *opts) {
			fs.IntVar(&o.brokerID, "broker", -1, "broker id (default: the controller)")
		},
		run: clusterConfig})
}

func clusterInfo(ctx context.Context, c *cmdCtx) error {
	if err := c.need(0, ""); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	md, err := c.adm.Metadata(ctx)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	internal := 0
	parts := 0
	for _, t := range md.Topics {
		if t.IsInternal {
			internal++
		}
		parts += len(t.Partitions)
	}
	c.out("CLUSTER     %s\nCONTROLLER  %d\nTOPICS      %d (%d internal)\nPARTITIONS  %d\n\n", md.Cluster, md.Controller, len(md.Topics), internal, parts)
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOST\tPORT\tRACK")
	bs := md.Brokers
	sort.Slice(bs, func(i, j int) bool { return bs[i].NodeID < bs[j].NodeID })
	for _, b := range bs {
		rack := "-"
		if b.Rack != nil {
			rack = *b.Rack
		}
		marker := ""
		if b.NodeID == md.Controller {
			marker = " (controller)"
		}
		fmt.Fprintf(tw, "%d%s\t%s\t%d\t%s\n", b.NodeID, marker, b.Host, b.Port, rack)
	}
	return tw.Flush()
}

func clusterConfig(ctx context.Context, c *cmdCtx) error {
	if err := c.need(0, ""); err != nil {
		return err
	}
	if err := c.connect(); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	id := int32(c.o.brokerID)
	if id < 0 {
		md, err := c.adm.BrokerMetadata(ctx)
		if err != nil {
			return reachErr(err, c.o.brokers)
		}
		id = md.Controller
	}
	rcs, err := c.adm.DescribeBrokerConfigs(ctx, id)
	if err != nil {
		return reachErr(err, c.o.brokers)
	}
	if len(rcs) == 0 {
		return fmt.Errorf("broker %d: no configs returned", id)
	}
	rc := rcs[0]
	if rc.Err != nil {
		return fmt.Errorf("broker %d: %w", id, withMsg(rc.Err, rc.ErrMessage))
	}
	sort.Slice(rc.Configs, func(i, j int) bool { return rc.Configs[i].Key < rc.Configs[j].Key })
	tw := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONFIG\tVALUE\tSOURCE")
	for _, cfg := range rc.Configs {
		v := cfg.MaybeValue()
		if cfg.Sensitive {
			v = "(sensitive)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", cfg.Key, v, cfg.Source)
	}
	return tw.Flush()
}
