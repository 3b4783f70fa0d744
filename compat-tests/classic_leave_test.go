package compat

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestClassicGroupRejoinAfterLastMemberLeft: the only member of a Stable
// classic group closes (LeaveGroup); a new member joining right after is
// assigned at once, not after the leaver's rebalance timeout (30 s here):
// the group is Empty as soon as its last member left (Kafka's
// tryCompleteElseWatch completes the rebalance at once). Before
// coordinator/group completed it synchronously, a timer of the remaining
// members' rebalance timeout (none left: 0) got there too, so this pins
// the behaviour rather than catching that change (classic_leave_test.go
// in coordinator/group does, with its fake clock).
func TestClassicGroupRejoinAfterLastMemberLeft(t *testing.T) {
	s := StartSamsa(t)
	const topic, group = "classic-leave", "classic-leave-group"
	createTopic(t, s.Addr, topic, 2)
	start := func(name string) (*kgo.Client, <-chan struct{}) {
		assigned := make(chan struct{})
		var once sync.Once
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr), kgo.ClientID(name),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.Balancers(kgo.RangeBalancer()), // classic protocol
			kgo.SessionTimeout(10*time.Second), kgo.RebalanceTimeout(30*time.Second),
			kgo.FetchMaxWait(200*time.Millisecond),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
				if len(a[topic]) > 0 {
					once.Do(func() { close(assigned) })
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				if fs := cl.PollFetches(context.Background()); fs.IsClientClosed() {
					return
				}
			}
		}()
		return cl, assigned
	}
	wait := func(what string, ch <-chan struct{}, d time.Duration) time.Duration {
		t.Helper()
		begin := time.Now()
		select {
		case <-ch:
			return time.Since(begin)
		case <-time.After(d):
			t.Fatalf("%s: no assignment within %v", what, d)
			return 0
		}
	}
	a, aAssigned := start("first")
	wait("first member", aAssigned, 15*time.Second)
	a.Close() // leaves the group: it was the last member of a Stable group
	adm, admCl := newAdmin(t, s.Addr)
	defer admCl.Close()
	dg, err := adm.DescribeGroups(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	if st := dg[group].State; st != "Empty" {
		t.Errorf("right after the last member left: state %s, want Empty", st)
	}

	b, bAssigned := start("second")
	defer b.Close()
	took := wait("second member", bAssigned, 20*time.Second)
	if took > 5*time.Second {
		t.Fatalf("second member assigned %v after the first left, want at once", took)
	}
	t.Logf("second member assigned %v after the first left", took.Round(time.Millisecond))
}
