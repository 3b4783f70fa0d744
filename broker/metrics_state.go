package broker

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// stateCollector computes the gauges that describe state when /metrics is
// scraped: from the metadata snapshot (replicas, ISR, leaders, offline
// replicas: real numbers once replication lands) and the hosted logs.
type stateCollector struct{ m *metrics }

func gaugeDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descPartitionCount = gaugeDesc("kafka_server_replicamanager_partitioncount",
		"Partition replicas this broker hosts.")
	descLeaderCount = gaugeDesc("kafka_server_replicamanager_leadercount",
		"Partitions this broker leads.")
	descUnderReplicated = gaugeDesc("kafka_server_replicamanager_underreplicatedpartitions",
		"Partitions this broker leads whose ISR is smaller than their replica set.")
	descOfflineReplicas = gaugeDesc("kafka_server_replicamanager_offlinereplicacount",
		"Replicas hosted here whose log cannot serve (failed to open or to write).")
	descPartUnderReplicated = gaugeDesc("kafka_cluster_partition_underreplicated",
		"1 when the partition (led by this broker) has fewer in-sync replicas than replicas.", "topic", "partition")
	descPartISR = gaugeDesc("kafka_cluster_partition_insyncreplicascount",
		"In-sync replicas of a partition this broker leads.", "topic", "partition")
	descPartReplicas = gaugeDesc("kafka_cluster_partition_replicascount",
		"Replicas of a partition this broker leads.", "topic", "partition")
	descLogStart = gaugeDesc("kafka_log_log_logstartoffset",
		"Log start offset of a hosted replica.", "topic", "partition")
	descLogEnd = gaugeDesc("kafka_log_log_logendoffset",
		"Log end offset of a hosted replica.", "topic", "partition")
	descLogSize = gaugeDesc("kafka_log_log_size",
		"Bytes of a hosted replica's segments.", "topic", "partition")
	descActiveController = gaugeDesc("kafka_controller_kafkacontroller_activecontrollercount",
		"1 on the broker that holds the controller role.")
	descOfflinePartitions = gaugeDesc("kafka_controller_kafkacontroller_offlinepartitionscount",
		"Partitions without a live leader (reported by the controller; 0 elsewhere).")
	descGlobalPartitions = gaugeDesc("kafka_controller_kafkacontroller_globalpartitioncount",
		"Partitions in the cluster (reported by the controller; 0 elsewhere).")
	descGlobalTopics = gaugeDesc("kafka_controller_kafkacontroller_globaltopiccount",
		"Topics in the cluster (reported by the controller; 0 elsewhere).")
	descConnections = gaugeDesc("kafka_server_socketservermetrics_connection_count",
		"Open client connections.")
	descGroupLag = gaugeDesc("kafka_consumergroup_lag",
		"High watermark minus the committed offset, for groups this broker coordinates on partitions it leads (kafka_exporter's name).",
		"consumergroup", "topic", "partition")
	descGroupOffset = gaugeDesc("kafka_consumergroup_current_offset",
		"Committed offset of a group (kafka_exporter's name).", "consumergroup", "topic", "partition")
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPartitionCount, descLeaderCount, descUnderReplicated,
		descOfflineReplicas, descPartUnderReplicated, descPartISR, descPartReplicas, descLogStart, descLogEnd,
		descLogSize, descActiveController, descOfflinePartitions, descGlobalPartitions, descGlobalTopics,
		descConnections, descGroupLag, descGroupOffset} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.m.b
	if b.store == nil { // not started
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	snap := b.store.Snapshot()
	me := b.cfg.BrokerID

	hosted := b.HostedPartitions()
	var leaders, offline, under int
	for _, hp := range hosted {
		part := strconv.Itoa(int(hp.Partition))
		if hp.Offline != "" {
			offline++
		}
		if hp.LogEndOffset >= 0 {
			gauge(descLogStart, float64(hp.LogStartOffset), hp.Topic, part)
			gauge(descLogEnd, float64(hp.LogEndOffset), hp.Topic, part)
			gauge(descLogSize, float64(hp.SizeBytes), hp.Topic, part)
		}
		ps, ok := snap.Partition(hp.Topic, hp.Partition)
		if !ok || ps.Leader != me {
			continue
		}
		leaders++
		ur := 0.0
		if len(ps.ISR) < len(ps.Replicas) {
			under++
			ur = 1
		}
		gauge(descPartUnderReplicated, ur, hp.Topic, part)
		gauge(descPartISR, float64(len(ps.ISR)), hp.Topic, part)
		gauge(descPartReplicas, float64(len(ps.Replicas)), hp.Topic, part)
	}
	gauge(descPartitionCount, float64(len(hosted)))
	gauge(descLeaderCount, float64(leaders))
	gauge(descUnderReplicated, float64(under))
	gauge(descOfflineReplicas, float64(offline))

	var active, offlineParts, globalParts, globalTopics float64
	if snap.ControllerID == me {
		active = 1
		for _, tm := range snap.Topics {
			globalTopics++
			for i, ps := range tm.Partitions {
				globalParts++
				if _, live := snap.Brokers[ps.Leader]; ps.Leader < 0 || !live || snap.ReplicaOffline(ps.Leader, tm.Info.ID, int32(i)) {
					offlineParts++
				}
			}
		}
	}
	gauge(descActiveController, active)
	gauge(descOfflinePartitions, offlineParts)
	gauge(descGlobalPartitions, globalParts)
	gauge(descGlobalTopics, globalTopics)
	gauge(descConnections, float64(b.Connections()))

	for _, gl := range b.GroupLags() {
		part := strconv.Itoa(int(gl.Partition))
		gauge(descGroupLag, float64(gl.Lag), gl.Group, gl.Topic, part)
		gauge(descGroupOffset, float64(gl.Committed), gl.Group, gl.Topic, part)
	}
}

// counterValue reads a counter (the console's traffic totals).
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}
