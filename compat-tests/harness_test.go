package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// listeningMsg is the message of the one log line samsa writes once it
// accepts requests; the line carries the field "addr" (host:port).
const listeningMsg = "samsa is listening"

const (
	startTimeout   = 30 * time.Second // process start -> listening line
	stopTimeout    = 10 * time.Second // SIGTERM -> exit
	logTailOnFail  = 200              // log lines printed when a test fails
	maxLinesPerRun = 200_000          // lines kept in memory per run
)

// The binary is built once per `go test` run into buildDir.
var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	printMatrix(os.Stdout)
	// go test shows a passing package's output only with -v, so the matrix
	// also goes to a file that `make compat` prints after every run.
	if path := os.Getenv("COMPAT_MATRIX_FILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			printMatrix(f)
			f.Close()
		}
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// repoRoot is the samsa module's root: the parent of compat-tests.
func repoRoot() (string, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("reading the root go.mod: %w", err)
	}
	if !bytes.Contains(mod, []byte("module github.com/samsa-io/samsa\n")) {
		return "", fmt.Errorf("%s is not the samsa module root", root)
	}
	return root, nil
}

// samsaBinary builds cmd/samsa once per test binary run and returns its
// path; $SAMSA_BIN, if set, names a binary to use instead.
func samsaBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if bin := os.Getenv("SAMSA_BIN"); bin != "" {
			buildBin, buildErr = filepath.Abs(bin)
			fmt.Fprintf(os.Stderr, "compat: using SAMSA_BIN=%s\n", buildBin)
			return
		}
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, err = os.MkdirTemp("", "samsa-compat-bin-")
		if err != nil {
			buildErr = err
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		buildBin = filepath.Join(buildDir, "samsa")
		cmd := exec.Command(goTool, "build", "-o", buildBin, "./cmd/samsa")
		cmd.Dir = root
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/samsa: %w\n%s", err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "compat: built %s in %v\n", buildBin, time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatalf("building samsa: %v", buildErr)
	}
	return buildBin
}

// handedOut holds every port freePort, freePorts and the fixed-range helper
// have returned in this test binary. A port is closed again before the test
// uses it, so the kernel may offer the same one twice (as it did to the
// security matrix: an admin listener on the PLAINTEXT listener's port); no
// port is handed out a second time.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// claimPort records port as handed out; false if it already was.
func claimPort(port int) bool {
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	if handedOut.ports[port] {
		return false
	}
	handedOut.ports[port] = true
	return true
}

// freePort asks the kernel for a free loopback TCP port that no other call in
// this test binary has been given.
func freePort(t testing.TB) int {
	t.Helper()
	return freePorts(t, 1)[0]
}

// Samsa is one samsa broker process under test. Its data dir and port stay
// the same across restarts.
type Samsa struct {
	t       testing.TB
	Bin     string
	DataDir string
	LogPath string
	Port    int
	Addr    string // 127.0.0.1:Port, what clients dial
	// AdminAddr is the admin listener (metrics, console): 127.0.0.1 on a
	// port of its own, so brokers started side by side do not collide.
	AdminAddr string
	Args      []string // extra arguments appended to every start
	// Listeners, when set, is the --listeners value (it must bind Addr
	// first); default PLAINTEXT://Addr.
	Listeners string
	// DefaultRebalanceDelay keeps samsa's group.initial.rebalance.delay.ms
	// (Kafka's 3 s); otherwise every start sets it to 0, so that the
	// suites' groups rebalance at once (Args may still set it).
	DefaultRebalanceDelay bool

	// StartupTime is, for the last start, the time from exec to the
	// listening line.
	StartupTime time.Duration

	mu      sync.Mutex // guards the fields below
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	waitErr error         // cmd.Wait's result, valid once exited is closed
	runs    int
	lines   []string // log lines of the current run
	logFile *os.File
}

// StartSamsa starts samsa on a free 127.0.0.1 port with a fresh temp data
// dir and waits until it accepts requests. The process is killed when the
// test ends; if the test failed, the tail of its log is printed.
func StartSamsa(t testing.TB, extraArgs ...string) *Samsa {
	t.Helper()
	return startSamsa(t, false, extraArgs...)
}

// StartSamsaDefaults is StartSamsa keeping group.initial.rebalance.delay.ms
// at samsa's default.
func StartSamsaDefaults(t testing.TB, extraArgs ...string) *Samsa {
	t.Helper()
	return startSamsa(t, true, extraArgs...)
}

func startSamsa(t testing.TB, defaultDelay bool, extraArgs ...string) *Samsa {
	t.Helper()
	if addr := os.Getenv(externalBrokerEnv); addr != "" {
		return externalSamsa(t, addr)
	}
	s := newSamsa(t, t.TempDir(), freePort(t), "", extraArgs)
	s.DefaultRebalanceDelay = defaultDelay
	s.Start()
	return s
}

// newSamsa prepares a broker process with its data and log in dir, client
// port port and --listeners listeners ("" for PLAINTEXT on the port),
// without starting it. The process is killed when the test ends; if the
// test failed, the tail of its log is printed.
func newSamsa(t testing.TB, dir string, port int, listeners string, extraArgs []string) *Samsa {
	t.Helper()
	s := &Samsa{
		t:         t,
		Bin:       samsaBinary(t),
		DataDir:   filepath.Join(dir, "data"),
		LogPath:   filepath.Join(dir, "samsa.log"),
		Port:      port,
		Args:      extraArgs,
		Listeners: listeners,
	}
	s.Addr = net.JoinHostPort("127.0.0.1", fmt.Sprint(s.Port))
	s.AdminAddr = net.JoinHostPort("127.0.0.1", fmt.Sprint(freePort(t)))
	f, err := os.Create(s.LogPath)
	if err != nil {
		t.Fatalf("creating log file: %v", err)
	}
	s.logFile = f
	t.Cleanup(func() {
		if s.Running() {
			s.kill()
		}
		if t.Failed() {
			s.dumpLogTail()
		}
		s.mu.Lock()
		s.logFile.Close()
		s.mu.Unlock()
	})
	return s
}

// Running reports whether the process is still alive (not yet reaped).
func (s *Samsa) Running() bool {
	s.mu.Lock()
	exited := s.exited
	s.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// Start starts the binary (again) and waits for the listening line and for
// the port to accept connections. It fails the test if samsa does not come
// up within startTimeout.
func (s *Samsa) Start() {
	s.t.Helper()
	if refused, code := s.start(); refused {
		s.t.Fatalf("samsa exited before %q: exit status %d (log: %s)", listeningMsg, code, s.LogPath)
	}
}

// StartRefused starts the binary (again) and expects it to refuse: to exit
// before it listens. It returns the exit code, and fails the test if samsa
// comes up instead (it is then stopped).
func (s *Samsa) StartRefused() int {
	s.t.Helper()
	refused, code := s.start()
	if !refused {
		s.Stop(0)
		s.t.Fatalf("samsa started, but it should have refused to")
	}
	return code
}

// start is Start; refused reports that the process exited before
// listening, with its exit code.
func (s *Samsa) start() (refused bool, code int) {
	s.t.Helper()
	if s.Running() {
		s.t.Fatalf("samsa: Start while already running")
	}
	listeners := s.Listeners
	if listeners == "" {
		listeners = "PLAINTEXT://" + s.Addr
	}
	args := []string{
		"--listeners", listeners,
		"--data-dir", s.DataDir,
		"--log-format", "json",
		"--admin-listener", s.AdminAddr,
	}
	if !s.DefaultRebalanceDelay {
		args = append(args, "--override", "group.initial.rebalance.delay.ms=0")
	}
	args = append(args, s.Args...)

	ready := make(chan string, 1)
	w := &lineWriter{onLine: s.onLine(ready)}
	cmd := exec.Command(s.Bin, args...)
	cmd.Stdout = w
	cmd.Stderr = w
	// Own process group: a signal to the test binary's group does not hit
	// samsa, and samsa's signals are only the ones we send.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	s.mu.Lock()
	s.runs++
	s.lines = nil
	fmt.Fprintf(s.logFile, "=== harness: start #%d: %s %s\n", s.runs, s.Bin, strings.Join(args, " "))
	s.mu.Unlock()

	begin := time.Now()
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("samsa: exec: %v", err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd = cmd
	s.exited = exited
	s.waitErr = nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		w.flush()
		s.mu.Lock()
		s.waitErr = err
		fmt.Fprintf(s.logFile, "=== harness: process exited: %v\n", exitString(cmd.ProcessState, err))
		s.mu.Unlock()
		close(exited)
	}()

	var logged string
	select {
	case logged = <-ready:
		s.StartupTime = time.Since(begin)
	case <-exited:
		return true, cmd.ProcessState.ExitCode()
	case <-time.After(startTimeout):
		s.kill()
		s.t.Fatalf("samsa did not log %q within %v (log: %s)", listeningMsg, startTimeout, s.LogPath)
	}
	if logged != "" && logged != s.Addr {
		s.t.Logf("samsa: listening line says addr=%q, expected %q", logged, s.Addr)
	}
	// The line says it listens; check that the port really answers.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			s.kill()
			s.t.Fatalf("samsa logged %q but %s does not accept connections: %v", listeningMsg, s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.waitAdminAttached()
	return false, 0
}

// waitAdminAttached waits (up to 10 s) until the admin listener serves the
// broker: samsa attaches it just after the listening line, and until then
// /metrics answers 503 "the broker is starting". A test that reads
// /metrics right after Start must not see that.
func (s *Samsa) waitAdminAttached() {
	if s.AdminAddr == "" {
		return
	}
	hc := &http.Client{Timeout: time.Second}
	begin := time.Now()
	deadline := begin.Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := hc.Get("http://" + s.AdminAddr + "/metrics")
		if err != nil && time.Since(begin) > time.Second {
			return // no admin listener there (a test turned it off)
		}
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				return
			}
		}
		if !s.Running() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *Samsa) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitErr
}

// onLine returns the per-line callback of one run: it writes the line to
// the log file, keeps it in memory and signals ready on the listening line.
func (s *Samsa) onLine(ready chan<- string) func(string) {
	signalled := false
	return func(line string) {
		s.mu.Lock()
		fmt.Fprintln(s.logFile, line)
		if len(s.lines) < maxLinesPerRun {
			s.lines = append(s.lines, line)
		}
		s.mu.Unlock()
		if signalled {
			return
		}
		if addr, ok := parseListening(line); ok {
			signalled = true
			ready <- addr
		}
	}
}

// parseListening recognises the listening line in JSON (zerolog's "message"
// key, or "msg") and, as a fallback, in console format.
func parseListening(line string) (addr string, ok bool) {
	if !strings.Contains(line, listeningMsg) {
		return "", false
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return "", true // console format: no addr to compare
	}
	msg, _ := m["message"].(string)
	if msg == "" {
		msg, _ = m["msg"].(string)
	}
	if msg != listeningMsg {
		return "", false
	}
	addr, _ = m["addr"].(string)
	return addr, true
}

// Lines returns the log lines of the current (or last) run.
func (s *Samsa) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func (s *Samsa) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		s.t.Errorf("samsa (pid %d) still not reaped 10s after SIGKILL", cmd.Process.Pid)
	}
}

// Kill9 sends SIGKILL and waits until the process is gone.
func (s *Samsa) Kill9() {
	s.t.Helper()
	if !s.Running() {
		s.t.Fatalf("samsa: Kill9 while not running (%v)", s.exitErr())
	}
	s.mu.Lock()
	fmt.Fprintf(s.logFile, "=== harness: sending SIGKILL\n")
	s.mu.Unlock()
	s.kill()
}

// Stop sends SIGTERM and waits up to timeout (stopTimeout if zero) for the
// process to exit. It returns how long the exit took and an error unless
// the process exited with status 0 in time (it is SIGKILLed then).
func (s *Samsa) Stop(timeout time.Duration) (time.Duration, error) {
	if timeout <= 0 {
		timeout = stopTimeout
	}
	if !s.Running() {
		return 0, fmt.Errorf("samsa: Stop while not running (%v)", s.exitErr())
	}
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	fmt.Fprintf(s.logFile, "=== harness: sent SIGTERM\n")
	s.mu.Unlock()
	begin := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, fmt.Errorf("samsa: SIGTERM: %w", err)
	}
	select {
	case <-exited:
	case <-time.After(timeout):
		s.kill()
		return time.Since(begin), fmt.Errorf("samsa did not exit within %v of SIGTERM (killed)", timeout)
	}
	took := time.Since(begin)
	if err := s.exitErr(); err != nil {
		return took, fmt.Errorf("samsa exited uncleanly after SIGTERM: %s", exitString(cmd.ProcessState, err))
	}
	return took, nil
}

// Restart starts samsa again on the same data dir and port. If it is still
// running it is stopped with SIGTERM first (and that must succeed).
func (s *Samsa) Restart() {
	s.t.Helper()
	if s.Running() {
		if _, err := s.Stop(0); err != nil {
			s.t.Fatalf("restart: %v", err)
		}
	}
	s.Start()
}

func (s *Samsa) dumpLogTail() {
	s.mu.Lock()
	s.logFile.Sync()
	s.mu.Unlock()
	data, err := os.ReadFile(s.LogPath)
	if err != nil {
		s.t.Logf("samsa log %s: %v", s.LogPath, err)
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	from := 0
	if len(lines) > logTailOnFail {
		from = len(lines) - logTailOnFail
	}
	s.t.Logf("last %d of %d lines of samsa's log (%s):\n%s", len(lines)-from, len(lines), s.LogPath, strings.Join(lines[from:], "\n"))
}

func exitString(ps *os.ProcessState, err error) string {
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
		}
		return fmt.Sprintf("exit status %d", ps.ExitCode())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.Error()
	}
	if err != nil {
		return err.Error()
	}
	return "running"
}

// lineWriter splits a process's output into lines for a callback. It is
// used as both Stdout and Stderr (one pipe, so one writer goroutine).
type lineWriter struct {
	mu     sync.Mutex
	buf    []byte
	onLine func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
		w.onLine(line)
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.onLine(string(w.buf))
		w.buf = nil
	}
}

// logLinesMatching returns the lines whose JSON message (or, for non-JSON
// lines, whole text) contains sub, case-insensitively.
func logLinesMatching(lines []string, sub string) []string {
	sub = strings.ToLower(sub)
	var out []string
	for _, line := range lines {
		text := line
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			msg, _ := m["message"].(string)
			if msg == "" {
				msg, _ = m["msg"].(string)
			}
			text = msg
		}
		if strings.Contains(strings.ToLower(text), sub) {
			out = append(out, line)
		}
	}
	return out
}
