package compat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka's own transaction tooling on samsa's transactional data:
// kafka-transactions (TransactionsCommand: list, describe,
// describe-producers, find-hanging, abort) against the running broker, and
// kafka-dump-log (DumpLogSegments) on the segment and the .txnindex the
// broker wrote. The data comes from franz-go: producer "done" commits one
// transaction and aborts one, producer "open" leaves one open, on both
// partitions of one topic. For find-hanging a transaction the coordinator
// does not know is made for real: the broker's etcd is removed and the
// data adopted (samsa.adopt.existing.data), so the open transaction's
// producer is in the log but no coordinator has heard of it; then
// kafka-transactions abort closes it.

const (
	scKafkaTxnListDescribe = "kafka-transactions-list-describe"
	scKafkaTxnFindHanging  = "kafka-transactions-find-hanging"
	scKafkaTxnAbortHanging = "kafka-transactions-abort-hanging"
	scKafkaDumpLogTxn      = "kafka-dump-log-txn"

	clsTransactions = "org.apache.kafka.tools.TransactionsCommand"

	// Records per partition: the committed transaction, the aborted one,
	// the open one.
	txcliCommitted = 3
	txcliAborted   = 2
	txcliOpen      = 2
	// The open transaction's timeout: far beyond the test, so that the
	// coordinator never aborts it on its own.
	txcliOpenTimeout = 10 * time.Minute
)

var txcliScenarios = []string{scKafkaTxnListDescribe, scKafkaTxnFindHanging, scKafkaTxnAbortHanging, scKafkaDumpLogTxn}

// Offsets on each partition: committed records 0-2, COMMIT marker 3,
// aborted records 4-5, ABORT marker 6, open records 7-8.
const (
	txcliCommitMarker = txcliCommitted
	txcliAbortFirst   = txcliCommitMarker + 1
	txcliAbortMarker  = txcliAbortFirst + txcliAborted
	txcliOpenFirst    = txcliAbortMarker + 1
	txcliEnd          = txcliOpenFirst + txcliOpen
)

// txcliFixture is what the franz-go producers left behind.
type txcliFixture struct {
	topic          string
	doneID, openID string
	done, open     kadm.DescribedTransaction
	openTimestamp  time.Time // of every record of the open transaction
}

func TestKafkaCLITransactions(t *testing.T) {
	c := kafkaCLIClient
	if os.Getenv(externalBrokerEnv) != "" {
		t.Skip("needs its own broker process (it stops it and removes its etcd)")
	}
	kt, err := newKafkaTools(t)
	if err != nil {
		failAll(t, c, txcliScenarios, err)
		return
	}
	setBudget(c, 150*time.Second)
	s := StartSamsa(t)
	tool := func(ctx context.Context, args ...string) (string, error) {
		out, _, err := kt.run(ctx, "", clsTransactions, append([]string{"--bootstrap-server", s.Addr}, args...)...)
		return out, err
	}

	var fx txcliFixture
	var fxErr error
	t.Run("txn-prepare", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
		defer cancel()
		fx, fxErr = txcliPrepare(ctx, s.Addr, topicName(c, "txn"))
		if fxErr != nil {
			t.Error(fxErr)
		}
	})
	ready := func(ctx context.Context, t *testing.T) error { return fxErr }

	runScenario(t, c, scKafkaTxnListDescribe, func(ctx context.Context, t *testing.T) error {
		if err := ready(ctx, t); err != nil {
			return err
		}
		out, err := tool(ctx, "list")
		if err != nil {
			return err
		}
		t.Logf("kafka-transactions list:\n%s", out)
		rows, err := txcliTable(out, "TransactionalId", "Coordinator", "ProducerId", "TransactionState")
		if err != nil {
			return fmt.Errorf("kafka-transactions list: %w", err)
		}
		for _, w := range []kadm.DescribedTransaction{fx.done, fx.open} {
			r, ok := txcliRow(rows, "TransactionalId", w.TxnID)
			if !ok {
				return fmt.Errorf("kafka-transactions list does not list %s:\n%s", w.TxnID, out)
			}
			if r["Coordinator"] != "1" || r["ProducerId"] != strconv.FormatInt(w.ProducerID, 10) || r["TransactionState"] != w.State {
				return fmt.Errorf("kafka-transactions list: %s is %v, want coordinator 1, producer id %d, state %s", w.TxnID, r, w.ProducerID, w.State)
			}
		}

		out, err = tool(ctx, "describe", "--transactional-id", fx.openID)
		if err != nil {
			return err
		}
		t.Logf("kafka-transactions describe --transactional-id %s:\n%s", fx.openID, out)
		rows, err = txcliTable(out, "CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch", "TransactionState",
			"TransactionTimeoutMs", "CurrentTransactionStartTimeMs", "TransactionDurationMs", "TopicPartitions")
		if err != nil {
			return fmt.Errorf("kafka-transactions describe: %w", err)
		}
		if len(rows) != 1 {
			return fmt.Errorf("kafka-transactions describe: %d rows, want 1:\n%s", len(rows), out)
		}
		r := rows[0]
		parts := strings.Split(r["TopicPartitions"], ",")
		slices.Sort(parts)
		wantParts := []string{fx.topic + "-0", fx.topic + "-1"}
		if r["TransactionalId"] != fx.openID || r["ProducerId"] != strconv.FormatInt(fx.open.ProducerID, 10) ||
			r["ProducerEpoch"] != strconv.Itoa(int(fx.open.ProducerEpoch)) || r["TransactionState"] != "Ongoing" ||
			r["TransactionTimeoutMs"] != strconv.FormatInt(txcliOpenTimeout.Milliseconds(), 10) ||
			r["CurrentTransactionStartTimeMs"] != strconv.FormatInt(fx.open.StartTimestamp, 10) || !slices.Equal(parts, wantParts) {
			return fmt.Errorf("kafka-transactions describe: %v; want %s, producer %d epoch %d, Ongoing, timeout %d, started %d, partitions %v",
				r, fx.openID, fx.open.ProducerID, fx.open.ProducerEpoch, txcliOpenTimeout.Milliseconds(), fx.open.StartTimestamp, wantParts)
		}

		// describe-producers: both producers wrote to partition 0; only
		// the open one has a transaction start offset.
		out, err = tool(ctx, "describe-producers", "--topic", fx.topic, "--partition", "0")
		if err != nil {
			return err
		}
		t.Logf("kafka-transactions describe-producers --topic %s --partition 0:\n%s", fx.topic, out)
		rows, err = txcliTable(out, "ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence", "LastTimestamp", "CurrentTransactionStartOffset")
		if err != nil {
			return fmt.Errorf("kafka-transactions describe-producers: %w", err)
		}
		if len(rows) != 2 {
			return fmt.Errorf("kafka-transactions describe-producers: %d producers, want 2:\n%s", len(rows), out)
		}
		op, ok := txcliRow(rows, "ProducerId", strconv.FormatInt(fx.open.ProducerID, 10))
		if !ok {
			return fmt.Errorf("kafka-transactions describe-producers: no row for the open producer %d:\n%s", fx.open.ProducerID, out)
		}
		if op["ProducerEpoch"] != strconv.Itoa(int(fx.open.ProducerEpoch)) || op["CurrentTransactionStartOffset"] != strconv.Itoa(txcliOpenFirst) ||
			op["LastSequence"] != strconv.Itoa(txcliOpen-1) || op["LastTimestamp"] != strconv.FormatInt(fx.openTimestamp.UnixMilli(), 10) {
			return fmt.Errorf("kafka-transactions describe-producers: open producer %v; want epoch %d, last sequence %d, last timestamp %d (its records'), transaction start offset %d",
				op, fx.open.ProducerEpoch, txcliOpen-1, fx.openTimestamp.UnixMilli(), txcliOpenFirst)
		}
		dp, ok := txcliRow(rows, "ProducerId", strconv.FormatInt(fx.done.ProducerID, 10))
		if !ok {
			return fmt.Errorf("kafka-transactions describe-producers: no row for producer %d:\n%s", fx.done.ProducerID, out)
		}
		// Its epoch is the one its last marker carried (the coordinator's).
		if dp["CurrentTransactionStartOffset"] != "None" || dp["ProducerEpoch"] != strconv.Itoa(int(fx.done.ProducerEpoch)) {
			return fmt.Errorf("kafka-transactions describe-producers: producer %d, whose transactions ended, is %v; want epoch %d and no transaction start offset",
				fx.done.ProducerID, dp, fx.done.ProducerEpoch)
		}
		return nil
	})

	// On a healthy broker find-hanging finds the open transaction (its
	// records are an hour old, older than --max-transaction-timeout's 15
	// minutes) but its coordinator lists both partitions: none hangs.
	runScenario(t, c, scKafkaTxnFindHanging, func(ctx context.Context, t *testing.T) error {
		if err := ready(ctx, t); err != nil {
			return err
		}
		return txcliWantHanging(ctx, t, tool, fx, nil)
	})

	// kafka-dump-log on partition 0's files, the broker stopped.
	runScenario(t, c, scKafkaDumpLogTxn, func(ctx context.Context, t *testing.T) error {
		if err := ready(ctx, t); err != nil {
			return err
		}
		if _, err := s.Stop(0); err != nil {
			return err
		}
		seg := filepath.Join(s.DataDir, fx.topic+"-0", "00000000000000000000")
		out, _, err := kt.run(ctx, "", clsDumpLog, "--files", seg+".log,"+seg+".txnindex", "--print-data-log")
		if err != nil {
			return err
		}
		t.Logf("kafka-dump-log:\n%s", out)
		sec := splitDumpSections(out)
		return errors.Join(txcliCheckDumpLog(sec[".log"], fx), txcliCheckDumpTxnIndex(sec[".txnindex"], fx))
	})

	// The coordinator forgets: no etcd, the data adopted. The open
	// transaction's producer is now unknown to every coordinator.
	runScenario(t, c, scKafkaTxnFindHanging, func(ctx context.Context, t *testing.T) error {
		if err := ready(ctx, t); err != nil {
			return err
		}
		if s.Running() {
			if _, err := s.Stop(0); err != nil {
				return err
			}
		}
		if err := os.RemoveAll(filepath.Join(s.DataDir, "etcd")); err != nil {
			return err
		}
		s.Args = append(s.Args, "--override", "samsa.adopt.existing.data=true")
		s.Start()
		return txcliWantHanging(ctx, t, tool, fx, []int32{0, 1})
	})

	// kafka-transactions abort: WriteTxnMarkers from the tool closes the
	// hanging transaction on partition 0; partition 1 still hangs.
	runScenario(t, c, scKafkaTxnAbortHanging, func(ctx context.Context, t *testing.T) error {
		if err := ready(ctx, t); err != nil {
			return err
		}
		if !s.Running() {
			return errors.New("the broker did not come back adopting its data")
		}
		out, err := tool(ctx, "abort", "--topic", fx.topic, "--partition", "0", "--start-offset", strconv.Itoa(txcliOpenFirst))
		if err != nil {
			return err
		}
		t.Logf("kafka-transactions abort:\n%s", out)
		if err := txcliCheckStable(ctx, s.Addr, fx.topic, 0, txcliEnd+1, txcliEnd+1); err != nil {
			return fmt.Errorf("after kafka-transactions abort: %w", err)
		}
		if err := txcliCheckStable(ctx, s.Addr, fx.topic, 1, txcliEnd, txcliOpenFirst); err != nil {
			return fmt.Errorf("partition 1, not aborted: %w", err)
		}
		lg, err := txnRawLog(ctx, s.Addr, fx.topic, 0, 1)
		if err != nil {
			return err
		}
		var aborted []int64
		for _, a := range lg.aborted {
			if a.ProducerID == fx.open.ProducerID {
				aborted = append(aborted, a.FirstOffset)
			}
		}
		if !slices.Equal(aborted, []int64{txcliOpenFirst}) {
			return fmt.Errorf("read_committed fetch of %s-0 lists the open producer's aborted transactions at %v, want [%d]", fx.topic, aborted, txcliOpenFirst)
		}
		// By topic only: find-hanging's own cell covers --broker-id.
		return txcliFindHanging(ctx, t, tool, fx, []int32{1}, []string{"find-hanging", "--topic", fx.topic})
	})
}

var txcliHangingHeaders = []string{"Topic", "Partition", "ProducerId", "ProducerEpoch", "CoordinatorEpoch", "StartOffset", "LastTimestamp", "Duration(min)"}

// txcliWantHanging runs find-hanging by broker and by topic and checks
// that each reports exactly the open transaction on partitions parts
// (nil: none); it returns the errors of both.
func txcliWantHanging(ctx context.Context, t *testing.T, tool func(context.Context, ...string) (string, error), fx txcliFixture, parts []int32) error {
	var errs []error
	for _, args := range [][]string{{"find-hanging", "--broker-id", "1"}, {"find-hanging", "--topic", fx.topic}} {
		errs = append(errs, txcliFindHanging(ctx, t, tool, fx, parts, args))
	}
	return errors.Join(errs...)
}

// txcliFindHanging runs one find-hanging command line (args) and checks
// its table.
func txcliFindHanging(ctx context.Context, t *testing.T, tool func(context.Context, ...string) (string, error), fx txcliFixture, parts []int32, args []string) error {
	cmd := strings.Join(args, " ")
	out, err := tool(ctx, args...)
	if err != nil {
		return err
	}
	t.Logf("kafka-transactions %s:\n%s", cmd, out)
	rows, err := txcliTable(out, txcliHangingHeaders...)
	if err != nil {
		return fmt.Errorf("kafka-transactions %s: %w", cmd, err)
	}
	var got []int32
	for _, r := range rows {
		p, _ := strconv.Atoi(r["Partition"])
		if r["Topic"] != fx.topic || r["ProducerId"] != strconv.FormatInt(fx.open.ProducerID, 10) ||
			r["StartOffset"] != strconv.Itoa(txcliOpenFirst) || r["LastTimestamp"] != strconv.FormatInt(fx.openTimestamp.UnixMilli(), 10) {
			return fmt.Errorf("kafka-transactions %s: row %v; want %s, producer %d, start offset %d, last timestamp %d",
				cmd, r, fx.topic, fx.open.ProducerID, txcliOpenFirst, fx.openTimestamp.UnixMilli())
		}
		got = append(got, int32(p))
	}
	slices.Sort(got)
	if !slices.Equal(got, parts) {
		return fmt.Errorf("kafka-transactions %s reports hanging transactions on partitions %v, want %v:\n%s", cmd, got, parts, out)
	}
	return nil
}

// txcliPrepare creates topic (2 partitions) and writes the fixture's
// transactions with franz-go, and describes both transactional ids.
func txcliPrepare(ctx context.Context, addr, topic string) (txcliFixture, error) {
	fx := txcliFixture{topic: topic, doneID: topic + ".done", openID: topic + ".open"}
	if err := fxCreateTopic(ctx, addr, topic, 2, nil); err != nil {
		return fx, err
	}
	produce := func(cl *kgo.Client, what string, n int, ts time.Time) error {
		var recs []*kgo.Record
		for p := int32(0); p < 2; p++ {
			for i := 0; i < n; i++ {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("%s-p%d-%d", what, p, i)), Timestamp: ts})
			}
		}
		if err := cl.BeginTransaction(); err != nil {
			return fmt.Errorf("begin the %s transaction: %w", what, err)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce the %s transaction: %w", what, err)
		}
		return nil
	}
	done, err := fxClient(addr, kgo.TransactionalID(fx.doneID), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return fx, err
	}
	defer done.Close()
	if err := produce(done, "committed", txcliCommitted, time.Now()); err != nil {
		return fx, err
	}
	if err := done.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fx, fmt.Errorf("commit: %w", err)
	}
	if err := produce(done, "aborted", txcliAborted, time.Now()); err != nil {
		return fx, err
	}
	if err := done.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fx, fmt.Errorf("abort: %w", err)
	}
	open, err := fxClient(addr, kgo.TransactionalID(fx.openID), kgo.TransactionTimeout(txcliOpenTimeout), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return fx, err
	}
	defer open.Close()
	// An hour old: find-hanging looks only at transactions whose last
	// record is older than its --max-transaction-timeout (15 minutes).
	fx.openTimestamp = time.UnixMilli(time.Now().Add(-time.Hour).UnixMilli())
	if err := produce(open, "open", txcliOpen, fx.openTimestamp); err != nil {
		return fx, err
	}
	for _, w := range []struct {
		id    string
		into  *kadm.DescribedTransaction
		state string
	}{{fx.doneID, &fx.done, "CompleteAbort"}, {fx.openID, &fx.open, "Ongoing"}} {
		if err := crashWaitState(ctx, addr, w.id, w.state); err != nil {
			return fx, err
		}
		d, err := crashDescribeTxn(ctx, addr, w.id)
		if err != nil {
			return fx, err
		}
		*w.into = d
	}
	for p := int32(0); p < 2; p++ {
		if err := txcliCheckStable(ctx, addr, topic, p, txcliEnd, txcliOpenFirst); err != nil {
			return fx, fmt.Errorf("fixture: %w", err)
		}
	}
	return fx, nil
}

// txcliCheckStable checks partition p of topic: high watermark hw and
// last stable offset lso (ListOffsets, read_uncommitted and
// read_committed).
func txcliCheckStable(ctx context.Context, addr, topic string, p int32, hw, lso int64) error {
	cl, err := fxClient(addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	stable, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return err
	}
	e, _ := ends.Lookup(topic, p)
	st, _ := stable.Lookup(topic, p)
	if e.Err != nil || st.Err != nil {
		return fmt.Errorf("%s-%d: ListOffsets: %v / %v", topic, p, e.Err, st.Err)
	}
	if e.Offset != hw || st.Offset != lso {
		return fmt.Errorf("%s-%d: end offset %d and last stable offset %d, want %d and %d", topic, p, e.Offset, st.Offset, hw, lso)
	}
	return nil
}

// txcliTable parses the tab-separated table TransactionsCommand prints
// (a header line, then one line per row) into rows keyed by header,
// checking that the header is headers.
func txcliTable(out string, headers ...string) ([]map[string]string, error) {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	split := func(l string) []string {
		f := strings.Split(strings.TrimRight(l, "\t"), "\t")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		return f
	}
	if len(lines) == 0 {
		return nil, errors.New("no output")
	}
	if h := split(lines[0]); !slices.Equal(h, headers) {
		return nil, fmt.Errorf("header %q, want %q", h, headers)
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		f := split(l)
		if len(f) != len(headers) {
			return nil, fmt.Errorf("row %q: %d columns, want %d", l, len(f), len(headers))
		}
		r := map[string]string{}
		for i, h := range headers {
			r[h] = f[i]
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func txcliRow(rows []map[string]string, col, val string) (map[string]string, bool) {
	for _, r := range rows {
		if r[col] == val {
			return r, true
		}
	}
	return nil, false
}

var (
	txcliBatchRe = regexp.MustCompile(`^baseOffset: (\d+) lastOffset: (\d+) count: (\d+) .*producerId: (-?\d+) producerEpoch: (-?\d+) .*isTransactional: (\w+) isControl: (\w+) .*isvalid: (\w+)`)
	// A control record: "| offset: 3 ... endTxnMarker: COMMIT coordinatorEpoch: 0".
	txcliMarkerRe = regexp.MustCompile(`^\| offset: (\d+) .*endTxnMarker: (\w+) coordinatorEpoch: (-?\d+)`)
)

// txcliCheckDumpLog checks kafka-dump-log's view of partition 0: the
// transactional batches of both producers with their records, a COMMIT
// and an ABORT control record of producer "done" where the broker wrote
// them, and no marker of the open transaction.
func txcliCheckDumpLog(out string, fx txcliFixture) error {
	if strings.TrimSpace(out) == "" {
		return errors.New("kafka-dump-log printed nothing for the .log file")
	}
	type batch struct {
		base, last, count, pid int64
		txn, control           bool
	}
	var batches []batch
	markers := map[int64]string{}
	payloads := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Exception") || strings.Contains(l, "rror") {
			return fmt.Errorf("kafka-dump-log: %s", l)
		}
		if m := txcliBatchRe.FindStringSubmatch(l); m != nil {
			if m[8] != "true" {
				return fmt.Errorf("kafka-dump-log: invalid batch: %s", l)
			}
			var b batch
			b.base, _ = strconv.ParseInt(m[1], 10, 64)
			b.last, _ = strconv.ParseInt(m[2], 10, 64)
			b.count, _ = strconv.ParseInt(m[3], 10, 64)
			b.pid, _ = strconv.ParseInt(m[4], 10, 64)
			b.txn, b.control = m[6] == "true", m[7] == "true"
			batches = append(batches, b)
			continue
		}
		if m := txcliMarkerRe.FindStringSubmatch(l); m != nil {
			o, _ := strconv.ParseInt(m[1], 10, 64)
			markers[o] = m[2]
			continue
		}
		if _, p, ok := strings.Cut(l, " payload: "); ok && strings.HasPrefix(l, "| offset: ") {
			payloads[strings.TrimSpace(p)] = true
		}
	}
	// What each batch is, by producer; consecutive data batches of one
	// producer fold into one run (the broker may keep a producer's
	// records in several batches).
	next := int64(0)
	var runs []string
	last := ""
	for _, b := range batches {
		if b.base != next {
			return fmt.Errorf("kafka-dump-log: batch at offset %d, want %d", b.base, next)
		}
		next = b.last + 1
		if !b.txn {
			return fmt.Errorf("kafka-dump-log: batch at %d is not transactional: %+v", b.base, b)
		}
		who := fmt.Sprintf("producer %d", b.pid)
		switch b.pid {
		case fx.done.ProducerID:
			who = "done"
		case fx.open.ProducerID:
			who = "open"
		}
		kind := who + ":data"
		if b.control {
			kind = who + ":" + markers[b.base]
		}
		if kind != last || b.control {
			runs = append(runs, fmt.Sprintf("%s@%d", kind, b.base))
		}
		last = kind
	}
	want := []string{"done:data@0", fmt.Sprintf("done:COMMIT@%d", txcliCommitMarker), fmt.Sprintf("done:data@%d", txcliAbortFirst),
		fmt.Sprintf("done:ABORT@%d", txcliAbortMarker), fmt.Sprintf("open:data@%d", txcliOpenFirst)}
	if !slices.Equal(runs, want) || next != txcliEnd {
		return fmt.Errorf("kafka-dump-log shows %v ending at offset %d, want %v ending at %d", runs, next, want, txcliEnd)
	}
	if len(markers) != 2 {
		return fmt.Errorf("kafka-dump-log: %d control records (%v), want a COMMIT and an ABORT", len(markers), markers)
	}
	for what, n := range map[string]int{"committed": txcliCommitted, "aborted": txcliAborted, "open": txcliOpen} {
		for i := 0; i < n; i++ {
			if v := fmt.Sprintf("%s-p0-%d", what, i); !payloads[v] {
				return fmt.Errorf("kafka-dump-log: no record with payload %s", v)
			}
		}
	}
	return nil
}

// txcliCheckDumpTxnIndex checks kafka-dump-log's view of partition 0's
// .txnindex: exactly the aborted transaction of producer "done".
func txcliCheckDumpTxnIndex(out string, fx txcliFixture) error {
	re := regexp.MustCompile(`(?m)^version: \d+ producerId: (-?\d+) firstOffset: (-?\d+) lastOffset: (-?\d+) lastStableOffset: (-?\d+)`)
	ms := re.FindAllStringSubmatch(out, -1)
	if len(ms) != 1 {
		return fmt.Errorf("kafka-dump-log .txnindex: %d aborted transactions, want 1:\n%s", len(ms), out)
	}
	m := ms[0]
	want := []string{strconv.FormatInt(fx.done.ProducerID, 10), strconv.Itoa(txcliAbortFirst), strconv.Itoa(txcliAbortMarker)}
	if !slices.Equal(m[1:4], want) {
		return fmt.Errorf("kafka-dump-log .txnindex: producerId, firstOffset, lastOffset %v, want %v", m[1:4], want)
	}
	return nil
}
