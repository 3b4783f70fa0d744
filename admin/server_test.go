package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-io/samsa/broker"
	"github.com/samsa-io/samsa/broker/config"
)

// startBroker starts an in-process broker on a free loopback port with an
// embedded etcd.
func startBroker(t *testing.T) *broker.Broker {
	t.Helper()
	cfg, err := config.NewBroker(map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func listen(t *testing.T) (*Server, string) {
	t.Helper()
	s, err := Listen(Options{Addr: "127.0.0.1:0", Logger: zerolog.Nop(), Version: "test", SampleInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, "http://" + s.Addr().String()
}

// call does one request and decodes a JSON answer into out (when set).
func call(t *testing.T, method, url, body string, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, data)
		}
	}
	return resp.StatusCode, string(data)
}

// TestProbesBeforeAndAfterAttach: /healthz answers from the moment the
// listener is bound; /readyz and the API say "starting" until the broker is
// attached, then ready.
func TestProbesBeforeAndAfterAttach(t *testing.T) {
	s, base := listen(t)
	if code, _ := call(t, "GET", base+"/healthz", "", nil); code != 200 {
		t.Errorf("healthz before attach: %d", code)
	}
	if code, body := call(t, "GET", base+"/readyz", "", nil); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("readyz before attach: %d %q, want 503 starting", code, body)
	}
	if code, _ := call(t, "GET", base+"/api/cluster", "", nil); code != 503 {
		t.Errorf("api before attach: %d, want 503", code)
	}
	b := startBroker(t)
	if err := s.Attach(b); err != nil {
		t.Fatal(err)
	}
	if code, body := call(t, "GET", base+"/readyz", "", nil); code != 200 || strings.TrimSpace(body) != "ready" {
		t.Errorf("readyz after attach: %d %q", code, body)
	}
	b.Close()
	if code, body := call(t, "GET", base+"/readyz", "", nil); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("readyz after the broker closed: %d %q", code, body)
	}
}

// TestMetricsEndpointParses: /metrics serves the broker's registry in the
// text format, and Prometheus' parser reads it.
func TestMetricsEndpointParses(t *testing.T) {
	s, base := listen(t)
	b := startBroker(t)
	if err := s.Attach(b); err != nil {
		t.Fatal(err)
	}
	call(t, "POST", base+"/api/topics", `{"name":"mt","partitions":1}`, nil)
	call(t, "POST", base+"/api/topics/mt/messages", `{"value":"x"}`, nil)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	mf := mfs["kafka_server_brokertopicmetrics_messagesin_total"]
	if mf == nil || len(mf.Metric) != 1 || mf.Metric[0].Counter.GetValue() != 1 {
		t.Fatalf("messages in for mt: %v", mf)
	}
}

type browseResp struct {
	Records []struct {
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
		Key       []byte `json:"key"`
		Value     []byte `json:"value"`
		Headers   []struct {
			Key   string `json:"key"`
			Value []byte `json:"value"`
		} `json:"headers"`
	} `json:"records"`
}

// TestTopicsAndMessagesAPI: create, produce, browse (newest, by offset,
// search), alter configs and delete through the API, and the errors.
func TestTopicsAndMessagesAPI(t *testing.T) {
	s, base := listen(t)
	b := startBroker(t)
	if err := s.Attach(b); err != nil {
		t.Fatal(err)
	}
	if code, body := call(t, "POST", base+"/api/topics", `{"name":"orders","partitions":2,"configs":{"retention.ms":"3600000"}}`, nil); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _ := call(t, "POST", base+"/api/topics", `{"name":"orders","partitions":2}`, nil); code != 409 {
		t.Errorf("create twice: %d, want 409", code)
	}
	for i, v := range []string{`{"n":1}`, `{"n":2}`, `needle here`} {
		body, _ := json.Marshal(map[string]any{"partition": 1, "key": "k" + string(rune('0'+i)), "value": v, "headers": map[string]string{"h": "v"}})
		var out struct {
			Partition int32 `json:"partition"`
			Offset    int64 `json:"offset"`
		}
		if code, resp := call(t, "POST", base+"/api/topics/orders/messages", string(body), &out); code != 200 || out.Partition != 1 || out.Offset != int64(i) {
			t.Fatalf("produce %d: %d %s %+v", i, code, resp, out)
		}
	}
	var br browseResp
	call(t, "GET", base+"/api/topics/orders/messages?partition=1&limit=2", "", &br)
	if len(br.Records) != 2 || br.Records[0].Offset != 2 || br.Records[1].Offset != 1 {
		t.Fatalf("newest two of partition 1: %+v", br.Records)
	}
	if string(br.Records[0].Key) != "k2" || len(br.Records[0].Headers) != 1 || string(br.Records[0].Headers[0].Value) != "v" {
		t.Errorf("record 2: %+v", br.Records[0])
	}
	call(t, "GET", base+"/api/topics/orders/messages?partition=1&from=offset&offset=1&limit=1", "", &br)
	if len(br.Records) != 1 || string(br.Records[0].Value) != `{"n":2}` {
		t.Errorf("from offset 1: %+v", br.Records)
	}
	call(t, "GET", base+"/api/topics/orders/messages?search=needle", "", &br)
	if len(br.Records) != 1 || string(br.Records[0].Value) != "needle here" {
		t.Errorf("search: %+v", br.Records)
	}
	call(t, "GET", base+"/api/topics/orders/messages?from=timestamp&timestamp=0&partition=1", "", &br)
	if len(br.Records) != 3 {
		t.Errorf("from time 0: %d records, want 3", len(br.Records))
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/api/topics/nope", "", 404},
		{"GET", "/api/topics/nope/messages", "", 404},
		{"GET", "/api/topics/orders/messages?partition=9", "", 400},
		{"GET", "/api/topics/orders/messages?from=sideways", "", 400},
		{"POST", "/api/topics/orders/messages", `{"partition":5,"value":"x"}`, 400},
		{"POST", "/api/topics/orders/configs", `{"set":{"no.such.config":"1"}}`, 400},
	} {
		if code, body := call(t, c.method, base+c.path, c.body, nil); code != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.want)
		}
	}

	type topicResp struct {
		Records int64 `json:"records"`
		Configs []struct {
			Name    string `json:"name"`
			Value   string `json:"value"`
			Default bool   `json:"default"`
		} `json:"configs"`
	}
	config := func() (string, bool, int64) {
		var tr topicResp
		call(t, "GET", base+"/api/topics/orders", "", &tr)
		for _, c := range tr.Configs {
			if c.Name == "retention.ms" {
				return c.Value, c.Default, tr.Records
			}
		}
		return "", false, tr.Records
	}
	if v, dflt, recs := config(); v != "3600000" || dflt || recs != 3 {
		t.Errorf("retention.ms %q default %v records %d, want the override and 3 records", v, dflt, recs)
	}
	if code, body := call(t, "POST", base+"/api/topics/orders/configs", `{"set":{"retention.ms":"7200000"}}`, nil); code != 200 {
		t.Fatalf("alter: %d %s", code, body)
	}
	if v, _, _ := config(); v != "7200000" {
		t.Errorf("after alter: retention.ms %q", v)
	}
	if code, body := call(t, "POST", base+"/api/topics/orders/configs", `{"delete":["retention.ms"]}`, nil); code != 200 {
		t.Fatalf("delete config: %d %s", code, body)
	}
	if v, dflt, _ := config(); !dflt || v != "604800000" {
		t.Errorf("after delete: retention.ms %q default %v", v, dflt)
	}
	if code, body := call(t, "DELETE", base+"/api/topics/orders", "", nil); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := call(t, "GET", base+"/api/topics/orders", "", nil); code != 404 {
		t.Errorf("deleted topic: %d, want 404", code)
	}
}

// TestGroupsAPI: a group's lag from committed offsets, a reset to the end
// that brings it to zero, and the deletion.
func TestGroupsAPI(t *testing.T) {
	s, base := listen(t)
	b := startBroker(t)
	if err := s.Attach(b); err != nil {
		t.Fatal(err)
	}
	call(t, "POST", base+"/api/topics", `{"name":"g","partitions":1}`, nil)
	for i := 0; i < 4; i++ {
		call(t, "POST", base+"/api/topics/g/messages", `{"value":"v"}`, nil)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.KafkaAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "g", Partition: 0, At: 1, LeaderEpoch: -1})
	if _, err := kadm.NewClient(cl).CommitOffsets(context.Background(), "readers", offs); err != nil {
		t.Fatal(err)
	}
	var groups []groupJSON
	call(t, "GET", base+"/api/groups", "", &groups)
	if len(groups) != 1 || groups[0].Group != "readers" || groups[0].Lag != 3 {
		t.Fatalf("groups: %+v", groups)
	}
	var g struct {
		Lag        int64        `json:"lag"`
		Offsets    []offsetJSON `json:"offsets"`
		LagHistory []LagSample  `json:"lagHistory"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		call(t, "GET", base+"/api/groups/readers", "", &g)
		if len(g.LagHistory) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if g.Lag != 3 || len(g.Offsets) != 1 || g.Offsets[0].Committed != 1 || g.Offsets[0].End != 4 {
		t.Errorf("group: %+v", g)
	}
	if len(g.LagHistory) == 0 || g.LagHistory[len(g.LagHistory)-1].Lag != 3 {
		t.Errorf("lag history: %+v", g.LagHistory)
	}
	if code, body := call(t, "POST", base+"/api/groups/readers/reset", `{"topic":"g","to":"end"}`, nil); code != 200 {
		t.Fatalf("reset: %d %s", code, body)
	}
	call(t, "GET", base+"/api/groups/readers", "", &g)
	if g.Lag != 0 {
		t.Errorf("lag after reset to end: %d", g.Lag)
	}
	if code, _ := call(t, "GET", base+"/api/groups/nobody", "", nil); code != 404 {
		t.Errorf("unknown group: %d, want 404", code)
	}
	if code, body := call(t, "DELETE", base+"/api/groups/readers", "", nil); code != 200 {
		t.Fatalf("delete group: %d %s", code, body)
	}
	call(t, "GET", base+"/api/groups", "", &groups)
	if len(groups) != 0 {
		t.Errorf("groups after delete: %+v", groups)
	}
}

// TestAPIRefusesCrossSiteRequests: a change sent as a form (what a page of
// another site can make a browser send without asking), a request marked
// cross-site, or one addressed to a name other than loopback (DNS
// rebinding) is refused and changes nothing.
func TestAPIRefusesCrossSiteRequests(t *testing.T) {
	s, base := listen(t)
	b := startBroker(t)
	if err := s.Attach(b); err != nil {
		t.Fatal(err)
	}
	post := func(hdr map[string]string, host string) int {
		req, _ := http.NewRequest("POST", base+"/api/topics", strings.NewReader(`{"name":"csrf"}`))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(map[string]string{"Content-Type": "text/plain"}, ""); code != 415 {
		t.Errorf("text/plain body: %d, want 415", code)
	}
	if code := post(map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, ""); code != 403 {
		t.Errorf("cross-site: %d, want 403", code)
	}
	if code := post(map[string]string{"Content-Type": "application/json"}, "evil.example:9644"); code != 403 {
		t.Errorf("another host name: %d, want 403", code)
	}
	if code, _ := call(t, "GET", base+"/api/topics/csrf", "", nil); code != 404 {
		t.Errorf("a refused request created the topic: %d", code)
	}
	if code := post(map[string]string{"Content-Type": "application/json"}, "localhost"); code != 201 {
		t.Errorf("a JSON request to localhost: %d, want 201", code)
	}
}

// TestConsoleServed: the embedded console is served at / and for any
// client-side route, with its scripts.
func TestConsoleServed(t *testing.T) {
	_, base := listen(t)
	for _, p := range []string{"/", "/topics/x"} {
		code, body := call(t, "GET", base+p, "", nil)
		if code != 200 || !strings.Contains(body, "<title>samsa console</title>") {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, body := call(t, "GET", base+"/app.js", "", nil); code != 200 || !strings.Contains(body, "function route") {
		t.Errorf("app.js: %d", code)
	}
}
