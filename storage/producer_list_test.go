package storage

import "testing"

func TestProducersListed(t *testing.T) {
	l := mustOpen(t, t.TempDir(), Config{}, testOpts(t, nil, nil))
	defer l.Close()
	if got := l.Producers(); len(got) != 0 {
		t.Fatalf("empty log: %+v", got)
	}
	for _, b := range [][]byte{idemBatch(2, 7, 1, 0), idemBatch(3, 3, 0, 0), idemBatch(1, 7, 1, 2), idemBatch(1, -1, -1, -1)} {
		if _, err := l.Append(b, 0, -1); err != nil {
			t.Fatal(err)
		}
	}
	got := l.Producers()
	if len(got) != 2 || got[0].ProducerID != 3 || got[0].LastSequence != 2 || got[1].ProducerID != 7 ||
		got[1].ProducerEpoch != 1 || got[1].LastSequence != 2 || got[1].LastOffset != 5 {
		t.Fatalf("producers %+v", got)
	}
}
