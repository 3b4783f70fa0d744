package compat

import (
	"bytes"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// samsaCLI runs the real binary's client command line against s and
// returns stdout, stderr and the exit code.
func samsaCLI(t *testing.T, s *Samsa, stdin string, args ...string) (string, string, int) {
	t.Helper()
	return samsaCLIWhile(t, s, stdin, nil, args...)
}

// samsaCLIWhile is samsaCLI calling meanwhile, if not nil, every 300 ms
// until the command exits.
func samsaCLIWhile(t *testing.T, s *Samsa, stdin string, meanwhile func(), args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(s.Bin, args...)
	cmd.Env = append(cmd.Environ(), "SAMSA_BROKERS="+s.Addr)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return out.String(), errb.String(), ee.ExitCode()
			}
			if err != nil {
				t.Fatalf("samsa %v: %v", args, err)
			}
			return out.String(), errb.String(), 0
		case <-tick.C:
			if meanwhile != nil {
				meanwhile()
			}
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("samsa %v did not exit within 60 s", args)
			return "", "", -1
		}
	}
}

// TestSamsaCLI runs every client subcommand of the real binary against a
// real broker, with the error cases scripts rely on: exit 1 and a named
// Kafka error for what the cluster refuses, exit 2 for a bad command line.
func TestSamsaCLI(t *testing.T) {
	s := StartSamsa(t)
	type step struct {
		args   []string
		stdin  string
		code   int
		stdout []string // substrings
		stderr []string
		// stdoutRE, when set, is what all of stdout must match.
		stdoutRE string
		// while, when set, is a samsa command run (with stdin "fresh\n")
		// every 300 ms while the step's command runs.
		while []string
	}
	steps := []step{
		{args: []string{"topic", "create", "cli", "-p", "2", "-c", "retention.ms=3600000"}, stdout: []string{"created cli (2 partitions"}},
		{args: []string{"topic", "create", "cli"}, code: 1, stderr: []string{"samsa: topic create: topic cli: TOPIC_ALREADY_EXISTS"}},
		{args: []string{"topic", "list"}, stdout: []string{"cli", "NAME"}},
		{args: []string{"topic", "describe", "cli"}, stdout: []string{"PARTITIONS  2", "retention.ms", "3600000"}},
		{args: []string{"topic", "describe", "missing"}, code: 1, stderr: []string{"UNKNOWN_TOPIC_OR_PARTITION"}},
		{args: []string{"topic", "alter-config", "cli", "--set", "retention.ms=7200000"}, stdout: []string{"altered 1 configs of cli"}},
		{args: []string{"topic", "describe", "cli"}, stdout: []string{"7200000"}},
		{args: []string{"topic", "alter-config", "cli", "--set", "no.such.config=1"}, code: 1, stderr: []string{"INVALID_CONFIG"}},
		{args: []string{"topic", "alter-config", "cli"}, code: 2, stderr: []string{"nothing to alter"}},
		{args: []string{"topic", "add-partitions", "cli", "-n", "1"}, stdout: []string{"added 1 partitions to cli"}},
		{args: []string{"topic", "describe", "cli"}, stdout: []string{"PARTITIONS  3"}},
		{args: []string{"produce", "cli", "-f", "%k %v", "-H", "src=cli", "-p", "0"}, stdin: "a one\nb two\nc three\n",
			stderr: []string{"produced 3 records to cli"}},
		{args: []string{"produce", "cli", "-p", "9"}, stdin: "x\n", code: 1, stderr: []string{"UNKNOWN_TOPIC_OR_PARTITION"}},
		{args: []string{"produce", "cli", "-f", "%k:%v"}, stdin: "no separator\n", code: 2, stderr: []string{"does not match the format"}},
		{args: []string{"produce", "cli", "--acks", "2"}, code: 2, stderr: []string{"--acks"}},
		{args: []string{"consume", "cli", "-o", "start", "-e", "-f", `%p/%o %k=%v %h\n`},
			stdout: []string{"0/0 a=one src=cli\n0/1 b=two src=cli\n0/2 c=three src=cli\n"}},
		{args: []string{"consume", "cli", "-o", "-1", "-e", "-p", "0"}, stdout: []string{"three\n"}},
		{args: []string{"consume", "cli", "-o", "1", "-n", "1", "-p", "0", "-f", "json"}, stdout: []string{`"offset":1`, `"key":"b"`, `"value":"two"`}},
		{args: []string{"consume", "cli", "-o", "@0", "-e", "-p", "0", "-f", `%v,`}, stdout: []string{"one,two,three,"}},
		{args: []string{"consume", "cli", "-o", "start", "-n", "2", "-g", "cli-group"}, stdout: []string{"one\ntwo\n"}},
		// -o end (the default) starts after the records already there:
		// with -e it prints nothing and exits 0, every partition being
		// at its end already.
		{args: []string{"consume", "cli", "-o", "end", "-e"}, stdoutRE: `^$`},
		{args: []string{"consume", "cli", "-o", "newest", "-e", "-p", "0", "-f", "json"}, stdoutRE: `^$`},
		{args: []string{"consume", "cli", "-e"}, stdoutRE: `^$`},
		{args: []string{"consume", "cli", "-o", "bogus"}, code: 2, stderr: []string{`--offset "bogus"`, "want start, end, N, -N or @TIME"}},
		{args: []string{"consume", "cli", "-o", "@yesterday"}, code: 2, stderr: []string{`--offset "@yesterday"`, "RFC 3339"}},
		{args: []string{"consume", "cli", "-o", "@-5"}, code: 2, stderr: []string{`--offset "@-5"`, "unix ms"}},
		{args: []string{"consume", "cli", "-o", ""}, code: 2, stderr: []string{`--offset ""`}},
		{args: []string{"consume", "cli", "-o", "end+1"}, code: 2, stderr: []string{`--offset "end+1"`}},
		{args: []string{"consume", "missing", "-e", "--timeout", "5s"}, code: 1, stderr: []string{"UNKNOWN_TOPIC_OR_PARTITION"}},
		{args: []string{"consume", "cli", "-f", "%q"}, code: 2, stderr: []string{"unknown verb"}},
		{args: []string{"group", "list"}, stdout: []string{"cli-group"}},
		{args: []string{"group", "describe", "cli-group"}, stdout: []string{"TOTAL-LAG    1", "cli    0          2"}},
		{args: []string{"group", "describe", "nobody"}, code: 1, stderr: []string{"GROUP_ID_NOT_FOUND"}},
		{args: []string{"group", "seek", "cli-group", "--to", "end"}, stdout: []string{"cli    0          3"}},
		{args: []string{"group", "describe", "cli-group"}, stdout: []string{"TOTAL-LAG    0"}},
		{args: []string{"group", "seek", "cli-group", "--to", "sideways"}, code: 2, stderr: []string{"--to"}},
		{args: []string{"group", "seek", "cli-group"}, code: 2, stderr: []string{"--to is required"}},
		{args: []string{"group", "delete", "cli-group"}, stdout: []string{"deleted cli-group"}},
		{args: []string{"group", "delete", "cli-group"}, code: 1, stderr: []string{"GROUP_ID_NOT_FOUND"}},
		// -o end -n 1 waits for a new record: it prints the first one
		// produced after it started (offset 3 or later, never one of the
		// three already there) and exits.
		{args: []string{"consume", "cli", "-o", "end", "-n", "1", "-p", "0", "-f", `%o %v\n`},
			while: []string{"produce", "cli", "-p", "0"}, stdoutRE: `^([3-9]|[1-9][0-9]+) fresh\n$`},
		{args: []string{"cluster", "info"}, stdout: []string{"CONTROLLER  1", "(controller)"}},
		{args: []string{"cluster", "config"}, stdout: []string{"num.partitions", "DEFAULT_CONFIG"}},
		{args: []string{"topic", "delete", "cli"}, stdout: []string{"deleted cli"}},
		{args: []string{"topic", "delete", "cli"}, code: 1, stderr: []string{"UNKNOWN_TOPIC_OR_PARTITION"}},
		{args: []string{"topic", "frobnicate"}, code: 2, stderr: []string{`unknown command "topic frobnicate"`}},
		{args: []string{"topic", "create"}, code: 2, stderr: []string{"missing topic name"}},
		{args: []string{"topic", "create", "x", "--no-such-flag"}, code: 2, stderr: []string{"no-such-flag"}},
		{args: []string{"topic", "list", "-b", "127.0.0.1:1", "--timeout", "2s"}, code: 1, stderr: []string{"samsa: topic list:"}},
	}
	for _, st := range steps {
		var meanwhile func()
		if st.while != nil {
			meanwhile = func() {
				if _, errOut, code := samsaCLI(t, s, "fresh\n", st.while...); code != 0 {
					t.Errorf("samsa %s: exit %d\n%s", strings.Join(st.while, " "), code, errOut)
				}
			}
		}
		out, errOut, code := samsaCLIWhile(t, s, st.stdin, meanwhile, st.args...)
		ok := code == st.code
		if st.stdoutRE != "" {
			ok = ok && regexp.MustCompile(st.stdoutRE).MatchString(out)
		}
		for _, want := range st.stdout {
			ok = ok && strings.Contains(out, want)
		}
		for _, want := range st.stderr {
			ok = ok && strings.Contains(errOut, want)
		}
		if !ok {
			t.Errorf("samsa %s: exit %d, want %d\nstdout: %s\nstderr: %s\nwant stdout to contain %q (and match %q) and stderr %q",
				strings.Join(st.args, " "), code, st.code, out, errOut, st.stdout, st.stdoutRE, st.stderr)
		}
	}

	// --help on every command: exit 0 with its usage on stdout.
	for _, cmd := range [][]string{{"topic", "create"}, {"topic", "list"}, {"topic", "describe"}, {"topic", "delete"},
		{"topic", "alter-config"}, {"topic", "add-partitions"}, {"produce"}, {"consume"}, {"group", "list"},
		{"group", "describe"}, {"group", "seek"}, {"group", "delete"}, {"cluster", "info"}, {"cluster", "config"}} {
		out, _, code := samsaCLI(t, s, "", append(cmd, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:\n  samsa "+strings.Join(cmd, " ")) || !strings.Contains(out, "--brokers") {
			t.Errorf("samsa %s --help: exit %d\n%s", strings.Join(cmd, " "), code, out)
		}
	}
	for _, word := range []string{"topic", "group", "cluster"} {
		if out, _, code := samsaCLI(t, s, "", word); code != 0 || !strings.Contains(out, "samsa "+word+" ") {
			t.Errorf("samsa %s: exit %d\n%s", word, code, out)
		}
	}
	if out, _, _ := samsaCLI(t, s, "", "topic", "list"); strings.Contains(out, "cli ") {
		t.Errorf("deleted topic still listed: %s", out)
	}
}
