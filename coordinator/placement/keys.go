package placement

import (
	"fmt"
	"net/url"
	"strings"
)

// EscapeID makes the id of a placed entity (a group id, a transactional
// id) one etcd key segment: '%', '/' and control bytes are %XX-escaped,
// and the empty id is "%".
func EscapeID(s string) string {
	if s == "" {
		return "%"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch == '%' || ch == '/' || ch < 0x20 || ch == 0x7f {
			fmt.Fprintf(&b, "%%%02X", ch)
		} else {
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// UnescapeID is EscapeID's inverse.
func UnescapeID(s string) (string, error) {
	if s == "%" {
		return "", nil
	}
	return url.PathUnescape(s)
}
