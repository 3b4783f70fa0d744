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
// reported again.
func compareFields(kafka, samsa []Field) (paths []string, kv, sv []string) {
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
