package cli

import (
	"strings"
	"testing"
)

// TestDevFlags: samsa dev takes --brokers, --port and --host (and is
// ephemeral), serve takes --ephemeral; each refuses the other's flags and
// the flags samsa dev sets itself.
func TestDevFlags(t *testing.T) {
	o, err := Parse([]string{"dev"}, nil)
	if err != nil || o.Command != "dev" || !o.Ephemeral || o.Brokers != 1 || o.Port != 9092 || o.Host != "127.0.0.1" {
		t.Fatalf("dev: %+v %v", o, err)
	}
	o, err = Parse([]string{"dev", "--brokers", "3", "--port", "19092", "--host", "127.0.0.2", "--override", "num.partitions=2"}, nil)
	if err != nil || o.Brokers != 3 || o.Port != 19092 || o.Host != "127.0.0.2" || o.Props["num.partitions"] != "2" {
		t.Fatalf("dev with flags: %+v %v", o, err)
	}
	o, err = Parse([]string{"serve", "--ephemeral"}, nil)
	if err != nil || o.Command != "serve" || !o.Ephemeral {
		t.Fatalf("serve --ephemeral: %+v %v", o, err)
	}
	if o, err = Parse([]string{"serve"}, nil); err != nil || o.Ephemeral {
		t.Fatalf("serve: %+v %v", o, err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dev", "--brokers", "0"}, "--brokers 0"},
		{[]string{"dev", "--brokers", "33"}, "--brokers 33"},
		{[]string{"dev", "--port", "65535", "--brokers", "2"}, "--port 65535"},
		{[]string{"dev", "--ephemeral"}, "--ephemeral is for serve"},
		{[]string{"dev", "--data-dir", "/x"}, "--data-dir is not for samsa dev"},
		{[]string{"dev", "--listeners", "PLAINTEXT://:1"}, "--listeners is not for samsa dev"},
		{[]string{"serve", "--brokers", "2"}, "--brokers is for samsa dev"},
		{[]string{"--port", "1"}, "--port is for samsa dev"},
	} {
		if _, err := Parse(tt.args, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
}
