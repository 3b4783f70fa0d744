package difftest

import (
	"fmt"
	"strings"
)

// Diff is one field that differs after normalization.
type Diff struct {
	API      string // the request's API name (kmsg.NameForKey)
	Version  int16
	Scenario string // scenario[/step]
	Path     string // the field's path in the response, "" for the whole response
	Kafka    string // the value Kafka sent, absent if it had no such field
	Samsa    string
}

const absent = "<absent>"

func (d Diff) String() string {
	path := d.Path
	if path == "" {
		path = "<response>"
	}
	return fmt.Sprintf("%s v%d %s %s: kafka=%s samsa=%s", d.API, d.Version, d.Scenario, path, d.Kafka, d.Samsa)
}

// compareFields returns the differing leaves of two flattened responses:
// fields in Kafka's order, then the ones only samsa has. An array element
// present on one side only is one difference: the fields under it are not
// reported again. Likewise, where the two answers disagree on an error
// code, the other fields beside it and under it are not compared: what
// they hold depends on the error (an error answer carries -1s and empty
// lists where a success carries data), so the error code is the one
// difference.
func compareFields(kafka, samsa []Field) (paths []string, kv, sv []string) {
	paths, kv, sv = compareLeaves(kafka, samsa)
	var scopes []string // parents of a differing ErrorCode
	for i, p := range paths {
		if p == "ErrorCode" {
			scopes = append(scopes, "")
		} else if parent, ok := strings.CutSuffix(p, ".ErrorCode"); ok && kv[i] != absent && sv[i] != absent {
			scopes = append(scopes, parent)
		}
	}
	if len(scopes) == 0 {
		return paths, kv, sv
	}
	inScope := func(p string) bool {
		for _, s := range scopes {
			if s == "" || strings.HasPrefix(p, s) && len(p) > len(s) && (p[len(s)] == '.' || p[len(s)] == '[') {
				return true
			}
		}
		return false
	}
	var op, okv, osv []string
	for i, p := range paths {
		if strings.HasSuffix(p, "ErrorCode") && (p == "ErrorCode" || strings.HasSuffix(p, ".ErrorCode")) {
			// Keep error codes, unless one is under an outer error scope.
			outer := false
			for _, s := range scopes {
				parent := strings.TrimSuffix(strings.TrimSuffix(p, "ErrorCode"), ".")
				if s != parent && (s == "" || strings.HasPrefix(parent, s) && len(parent) > len(s) && (parent[len(s)] == '.' || parent[len(s)] == '[')) {
					outer = true
				}
			}
			if !outer {
				op, okv, osv = append(op, p), append(okv, kv[i]), append(osv, sv[i])
			}
			continue
		}
		if inScope(p) {
			continue
		}
		op, okv, osv = append(op, p), append(okv, kv[i]), append(osv, sv[i])
	}
	return op, okv, osv
}

func compareLeaves(kafka, samsa []Field) (paths []string, kv, sv []string) {
	km := make(map[string]string, len(kafka))
	for _, f := range kafka {
		km[f.Path] = f.Value
	}
	sm := make(map[string]string, len(samsa))
	for _, f := range samsa {
		sm[f.Path] = f.Value
	}
	var missing []string // element paths present on one side only
	covered := func(p string) bool {
		for _, m := range missing {
			if strings.HasPrefix(p, m) && len(p) > len(m) && (p[len(m)] == '.' || p[len(m)] == '[') {
				return true
			}
		}
		return false
	}
	add := func(p, k, s string) {
		if covered(p) {
			return
		}
		if k == "present" && s == absent || s == "present" && k == absent {
			missing = append(missing, p)
		}
		paths, kv, sv = append(paths, p), append(kv, k), append(sv, s)
	}
	for _, f := range kafka {
		s, ok := sm[f.Path]
		if !ok {
			add(f.Path, f.Value, absent)
		} else if s != f.Value {
			add(f.Path, f.Value, s)
		}
	}
	for _, f := range samsa {
		if _, ok := km[f.Path]; !ok {
			add(f.Path, absent, f.Value)
		}
	}
	return paths, kv, sv
}
