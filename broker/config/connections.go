package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParseConnectionOverrides parses max.connections.per.ip.overrides, Kafka's
// "host:count,host:count" list, into a map from host to count. A host is an
// IP address, keyed in its canonical form (IPv4-mapped IPv6 addresses as
// IPv4), or a host name, keyed in lower case, which the broker resolves at
// start-up. The count follows the last colon, so an IPv6 address needs no
// brackets (but may have them).
func ParseConnectionOverrides(v string) (map[string]int32, error) {
	out := make(map[string]int32)
	for _, entry := range splitList(v) {
		i := strings.LastIndexByte(entry, ':')
		if i <= 0 || i == len(entry)-1 {
			return nil, fmt.Errorf("entry %q: want host:count", entry)
		}
		host := strings.TrimSpace(entry[:i])
		n, err := strconv.ParseInt(strings.TrimSpace(entry[i+1:]), 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("entry %q: the count must be a number from 0 to %d", entry, int32(^uint32(0)>>1))
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if host == "" || strings.ContainsAny(host, " \t/") {
			return nil, fmt.Errorf("entry %q: %q is not a host name or an IP address", entry, host)
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			host = ip.Unmap().WithZone("").String()
		} else {
			host = strings.ToLower(host)
		}
		if _, dup := out[host]; dup {
			return nil, fmt.Errorf("entry %q: %s is listed twice", entry, host)
		}
		out[host] = int32(n)
	}
	return out, nil
}
