package admin

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/broker"
	"github.com/samsa-io/samsa/devcluster"
)

// TestV1NotServedWithoutHost: a production broker's admin listener
// answers the dev API with 404.
func TestV1NotServedWithoutHost(t *testing.T) {
	_, base := listen(t)
	if code, body := call(t, "GET", base+"/v1/clusters", "", nil); code != http.StatusNotFound {
		t.Fatalf("GET /v1/clusters without a host: %d %s", code, body)
	}
}

// TestV1API drives the dev API end to end: clusters created, listed and
// deleted (with their data), a fault added, seen by a client, listed with
// its count and removed, the clock advanced, a broker killed and started.
func TestV1API(t *testing.T) {
	s, base := listen(t)
	h, err := devcluster.NewHost(devcluster.HostOptions{Parent: t.TempDir(), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	s.AttachHost(h)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var one, two clusterJSON
	if code, body := call(t, "POST", base+"/v1/clusters", `{"id":"one","properties":{"num.partitions":"1"}}`, &one); code != http.StatusCreated {
		t.Fatalf("create one: %d %s", code, body)
	}
	if code, body := call(t, "POST", base+"/v1/clusters", "", &two); code != http.StatusCreated {
		t.Fatalf("create (no body): %d %s", code, body)
	}
	if one.ID != "one" || one.Bootstrap == "" || len(one.Brokers) != 1 || one.Brokers[0].State != devcluster.StateRunning || two.ID == "" {
		t.Fatalf("created %+v and %+v", one, two)
	}
	if code, _ := call(t, "POST", base+"/v1/clusters", `{"id":"one"}`, nil); code != http.StatusConflict {
		t.Fatalf("create one again: %d, want 409", code)
	}
	if code, _ := call(t, "POST", base+"/v1/clusters", `{"properties":{"no.such.property":"1"}}`, nil); code != http.StatusBadRequest {
		t.Fatalf("create with a bad property: %d, want 400", code)
	}
	var list struct{ Clusters []clusterJSON }
	call(t, "GET", base+"/v1/clusters", "", &list)
	if len(list.Clusters) != 2 {
		t.Fatalf("list: %+v", list)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(one.Bootstrap), kgo.AllowAutoTopicCreation(), kgo.RecordRetries(0),
		kgo.DefaultProduceTopic("t"), kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("a")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var f broker.Fault
	if code, body := call(t, "POST", base+"/v1/clusters/one/faults", `{"api":"Produce","error":"INVALID_RECORD","count":1}`, &f); code != http.StatusCreated || f.ID == "" {
		t.Fatalf("add fault: %d %s", code, body)
	}
	if code, _ := call(t, "POST", base+"/v1/clusters/one/faults", `{"api":"Produce","error":"NOPE"}`, nil); code != http.StatusBadRequest {
		t.Fatalf("add a bad fault: %d, want 400", code)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("b")}).FirstErr(); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("produce under the fault: %v", err)
	}
	var got broker.Fault
	call(t, "GET", base+"/v1/clusters/one/faults/"+f.ID, "", &got)
	if got.Fired != 1 || !got.Spent {
		t.Fatalf("fault after firing: %+v", got)
	}
	if code, _ := call(t, "DELETE", base+"/v1/clusters/one/faults/"+f.ID, "", nil); code != http.StatusNoContent {
		t.Fatalf("remove fault: %d", code)
	}
	if code, _ := call(t, "DELETE", base+"/v1/clusters/one/faults/"+f.ID, "", nil); code != http.StatusNotFound {
		t.Fatalf("remove fault twice: %d", code)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("c")}).FirstErr(); err != nil {
		t.Fatalf("produce after removing the fault: %v", err)
	}
	// The other cluster never saw the fault.
	var faults struct{ Faults []broker.Fault }
	call(t, "GET", base+"/v1/clusters/"+two.ID+"/faults", "", &faults)
	if len(faults.Faults) != 0 {
		t.Fatalf("cluster %s has faults: %+v", two.ID, faults)
	}

	var clk clockJSON
	if code, body := call(t, "POST", base+"/v1/clusters/one/clock/advance", `{"by":"25h"}`, &clk); code != http.StatusOK || clk.Offset != broker.Duration(25*time.Hour) {
		t.Fatalf("advance: %d %s", code, body)
	}
	if code, _ := call(t, "POST", base+"/v1/clusters/one/clock/advance", `{"by":"-1h"}`, nil); code != http.StatusBadRequest {
		t.Fatalf("advance backwards: %d, want 400", code)
	}

	var after clusterJSON
	if code, body := call(t, "POST", base+"/v1/clusters/one/brokers/1/kill", "", &after); code != http.StatusOK || after.Brokers[0].State != devcluster.StateKilled {
		t.Fatalf("kill: %d %s", code, body)
	}
	if code, _ := call(t, "POST", base+"/v1/clusters/one/brokers/9/kill", "", nil); code != http.StatusNotFound {
		t.Fatalf("kill broker 9: %d, want 404", code)
	}
	if code, body := call(t, "POST", base+"/v1/clusters/one/brokers/1/start", "", &after); code != http.StatusOK || after.Brokers[0].State != devcluster.StateRunning {
		t.Fatalf("start: %d %s", code, body)
	}
	if code, body := call(t, "POST", base+"/v1/clusters/one/brokers/1/restart", `{"kill":true}`, &after); code != http.StatusOK || after.Brokers[0].State != devcluster.StateRunning {
		t.Fatalf("restart: %d %s", code, body)
	}

	dir := ""
	if c, ok := h.Get("one"); ok {
		dir = c.DataDir()
	}
	if code, _ := call(t, "DELETE", base+"/v1/clusters/one", "", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the deleted cluster's data %s is still there: %v", dir, err)
	}
	if code, _ := call(t, "GET", base+"/v1/clusters/one", "", nil); code != http.StatusNotFound {
		t.Fatalf("get the deleted cluster: %d", code)
	}
	// A change without a JSON body type is refused, as the console's API does.
	req, _ := http.NewRequest("POST", base+"/v1/clusters", stringsReader(`{}`))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("a text/plain POST: %d, want 415", resp.StatusCode)
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
