package broker

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/samsa-io/samsa/coordinator"
)

// makeUnclean removes the clean-shutdown markers of broker id's logs, as
// if it had stopped without closing them (a machine crash).
func (c *testCluster) makeUnclean(id int32) {
	c.t.Helper()
	markers, err := filepath.Glob(filepath.Join(c.dirs[id], "*", ".samsa-clean-shutdown"))
	if err != nil || len(markers) == 0 {
		c.t.Fatalf("clean-shutdown markers of broker %d: %v %v", id, markers, err)
	}
	for _, m := range markers {
		if err := os.Remove(m); err != nil {
			c.t.Fatal(err)
		}
	}
}

// watchRegistrations collects, from now on, the values broker id
// registers.
func (c *testCluster) watchRegistrations(ctx context.Context, id int32) func() []coordinator.BrokerInfo {
	key := c.etcd.Key("brokers", strconv.Itoa(int(id)))
	wch := c.etcd.Client().Watch(ctx, key, clientv3.WithRev(c.snap().Revision+1))
	return func() []coordinator.BrokerInfo {
		var out []coordinator.BrokerInfo
		for {
			select {
			case resp := <-wch:
				for _, ev := range resp.Events {
					if ev.Type == mvccpb.PUT {
						var bi coordinator.BrokerInfo
						if err := json.Unmarshal(ev.Kv.Value, &bi); err != nil {
							c.t.Fatal(err)
						}
						out = append(out, bi)
					}
				}
			case <-time.After(200 * time.Millisecond):
				return out
			}
		}
	}
}

// KIP-966: an eligible leader replica whose broker comes back from an
// unclean shutdown leaves the ELR and is not elected, although it would be
// after a clean one (TestELRElection); the partition waits for its last
// ISR member, which is elected when it returns, and the broker rejoins the
// ISR once it has caught up. Its registration says unclean_shutdown until
// the controller is done with it.
func TestUncleanShutdownLeavesELR(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3, 4})
	c.createAssigned(4, "uc", [][]int32{{1, 2, 3}}, map[string]string{"min.insync.replicas": "2"})
	waitFor(t, "uc in sync", func() bool { st := c.partition("uc", 0); return st.Leader == 1 && len(st.ISR) == 3 })
	c.crash(3)
	c.waitDead(3)
	waitFor(t, "3 out of the ISR", func() bool { return !slices.Contains(c.partition("uc", 0).ISR, 3) })
	c.crash(2)
	c.waitDead(2)
	waitFor(t, "2 in the ELR", func() bool { return slices.Equal(c.partition("uc", 0).ELR, []int32{2}) })
	c.crash(1)
	c.waitDead(1)
	waitFor(t, "no leader", func() bool { return c.leaderOf("uc", 0) == -1 })
	epoch := c.partition("uc", 0).LeaderEpoch

	ctx := testCtx(t)
	regs := c.watchRegistrations(ctx, 2)
	c.makeUnclean(2)
	c.start(2)
	c.waitLive(2)
	waitFor(t, "2 out of the ELR", func() bool { return len(c.partition("uc", 0).ELR) == 0 })
	waitFor(t, "the unclean-shutdown flag cleared", func() bool { return !c.snap().Brokers[2].UncleanShutdown })
	seen := regs()
	if len(seen) == 0 || !seen[0].UncleanShutdown {
		t.Fatalf("broker 2's registrations after the unclean shutdown: %+v, want the first with unclean_shutdown", seen)
	}
	time.Sleep(2 * controllerTick)
	if st := c.partition("uc", 0); st.Leader != -1 || len(st.ELR) != 0 || !slices.Equal(st.ISR, []int32{1}) {
		t.Fatalf("after 2's unclean restart: %+v, want no leader, ISR [1], no ELR", st)
	}

	c.start(1)
	waitFor(t, "1 elected", func() bool { return c.leaderOf("uc", 0) == 1 })
	if st := c.partition("uc", 0); st.LeaderEpoch != epoch+1 {
		t.Errorf("after 1 came back: %+v, want epoch %d", st, epoch+1)
	}
	waitFor(t, "2 back in the ISR after catching up", func() bool {
		st := c.partition("uc", 0)
		return slices.Equal(st.ISR, []int32{1, 2}) && len(st.ELR) == 0
	})
}

// A broker restarted after an unclean shutdown within its session (still
// registered, still in the ISRs) leaves the ISRs, and rejoins them once it
// has caught up; a clean restart leaves it in.
func TestUncleanShutdownLeavesISR(t *testing.T) {
	c := newTestCluster(t, []int32{1, 2, 3}, "broker.session.timeout.ms=10000")
	tm := c.createAssigned(1, "ui", [][]int32{{1, 2, 3}, {2, 3, 1}}, nil)
	inSync := func() bool {
		for _, st := range c.snap().Topic("ui").Partitions {
			if len(st.ISR) != 3 {
				return false
			}
		}
		return true
	}
	waitFor(t, "ui in sync", inSync)

	restart := func(unclean bool) []coordinator.PartitionState {
		ctx := testCtx(t)
		var states []coordinator.PartitionState
		wch := c.etcd.Client().Watch(ctx, c.etcd.Key("partitions", tm.Info.ID.String())+"/", clientv3.WithPrefix(), clientv3.WithRev(c.snap().Revision+1))
		addr := c.addrs[2]
		c.crash(2)
		if unclean {
			c.makeUnclean(2)
		}
		c.start(2, "listeners=PLAINTEXT://"+addr) // takes over its registration: no lease expiry
		waitFor(t, "flag cleared and the ISRs full", func() bool { return !c.snap().Brokers[2].UncleanShutdown && inSync() })
		time.Sleep(2 * controllerTick)
		for {
			select {
			case resp := <-wch:
				for _, ev := range resp.Events {
					if ev.Type == mvccpb.PUT {
						states = append(states, decodeState(t, ev.Kv.Value))
					}
				}
				continue
			case <-time.After(200 * time.Millisecond):
			}
			return states
		}
	}
	removed := func(states []coordinator.PartitionState) int {
		n := 0
		for _, st := range states {
			if !slices.Contains(st.ISR, 2) {
				n++
			}
		}
		return n
	}
	if states := restart(false); removed(states) != 0 {
		t.Fatalf("a clean restart within the session took broker 2 out of an ISR: %+v", states)
	}
	states := restart(true)
	if removed(states) < 2 {
		t.Fatalf("after an unclean restart within the session, partition states without broker 2 in the ISR: %d, want both partitions (%+v)", removed(states), states)
	}
	for _, st := range states {
		if !slices.Contains(st.ISR, 2) && st.Leader == 2 {
			t.Errorf("broker 2 still leads out of the ISR: %+v", st)
		}
	}
}
