package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseListeners(t *testing.T) {
	tests := []struct {
		in      string
		want    []Listener
		wantErr string
	}{
		{in: "PLAINTEXT://localhost:9092", want: []Listener{{"PLAINTEXT", "localhost", 9092}}},
		{in: "PLAINTEXT://:9092", want: []Listener{{"PLAINTEXT", "", 9092}}},
		{in: "plaintext://0.0.0.0:0", want: []Listener{{"PLAINTEXT", "0.0.0.0", 0}}},
		{in: " PLAINTEXT://a:1 , INTERNAL://b-2.example.com:2 ", want: []Listener{{"PLAINTEXT", "a", 1}, {"INTERNAL", "b-2.example.com", 2}}},
		{in: "PLAINTEXT://[::1]:9092", want: []Listener{{"PLAINTEXT", "::1", 9092}}},
		{in: "PLAINTEXT://[fe80::1%eth0]:9092", want: []Listener{{"PLAINTEXT", "fe80::1%eth0", 9092}}},
		{in: "PLAINTEXT://[::]:9092", want: []Listener{{"PLAINTEXT", "::", 9092}}},
		{in: "bad", wantErr: "missing ://"},
		{in: "localhost:9092", wantErr: "missing ://"},
		{in: "://localhost:9092", wantErr: "missing listener name"},
		{in: "PLAINTEXT://localhost", wantErr: "missing port"},
		{in: "PLAINTEXT://localhost:", wantErr: "invalid port"},
		{in: "PLAINTEXT://localhost:65536", wantErr: "invalid port"},
		{in: "PLAINTEXT://localhost:-1", wantErr: "invalid port"},
		{in: "PLAINTEXT://::1:9092", wantErr: "brackets"},
		{in: "PLAINTEXT://[::1:9092", wantErr: "unterminated"},
		{in: "PLAIN TEXT://a:1", wantErr: "listener name"},
		{in: "PLAINTEXT://a/b:1", wantErr: "invalid character"},
		{in: "PLAINTEXT://a:1,plaintext://b:2", wantErr: "different name"},
		{in: " , ", wantErr: "no listener"},
	}
	for _, tt := range tests {
		got, err := ParseListeners(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseListeners(%q) err = %v, want containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseListeners(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestListenerString(t *testing.T) {
	if s := (Listener{"PLAINTEXT", "::1", 9092}).String(); s != "PLAINTEXT://[::1]:9092" {
		t.Errorf("got %s", s)
	}
}

func TestBrokerListeners(t *testing.T) {
	defer func(h func() (string, error)) { hostname = h }(hostname)
	hostname = func() (string, error) { return "myhost", nil }

	tests := []struct {
		name      string
		props     map[string]string
		listeners []Listener
		adv       []Listener
		inter     string
		wantErr   string // substring; also must wrap ErrInvalid
	}{
		{name: "default", props: nil,
			listeners: []Listener{{"PLAINTEXT", "localhost", 9092}},
			adv:       []Listener{{"PLAINTEXT", "localhost", 9092}}, inter: "PLAINTEXT"},
		{name: "empty host advertises hostname",
			props:     map[string]string{"listeners": "PLAINTEXT://:9092"},
			listeners: []Listener{{"PLAINTEXT", "", 9092}},
			adv:       []Listener{{"PLAINTEXT", "myhost", 9092}}, inter: "PLAINTEXT"},
		{name: "explicit advertised",
			props:     map[string]string{"listeners": "PLAINTEXT://0.0.0.0:9092", "advertised.listeners": "PLAINTEXT://kafka:9092"},
			listeners: []Listener{{"PLAINTEXT", "0.0.0.0", 9092}},
			adv:       []Listener{{"PLAINTEXT", "kafka", 9092}}, inter: "PLAINTEXT"},
		{name: "mapped names and controller dropped (KRaft combined compose)",
			props: map[string]string{
				"listeners":                      "PLAINTEXT://:29092,CONTROLLER://:29093,PLAINTEXT_HOST://:9092",
				"advertised.listeners":           "PLAINTEXT://broker:29092,PLAINTEXT_HOST://localhost:9092",
				"listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT",
				"controller.listener.names":      "CONTROLLER",
				"inter.broker.listener.name":     "PLAINTEXT",
				"process.roles":                  "broker,controller",
			},
			listeners: []Listener{{"PLAINTEXT", "", 29092}, {"PLAINTEXT_HOST", "", 9092}},
			adv:       []Listener{{"PLAINTEXT", "broker", 29092}, {"PLAINTEXT_HOST", "localhost", 9092}},
			inter:     "PLAINTEXT"},
		{name: "port 0 kept for the broker to fill",
			props:     map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0"},
			listeners: []Listener{{"PLAINTEXT", "127.0.0.1", 0}},
			adv:       []Listener{{"PLAINTEXT", "127.0.0.1", 0}}, inter: "PLAINTEXT"},

		{name: "bad syntax", props: map[string]string{"listeners": "bad"}, wantErr: "listeners"},
		{name: "ssl without key store", props: map[string]string{"listeners": "SSL://:9093"}, wantErr: "has no key store"},
		{name: "sasl via map, GSSAPI by default", props: map[string]string{"listeners": "EXTERNAL://:9093", "listener.security.protocol.map": "EXTERNAL:SASL_PLAINTEXT"},
			wantErr: "GSSAPI (Kerberos) is not supported"},
		{name: "unmapped name", props: map[string]string{"listeners": "INTERNAL://:9093"}, wantErr: "no security protocol"},
		{name: "bad map", props: map[string]string{"listener.security.protocol.map": "PLAINTEXT:TLS"}, wantErr: "unknown security protocol"},
		{name: "same port", props: map[string]string{"listeners": "PLAINTEXT://:9092,OTHER://:9092", "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT"},
			wantErr: "same address"},
		{name: "defaulted advertised 0.0.0.0", props: map[string]string{"listeners": "PLAINTEXT://0.0.0.0:9092"},
			wantErr: "nonroutable meta-address 0.0.0.0"},
		{name: "explicit advertised 0.0.0.0", props: map[string]string{"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"},
			wantErr: "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0"},
		{name: "advertised empty host", props: map[string]string{"advertised.listeners": "PLAINTEXT://:9092"}, wantErr: "no host"},
		{name: "advertised port 0", props: map[string]string{"advertised.listeners": "PLAINTEXT://h:0"}, wantErr: "port 0"},
		{name: "advertised not in listeners", props: map[string]string{"advertised.listeners": "OTHER://h:1"}, wantErr: "subset"},
		{name: "only controller listeners", props: map[string]string{"listeners": "CONTROLLER://:9093", "controller.listener.names": "CONTROLLER",
			"listener.security.protocol.map": "CONTROLLER:PLAINTEXT"}, wantErr: "controller listener"},
		{name: "inter broker listener unknown", props: map[string]string{"inter.broker.listener.name": "NOPE"}, wantErr: "not in advertised.listeners"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBroker(tt.props)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.Listeners, tt.listeners) {
				t.Errorf("Listeners = %v, want %v", b.Listeners, tt.listeners)
			}
			if !reflect.DeepEqual(b.AdvertisedListeners, tt.adv) {
				t.Errorf("AdvertisedListeners = %v, want %v", b.AdvertisedListeners, tt.adv)
			}
			if b.InterBrokerListener != tt.inter {
				t.Errorf("InterBrokerListener = %s, want %s", b.InterBrokerListener, tt.inter)
			}
		})
	}
}

func TestControllerListenerWarning(t *testing.T) {
	// Not in combined mode: controller listeners are not served.
	b, err := NewBroker(map[string]string{
		"listeners":                      "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093",
		"controller.listener.names":      "CONTROLLER",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"process.roles":                  "broker",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.IgnoredKeys(); len(got) != 0 {
		t.Errorf("IgnoredKeys = %v", got)
	}
	w := strings.Join(b.Warnings(), "\n")
	if !strings.Contains(w, "CONTROLLER://localhost:9093") || !strings.Contains(w, "process.roles") {
		t.Errorf("warnings = %s", w)
	}
	if b.Combined || len(b.Listeners) != 1 {
		t.Errorf("combined %v, listeners %v", b.Combined, b.Listeners)
	}
}

func TestQuorumConfig(t *testing.T) {
	combined := func(extra ...string) map[string]string {
		m := map[string]string{
			"node.id":                        "2",
			"process.roles":                  "broker,controller",
			"listeners":                      "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
			"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"controller.listener.names":      "CONTROLLER",
			"controller.quorum.voters":       "1@b1:9093,2@b2:9093,3@[::1]:9093",
		}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				delete(m, extra[i])
			} else {
				m[extra[i]] = extra[i+1]
			}
		}
		return m
	}
	b, err := NewBroker(combined())
	if err != nil {
		t.Fatal(err)
	}
	wantVoters := []Voter{{1, "b1", 9093}, {2, "b2", 9093}, {3, "::1", 9093}}
	if !b.Combined || !reflect.DeepEqual(b.QuorumVoters, wantVoters) ||
		b.ControllerListener != (Listener{"CONTROLLER", "127.0.0.1", 9093}) || len(b.Listeners) != 1 || len(b.Warnings()) != 0 {
		t.Errorf("combined: %v %v %v %v %v", b.Combined, b.QuorumVoters, b.ControllerListener, b.Listeners, b.Warnings())
	}
	if b.SessionTimeout != 9*time.Second {
		t.Errorf("session timeout %s", b.SessionTimeout)
	}
	// One voter (this node) or one bootstrap server: the embedded
	// single-node etcd, no error, nothing ignored.
	for _, m := range []map[string]string{
		combined("controller.quorum.voters", "2@b2:9093"),
		combined("controller.quorum.voters", "", "controller.quorum.bootstrap.servers", "localhost:9093"),
	} {
		b, err := NewBroker(m)
		if err != nil {
			t.Fatal(err)
		}
		if b.Combined || len(b.Warnings()) != 0 {
			t.Errorf("single voter: combined %v, warnings %v", b.Combined, b.Warnings())
		}
	}
	bad := []struct {
		props map[string]string
		want  string
	}{
		{combined("controller.quorum.voters", "1@b1:9093,3@b3:9093"), "node.id 2 is not among the voters"},
		{combined("process.roles", "broker"), "dedicated KRaft controllers"},
		{combined("process.roles", "controller"), "dedicated controller nodes"},
		{combined("etcd.endpoints", "e:2379"), "set one or the other"},
		{combined("controller.quorum.voters", "", "controller.quorum.bootstrap.servers", "a:1,b:2"), "dynamic quorum"},
		{combined("controller.quorum.voters", "1@b1"), "host:port"},
		{combined("controller.quorum.voters", "1@b1:1,1@b2:2"), "appears twice"},
		{combined("controller.listener.names", "", "listeners", "PLAINTEXT://127.0.0.1:9092"), "controller listener"},
		{combined("listeners", "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:0"), "fixed port"},
		{combined("broker.session.timeout.ms", "1000"), "at least 2000"},
	}
	for _, tt := range bad {
		_, err := NewBroker(tt.props)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%v: err = %v, want %q", tt.props, err, tt.want)
		}
	}
}

func TestInterBrokerListener(t *testing.T) {
	two := map[string]string{
		"listeners":                      "EXTERNAL://127.0.0.1:9092,PLAINTEXT://127.0.0.1:9093",
		"listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range two {
			m[a] = b
		}
		if k != "" {
			m[k] = v
		}
		return m
	}
	// Kafka's default is the listener named by security.inter.broker.protocol.
	for _, props := range []map[string]string{with("", ""), with("security.inter.broker.protocol", "PLAINTEXT")} {
		b, err := NewBroker(props)
		if err != nil {
			t.Fatal(err)
		}
		if b.InterBrokerListener != "PLAINTEXT" || b.ListenerProtocols["EXTERNAL"] != "PLAINTEXT" {
			t.Errorf("inter broker %s, protocols %v", b.InterBrokerListener, b.ListenerProtocols)
		}
	}
	b, err := NewBroker(with("inter.broker.listener.name", "external"))
	if err != nil || b.InterBrokerListener != "EXTERNAL" {
		t.Fatalf("named: %v %v", b, err)
	}
	for _, tt := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"inter.broker.listener.name": "PLAINTEXT", "security.inter.broker.protocol": "PLAINTEXT"}, "only one of"},
		{map[string]string{"security.inter.broker.protocol": "SSL"}, "no advertised listener is named SSL"},
		{with("security.inter.broker.protocol", "SASL_SSL"), "no advertised listener is named SASL_SSL"},
	} {
		if _, err := NewBroker(tt.props); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.props, err, tt.want)
		}
	}
}
