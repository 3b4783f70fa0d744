package coordinator

import (
	"context"
	"testing"
	"time"
)

func TestZZSameDir(t *testing.T) {
	dir := t.TempDir()
	s := openEmbedded(t, dir)
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	s2, err := Open(ctx, Config{EmbeddedDir: dir, Logger: testLogger(t)})
	t.Logf("second open on same dir: %v after %s", err, time.Since(t0))
	if err == nil {
		s2.Close()
	}
}
