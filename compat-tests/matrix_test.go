package compat

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
)

// The compat matrix: every client ecosystem records one cell per scenario
// it ran; TestMain prints the whole matrix (client x scenario, pass or fail
// with the first error) at the end of every run.

// cell is one client x scenario result.
type cell struct {
	Client   string `json:"client"`
	Scenario string `json:"scenario"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
}

var (
	matrixMu sync.Mutex
	matrix   = map[[2]string]cell{} // guarded by matrixMu; key {client, scenario}
)

// record adds one cell; err == nil is a pass. The first failure of a cell
// wins over later results for the same cell.
func record(client, scenario string, err error) {
	c := cell{Client: client, Scenario: scenario, OK: err == nil}
	if err != nil {
		c.Error = err.Error()
	}
	recordCell(c)
}

func recordCell(c cell) {
	matrixMu.Lock()
	defer matrixMu.Unlock()
	k := [2]string{c.Client, c.Scenario}
	if old, ok := matrix[k]; ok && !old.OK {
		return
	}
	matrix[k] = c
}

// recordJSONL reads cells written by a non-Go suite (Java, Python, Node),
// one JSON object per line: {"client":..,"scenario":..,"ok":..,"error":..}.
func recordJSONL(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var c cell
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return fmt.Errorf("%s: bad result line %q: %w", path, line, err)
		}
		recordCell(c)
	}
	return sc.Err()
}

// printMatrix writes the matrix as a markdown table, clients as rows and
// scenarios as columns, then the first error of every failed cell.
func printMatrix(w io.Writer) {
	matrixMu.Lock()
	defer matrixMu.Unlock()
	if len(matrix) == 0 {
		return
	}
	clientSet, scenarioSet := map[string]bool{}, map[string]bool{}
	for k := range matrix {
		clientSet[k[0]], scenarioSet[k[1]] = true, true
	}
	clients, scenarios := sortedKeys(clientSet), sortedKeys(scenarioSet)
	pass, fail := 0, 0
	fmt.Fprintf(w, "\n## compat matrix\n\n| client |")
	for _, s := range scenarios {
		fmt.Fprintf(w, " %s |", s)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(scenarios)))
	var failures []string
	for _, c := range clients {
		fmt.Fprintf(w, "| %s |", c)
		for _, s := range scenarios {
			r, ok := matrix[[2]string{c, s}]
			switch {
			case !ok:
				fmt.Fprint(w, " – |")
			case r.OK:
				pass++
				fmt.Fprint(w, " pass |")
			default:
				fail++
				fmt.Fprint(w, " FAIL |")
				failures = append(failures, fmt.Sprintf("- %s / %s: %s", c, s, firstLine(r.Error)))
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n%d cells passed, %d failed\n", pass, fail)
	for _, f := range failures {
		fmt.Fprintln(w, f)
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
