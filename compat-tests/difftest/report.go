package difftest

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Verdict is the differences of a run sorted against the accepted list.
type Verdict struct {
	// Unaccepted are the differences no entry covers: each fails the test.
	Unaccepted []Diff
	// BySection counts the covered differences per section of the list.
	BySection map[string]int
	// ByEntry are the covered differences per entry.
	ByEntry map[*Entry][]Diff
}

// Judge matches every difference against the list.
func Judge(diffs []Diff, acc *Accepted) *Verdict {
	v := &Verdict{BySection: map[string]int{}, ByEntry: map[*Entry][]Diff{}}
	for _, d := range diffs {
		e := acc.Match(d)
		if e == nil {
			v.Unaccepted = append(v.Unaccepted, d)
			continue
		}
		v.BySection[e.Section]++
		v.ByEntry[e] = append(v.ByEntry[e], d)
	}
	return v
}

// Suggest renders an unaccepted difference as a line for the list (with
// the reason left to fill in).
func Suggest(d Diff) string {
	path := d.Path
	if path == "" {
		path = "<response>"
	}
	return fmt.Sprintf("%s %d %s %s TODO: reason", d.API, d.Version, d.Scenario, path)
}

// WriteReport writes a human summary: figures, then the entries that
// matched with a count and one example each, the unaccepted differences
// and the unused entries.
func WriteReport(w io.Writer, title string, res *Result, acc *Accepted, v *Verdict, checkUnused bool) {
	fmt.Fprintf(w, "== %s\n", title)
	if res != nil {
		fmt.Fprintf(w, "scenarios: %d (%d scenario x version runs, %d requests compared) in %v\n",
			len(res.Scenarios), res.Runs, res.Checks, res.Took.Round(100_000_000))
		fmt.Fprintf(w, "API versions compared: %d over %d APIs: %s\n", len(res.Versions), len(res.PerAPI), res.VersionsSummary())
		var skipped []string
		for name, why := range res.Skipped {
			skipped = append(skipped, name+" ("+why+")")
		}
		sort.Strings(skipped)
		if len(skipped) > 0 {
			fmt.Fprintf(w, "not run: %s\n", strings.Join(skipped, "; "))
		}
		for _, f := range res.Failures {
			fmt.Fprintf(w, "SET-UP FAILURE: %s\n", f)
		}
		fmt.Fprintf(w, "differences: %d", len(res.Diffs))
	}
	var sections []string
	for s := range v.BySection {
		sections = append(sections, s)
	}
	sort.Strings(sections)
	for _, s := range sections {
		fmt.Fprintf(w, ", %d %s", v.BySection[s], s)
	}
	fmt.Fprintf(w, ", %d not on the list\n", len(v.Unaccepted))
	entries := make([]*Entry, 0, len(v.ByEntry))
	for e := range v.ByEntry {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Line < entries[j].Line })
	for _, e := range entries {
		ds := v.ByEntry[e]
		fmt.Fprintf(w, "  [%s] line %d x%d: %s -- e.g. %s\n", e.Section, e.Line, len(ds), e.Reason, ds[0])
	}
	if len(v.Unaccepted) > 0 {
		fmt.Fprintf(w, "NOT ON THE LIST (each fails the test):\n")
		for _, d := range v.Unaccepted {
			fmt.Fprintf(w, "  %s\n", d)
		}
	}
	if checkUnused {
		if unused := acc.Unused(); len(unused) > 0 {
			fmt.Fprintf(w, "entries that matched nothing (remove them once the fix is in):\n")
			for _, e := range unused {
				fmt.Fprintf(w, "  %s\n", e)
			}
		}
	}
}
