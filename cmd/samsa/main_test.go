package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		args   []string
		env    []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"version"}, nil, 0, "samsa ", ""},
		{[]string{"help"}, nil, 0, "Usage:", ""},
		{[]string{"--help"}, nil, 0, "Usage:", ""},
		{[]string{"frobnicate"}, nil, 2, "", `unknown command "frobnicate"`},
		{[]string{"--override", "num.partitions=abc"}, nil, 2, "", "Invalid value abc for configuration num.partitions"},
		{[]string{"--override", "no.such=1"}, nil, 2, "", `unknown broker property "no.such" (set by --override)`},
		{nil, []string{"KAFKA_LISTENERS=bad"}, 2, "", "(set by environment variable KAFKA_LISTENERS)"},
		{[]string{"--config", "/nonexistent.properties"}, nil, 2, "", "no such file"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(context.Background(), tt.args, tt.env, &out, &errb)
		if code != tt.code || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
			t.Errorf("%v: code %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out.String(), errb.String(), tt.code, tt.stdout, tt.stderr)
		}
	}
}

func TestCloseWithin(t *testing.T) {
	log := zerolog.Nop()
	if c := closeWithin(func() error { return nil }, time.Second, log); c != 0 {
		t.Errorf("clean close: %d", c)
	}
	if c := closeWithin(func() error { return errors.New("boom") }, time.Second, log); c != 1 {
		t.Errorf("failed close: %d", c)
	}
	block := make(chan struct{})
	defer close(block)
	if c := closeWithin(func() error { <-block; return nil }, 10*time.Millisecond, log); c != 1 {
		t.Errorf("hung close: %d", c)
	}
}
