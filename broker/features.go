package broker

// Feature levels (KIP-584): what ApiVersions v3+ reports as supported and
// finalized, what kafka-features.sh describe and the admin client's
// describeFeatures print, and what UpdateFeatures (57_update_features.go)
// checks against.
//
// samsa runs each feature at one level: the level of what it implements.
// Nothing stores them in etcd, and no samsa release can run a cluster at
// another level, so the supported range of each is that one level and
// UpdateFeatures accepts only what is already so. A feature at level 0 is
// not finalized (Kafka leaves such features out of FinalizedFeatures).

import "github.com/twmb/franz-go/pkg/kmsg"

// feature is one KIP-584 feature.
type feature struct {
	name  string
	level int16
	// levelName, when set, names the level for messages (metadata.version
	// levels are release names).
	levelName string
	why       string
}

// features is the table. metadata.version is the level of the Kafka
// release whose protocol samsa follows (4.4-IV2, Kafka 4.4's latest
// production level); group.version 1 is KIP-848's consumer protocol, which
// samsa serves; the others are 0 because samsa does not implement what
// their level 1 turns on: transaction.version (KIP-890; 2 with
// samsa.transactions.enable, see brokerFeatures), kraft.version (the metadata quorum is etcd, whose
// membership is not changed through Kafka's APIs), share.version (KIP-932
// share groups), streams.version (KIP-1071 streams groups) and
// eligible.leader.replicas.version (KIP-966).
var features = []feature{
	{name: "metadata.version", level: 33, levelName: "4.4-IV2", why: "the Kafka 4.4 protocol samsa follows"},
	{name: "kraft.version", level: 0, why: "the metadata quorum is etcd, not KRaft"},
	{name: "group.version", level: 1, why: "KIP-848 consumer groups are served"},
	{name: "transaction.version", level: 0, why: "transactions are turned off (samsa.transactions.enable=false)"},
	{name: "share.version", level: 0, why: "share groups (KIP-932) are not implemented"},
	{name: "streams.version", level: 0, why: "streams groups (KIP-1071) are not implemented"},
	{name: "eligible.leader.replicas.version", level: 0, why: "eligible leader replicas (KIP-966) are not implemented"},
}

// featuresEpoch is FinalizedFeaturesEpoch. Kafka's is the metadata offset
// of the last feature change; samsa's levels change only with a release,
// so the epoch is derived from them (their sum): it is the same on every
// broker of one release and grows when a release raises a level, so that
// clients that keep the features of the highest epoch they have seen take
// the newer ones during a rolling upgrade.
func featuresEpoch(fs []feature) int64 {
	var sum int64
	for _, f := range fs {
		sum += int64(f.level)
	}
	return sum
}

// txnFeatures is the table with samsa.transactions.enable (the default):
// transaction.version 2, the level whose protocol the transaction
// coordinator serves (TV2: EndTxn v5, Produce v12 adding partitions; TV0/1
// clients are served as well, as Kafka serves them at level 2).
var txnFeatures = func() []feature {
	fs := append([]feature(nil), features...)
	for i := range fs {
		if fs[i].name == "transaction.version" {
			fs[i].level, fs[i].why = 2, "transactions (KIP-890 transaction version 2) are served"
		}
	}
	return fs
}()

// brokerFeatures is the feature table b runs (b nil: with transactions
// turned off).
func brokerFeatures(b *Broker) []feature {
	if b != nil && b.cfg.TransactionsEnabled {
		return txnFeatures
	}
	return features
}

func featureByName(b *Broker, name string) *feature {
	fs := brokerFeatures(b)
	for i := range fs {
		if fs[i].name == name {
			return &fs[i]
		}
	}
	return nil
}

// fillFeatures sets the feature fields of an ApiVersions v3+ answer. Before
// v4, features whose supported minimum is 0 are left out, as Kafka leaves
// them out (KAFKA-17011: v3 clients could not parse a minimum of 0).
func fillFeatures(b *Broker, resp *kmsg.ApiVersionsResponse) {
	if resp.Version < 3 {
		return
	}
	fs := brokerFeatures(b)
	for _, f := range fs {
		if f.level == 0 && resp.Version < 4 {
			continue
		}
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = f.name, f.level, f.level
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		if f.level > 0 {
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = f.name, f.level, f.level
			resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		}
	}
	resp.FinalizedFeaturesEpoch = featuresEpoch(fs)
}
