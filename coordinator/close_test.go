package coordinator

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// closeHangDeadline is far above what Close takes (closeGrace and the
// deregistration's own bound): only a hang reaches it.
const closeHangDeadline = 60 * time.Second

// Close, and Deregister before it, return while etcd is unreachable (the
// links broke and new ones get no answer: the client keeps reconnecting),
// for a broker that holds the controller role and for one whose campaign
// is waiting for it (etcd's Campaign resigns with the client's own
// context, which has no deadline, when its context ends: the resign waits
// for a connection that never comes).
func TestCloseReturnsWithEtcdUnreachable(t *testing.T) {
	for _, tc := range []struct {
		role       string
		deregister bool // a clean shutdown; else Close alone, as after a crash
	}{{"candidate", true}, {"controller", true}, {"candidate", false}} {
		role := tc.role
		t.Run(fmt.Sprintf("%s/deregister=%v", role, tc.deregister), func(t *testing.T) {
			s0 := openEmbedded(t, "")
			defer closeStore(t, s0)
			ctx := testCtx(t)
			other := openClient(t, s0, 0)
			defer closeStore(t, other)
			proxy := newStallProxy(t, strings.TrimPrefix(s0.EmbeddedEndpoint(), "http://"))
			s, err := Open(ctx, Config{Endpoints: []string{proxy.addr()}, SessionTTL: 3 * time.Second, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			register := func(st *Store, id int32) {
				if err := st.RegisterBroker(ctx, BrokerInfo{ID: id, Host: "h", Port: 9090 + id}); err != nil {
					t.Fatal(err)
				}
			}
			if role == "candidate" {
				register(other, 1)
				eventually(t, 5*time.Second, "broker 1 controller", other.IsController)
				register(s, 2)
			} else {
				register(s, 2)
				eventually(t, 5*time.Second, "broker 2 controller", s.IsController)
				register(other, 1)
			}
			time.Sleep(200 * time.Millisecond) // the campaign is under way
			proxy.cut()

			done := make(chan error, 1)
			go func() {
				if tc.deregister {
					dctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					defer cancel()
					derr := s.Deregister(dctx)
					t.Logf("Deregister with etcd unreachable: %v", derr)
				}
				done <- s.Close()
			}()
			start := time.Now()
			select {
			case err := <-done:
				t.Logf("Deregister and Close returned after %s (Close: %v)", time.Since(start), err)
			case <-time.After(closeHangDeadline):
				t.Fatalf("Deregister and Close did not return within %s with etcd unreachable", closeHangDeadline)
			}
			if s.LeaseValid() || s.IsController() {
				t.Error("a closed store still counts its lease or the controller role")
			}
			proxy.resume()
		})
	}
}
