package difftest

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The accepted-differences list (accepted.txt). One entry per line:
//
//	API  VERSIONS  SCENARIO  PATH  [kafka=GLOB] [samsa=GLOB]  reason...
//
// API is an API name as kmsg spells it (Metadata, ApiVersions) or *;
// VERSIONS is *, N, N-M, N- or -M; SCENARIO and PATH are globs in which *
// matches any run of characters (and nothing else is special, so the
// brackets of a path are literal). The optional kafka= and samsa= globs
// narrow the entry to differences with such values (kafka=<unset>
// samsa=<set>: samsa fills in a message Kafka leaves null). The rest of
// the line is the reason and must not be empty. Lines starting with # are comments; a comment line
// "# section: NAME" starts a section (entries keep the section they are in,
// so that the report can count the pending samsa bugs apart from the
// accepted differences).

// Entry is one line of the list.
type Entry struct {
	Line     int
	Section  string
	API      string
	MinV     int16
	MaxV     int16
	Scenario string
	Path     string
	Kafka    string // value glob, "*" if not given
	Samsa    string
	Reason   string

	hits int
}

// Accepted is a parsed list.
type Accepted struct {
	Entries []*Entry
}

// ParseAccepted reads a list; every malformed line is an error.
func ParseAccepted(r io.Reader) (*Accepted, error) {
	a := &Accepted{}
	sc := bufio.NewScanner(r)
	section := ""
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		if strings.HasPrefix(text, "#") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(text, "#")), "section:"); ok {
				section = strings.TrimSpace(name)
			}
			continue
		}
		f := strings.Fields(text)
		if len(f) < 5 {
			return nil, fmt.Errorf("accepted list line %d: want API VERSIONS SCENARIO PATH REASON, got %q", line, text)
		}
		minV, maxV, err := parseVersions(f[1])
		if err != nil {
			return nil, fmt.Errorf("accepted list line %d: %w", line, err)
		}
		e := &Entry{Line: line, Section: section, API: f[0], MinV: minV, MaxV: maxV,
			Scenario: f[2], Path: f[3], Kafka: "*", Samsa: "*"}
		rest := f[4:]
		for len(rest) > 0 {
			if v, ok := strings.CutPrefix(rest[0], "kafka="); ok {
				e.Kafka = v
			} else if v, ok := strings.CutPrefix(rest[0], "samsa="); ok {
				e.Samsa = v
			} else {
				break
			}
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return nil, fmt.Errorf("accepted list line %d: no reason given", line)
		}
		e.Reason = strings.Join(rest, " ")
		a.Entries = append(a.Entries, e)
	}
	return a, sc.Err()
}

func parseVersions(s string) (int16, int16, error) {
	if s == "*" {
		return math.MinInt16, math.MaxInt16, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		v, err := strconv.ParseInt(s, 10, 16)
		if err != nil {
			return 0, 0, fmt.Errorf("bad version %q", s)
		}
		return int16(v), int16(v), nil
	}
	minV, maxV := int64(math.MinInt16), int64(math.MaxInt16)
	var err error
	if lo != "" {
		if minV, err = strconv.ParseInt(lo, 10, 16); err != nil {
			return 0, 0, fmt.Errorf("bad version range %q", s)
		}
	}
	if hi != "" {
		if maxV, err = strconv.ParseInt(hi, 10, 16); err != nil {
			return 0, 0, fmt.Errorf("bad version range %q", s)
		}
	}
	if minV > maxV {
		return 0, 0, fmt.Errorf("empty version range %q", s)
	}
	return int16(minV), int16(maxV), nil
}

// Match returns the first entry that covers d (and counts the hit), or nil.
func (a *Accepted) Match(d Diff) *Entry {
	for _, e := range a.Entries {
		if e.matches(d) {
			e.hits++
			return e
		}
	}
	return nil
}

func (e *Entry) matches(d Diff) bool {
	if e.API != "*" && !strings.EqualFold(e.API, d.API) {
		return false
	}
	if d.Version < e.MinV || d.Version > e.MaxV {
		return false
	}
	path := d.Path
	if path == "" {
		path = "<response>"
	}
	return glob(e.Scenario, d.Scenario) && glob(e.Path, path) && glob(e.Kafka, d.Kafka) && glob(e.Samsa, d.Samsa)
}

// Unused returns the entries that matched nothing in this run.
func (a *Accepted) Unused() []*Entry {
	var out []*Entry
	for _, e := range a.Entries {
		if e.hits == 0 {
			out = append(out, e)
		}
	}
	return out
}

func (e *Entry) String() string {
	vals := ""
	if e.Kafka != "*" || e.Samsa != "*" {
		vals = fmt.Sprintf(" kafka=%s samsa=%s", e.Kafka, e.Samsa)
	}
	return fmt.Sprintf("line %d [%s]: %s %s %s %s%s (%s)", e.Line, e.Section, e.API, versionsString(e.MinV, e.MaxV), e.Scenario, e.Path, vals, e.Reason)
}

func versionsString(lo, hi int16) string {
	switch {
	case lo == math.MinInt16 && hi == math.MaxInt16:
		return "*"
	case lo == hi:
		return strconv.Itoa(int(lo))
	case lo == math.MinInt16:
		return fmt.Sprintf("-%d", hi)
	case hi == math.MaxInt16:
		return fmt.Sprintf("%d-", lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// glob matches s against pattern, where * matches any run of characters.
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}
