package broker

import (
	"strings"
	"testing"
	"time"
)

// Broker.Close returns with its etcd unreachable (cutProxy, limits_test.go:
// every connection breaks, new ones are refused), for a broker
// campaigning for the controller role (another holds it) and for the
// controller.
func TestCloseWithEtcdUnreachable(t *testing.T) {
	for _, controller := range []bool{false, true} {
		t.Run(map[bool]string{false: "candidate", true: "controller"}[controller], func(t *testing.T) {
			ep, s := externalEtcd(t)
			proxy := startCutProxy(t, strings.TrimPrefix(ep, "http://"))
			props := []string{"broker.session.timeout.ms=3000"}
			var other *Broker
			startOther := func() {
				other, _ = startTestBroker(t, append(props, "etcd.endpoints="+ep, "broker.id=1")...)
				waitFor(t, "broker 1 registered", func() bool { _, ok := s.Snapshot().Brokers[1]; return ok })
			}
			if !controller {
				startOther()
				waitFor(t, "broker 1 controller", func() bool { return s.Snapshot().ControllerID == 1 })
			}
			b, _ := startTestBroker(t, append(props, "etcd.endpoints="+proxy.addr(), "broker.id=2")...)
			if controller {
				waitFor(t, "broker 2 controller", func() bool { return s.Snapshot().ControllerID == 2 })
				startOther()
			}
			time.Sleep(200 * time.Millisecond)
			proxy.cut() // and it stays cut: etcd never answers again
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- b.Close() }()
			select {
			case err := <-done:
				t.Logf("Close with etcd unreachable returned after %s: %v", time.Since(start), err)
			case <-time.After(90 * time.Second):
				t.Fatal("Broker.Close did not return with etcd unreachable")
			}
			_ = other
		})
	}
}
