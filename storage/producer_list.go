package storage

import "sort"

// Producers returns the state of every idempotent producer the log knows,
// sorted by producer id (DescribeProducers, kafka-transactions.sh
// describe-producers).
func (l *Log) Producers() []ProducerEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ProducerEntry, 0, len(l.producers.producers))
	for id := range l.producers.producers {
		if e, ok := l.producers.entry(id); ok {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}
