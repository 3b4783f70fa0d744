package main

import (
	"fmt"
	"strconv"
)

// The transaction rows: samsa-bench --mode txn against each broker.
//
//   - txnRate: one transactional producer runs transactions of
//     txnSmallRecords records to one partition back to back (begin,
//     produce, flush, EndTxn commit) for --e2e-duration; the row is
//     transactions per second, with the begin-to-commit p99.
//   - txnConsume: transactions of txnBigRecords records spread over 8
//     partitions, every tenth aborted, up to --records committed records;
//     then the topic is read from the start twice, read_uncommitted (every
//     data record) and read_committed (the committed ones, the aborted
//     ones dropped by the client with the fetches' aborted transactions).
//     The ratio of the two throughputs is the cost of read_committed.

const (
	txnSmallRecords     = 10
	txnBigRecords       = 500
	txnAbortEvery       = 10
	txnRateKey          = "txn/rate"
	txnCommittedCostKey = "txn/consume/committed-ratio"
)

func txnConsumeKey(isolation string) string { return "txn/consume/" + isolation }

func (r *rounder) txnRate() {
	rec := r.toolRec(txnRateKey, r.o.runTimeout, r.o.benchBin, "--mode", "txn", "--brokers", r.b.addr,
		"--topic", "txn-rate", "--partitions", "1", "--txn-records", strconv.Itoa(txnSmallRecords),
		"--record-size", strconv.Itoa(r.o.recordSize), "--linger", "0s",
		"--duration", r.o.e2eDuration.String(), "--timeout", r.o.runTimeout.String())
	rec.Parsed = resultFields(rec.stdout)
	rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	if rec.Error != "" || rec.Parsed["txns"] == 0 {
		return
	}
	r.res.Values[txnRateKey] = rec.Parsed["txnps"]
	r.res.Values[txnRateKey+"/p99"] = rec.Parsed["lat_p99_ms"]
	logf("  %s %s: %.0f transactions/s of %d records (p99 %.2f ms)", r.res.System, txnRateKey,
		rec.Parsed["txnps"], txnSmallRecords, rec.Parsed["lat_p99_ms"])
}

func (r *rounder) txnConsume() {
	const topic = "txn-consume"
	step := "txn/produce"
	rec := r.toolRec(step, r.o.runTimeout, r.o.benchBin, "--mode", "txn", "--brokers", r.b.addr,
		"--topic", topic, "--partitions", "8", "--txn-records", strconv.Itoa(txnBigRecords),
		"--abort-every", strconv.Itoa(txnAbortEvery), "--record-size", strconv.Itoa(r.o.recordSize),
		"--records", strconv.FormatInt(r.o.records, 10), "--duration", "0",
		"--timeout", r.o.runTimeout.String())
	rec.Parsed = resultFields(rec.stdout)
	rec.Result = lastMatchingLine(rec.stdout, "RESULT ")
	r.res.Runs = append(r.res.Runs, rec.runRecord)
	committed := int64(rec.Parsed["records"])
	all := int64(rec.Parsed["txns"]+rec.Parsed["aborted"]) * txnBigRecords
	if rec.Error != "" || committed == 0 {
		return
	}
	_, _ = runCmd(r.ctx, r.o.runTimeout, "", "sync")
	mibps := map[string]float64{}
	for _, iso := range []struct {
		name    string
		records int64
	}{{"uncommitted", all}, {"committed", committed}} {
		key := txnConsumeKey(iso.name)
		c := r.toolRec(key, r.o.runTimeout, r.o.benchBin, "--mode", "consume", "--brokers", r.b.addr,
			"--topic", topic, "--isolation", iso.name, "--records", strconv.FormatInt(iso.records, 10),
			"--duration", (r.o.runTimeout - 30*1e9).String(), "--timeout", r.o.runTimeout.String())
		c.Parsed = resultFields(c.stdout)
		c.Result = lastMatchingLine(c.stdout, "RESULT ")
		r.res.Runs = append(r.res.Runs, c.runRecord)
		if c.Error != "" || int64(c.Parsed["records"]) < iso.records {
			if c.Error == "" {
				r.fail(key, fmt.Errorf("read %.0f of %d records", c.Parsed["records"], iso.records))
			}
			return
		}
		mibps[iso.name] = c.Parsed["MBps"]
		r.res.Values[key] = c.Parsed["MBps"]
	}
	if mibps["uncommitted"] > 0 {
		r.res.Values[txnCommittedCostKey] = mibps["committed"] / mibps["uncommitted"]
	}
	logf("  %s transactional data: read_uncommitted %.1f MiB/s, read_committed %.1f MiB/s", r.res.System,
		mibps["uncommitted"], mibps["committed"])
}
