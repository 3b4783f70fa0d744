package coordinator

import (
	"slices"
	"syscall"
	"testing"
	"time"
	"github.com/rs/zerolog"
)

var testTick uint = 10

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(0, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZEmbeddedTimes(t *testing.T) {
	for _, tick := range []uint{10, 5, 10, 5} {
		testTick = tick
		var fresh, restart []time.Duration
		for range 8 {
			dir := t.TempDir()
			e, err := startEmbedded(dir, zerolog.Nop())
			if err != nil { t.Fatal(err) }
			fresh = append(fresh, e.ready)
			e.Close()
			e, err = startEmbedded(dir, zerolog.Nop())
			if err != nil { t.Fatal(err) }
			restart = append(restart, e.ready)
			e.Close()
		}
		dir := t.TempDir()
		e, _ := startEmbedded(dir, zerolog.Nop())
		time.Sleep(200*time.Millisecond)
		c0 := cpu()
		time.Sleep(2*time.Second)
		idle := cpu() - c0
		e.Close()
		slices.Sort(fresh); slices.Sort(restart)
		t.Logf("tick %d: fresh median %s max %s; restart median %s max %s; idle CPU %s/2s", tick, fresh[4], fresh[7], restart[4], restart[7], idle)
	}
}
