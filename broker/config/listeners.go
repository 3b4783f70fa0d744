package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// hostname names this host in advertised listeners derived from a listener
// with an empty host, as Kafka does; a variable for tests.
var hostname = os.Hostname

// ParseListeners parses a listeners / advertised.listeners value:
// comma-separated NAME://host:port entries, IPv6 hosts in brackets, an empty
// host meaning every interface. Names are upper-cased (Kafka normalises
// listener names) and must be unique. It checks syntax only; security
// protocols are checked by NewBroker.
func ParseListeners(s string) ([]Listener, error) {
	var out []Listener
	seen := make(map[string]bool)
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		l, err := parseListener(raw)
		if err != nil {
			return nil, err
		}
		if seen[l.Name] {
			return nil, fmt.Errorf("each listener must have a different name; %s appears twice", l.Name)
		}
		seen[l.Name] = true
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no listener given; expected NAME://host:port[,...]")
	}
	return out, nil
}

func parseListener(raw string) (Listener, error) {
	bad := func(why string) (Listener, error) {
		return Listener{}, fmt.Errorf("listener %q is not of the form NAME://host:port: %s", raw, why)
	}
	name, addr, ok := strings.Cut(raw, "://")
	if !ok {
		return bad("missing ://")
	}
	if name == "" {
		return bad("missing listener name")
	}
	for _, c := range name {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return bad(fmt.Sprintf("invalid character %q in listener name", c))
		}
	}
	var host, port string
	if strings.HasPrefix(addr, "[") {
		end := strings.Index(addr, "]")
		if end < 0 || !strings.HasPrefix(addr[end+1:], ":") {
			return bad("unterminated IPv6 address")
		}
		host, port = addr[1:end], addr[end+2:]
	} else {
		i := strings.LastIndex(addr, ":")
		if i < 0 {
			return bad("missing port")
		}
		host, port = addr[:i], addr[i+1:]
		if strings.Contains(host, ":") {
			return bad("IPv6 addresses must be in brackets")
		}
	}
	for _, c := range host {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("-%._:", c)) {
			return bad(fmt.Sprintf("invalid character %q in host", c))
		}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return bad(fmt.Sprintf("invalid port %q", port))
	}
	return Listener{Name: strings.ToUpper(name), Host: host, Port: int32(p)}, nil
}

// parseProtocolMap parses listener.security.protocol.map (NAME:PROTOCOL,...).
func parseProtocolMap(s string) (map[string]string, error) {
	m := make(map[string]string)
	for _, kv := range splitList(s) {
		name, proto, ok := strings.Cut(kv, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" {
			return nil, fmt.Errorf("entry %q is not NAME:PROTOCOL", kv)
		}
		switch proto {
		case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
		default:
			return nil, fmt.Errorf("entry %q: unknown security protocol %s (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", kv, proto)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("listener %s is mapped twice", name)
		}
		m[name] = proto
	}
	return m, nil
}

// nonRoutable reports whether host cannot be given to clients.
func nonRoutable(host string) bool {
	return host == "0.0.0.0" || host == "::" || host == "0:0:0:0:0:0:0:0"
}

// deriveListeners fills Listeners, AdvertisedListeners and
// InterBrokerListener from listeners, advertised.listeners,
// listener.security.protocol.map, controller.listener.names and
// inter.broker.listener.name.
func (b *Broker) deriveListeners() error {
	bad := func(key, reason string) error {
		v, _ := b.raw(key)
		return &Error{Key: key, Value: v, Reason: reason}
	}
	protos, err := parseProtocolMap(b.Str("listener.security.protocol.map"))
	if err != nil {
		return bad("listener.security.protocol.map", err.Error())
	}
	// KRaft controller listeners (combined-mode compose files) are not
	// served: samsa has no controller quorum.
	controller := make(map[string]bool)
	for _, n := range splitList(b.ignored["controller.listener.names"]) {
		controller[strings.ToUpper(n)] = true
	}
	dropControllers := func(ls []Listener, key string) []Listener {
		out := ls[:0]
		for _, l := range ls {
			if controller[l.Name] {
				b.warnings = append(b.warnings, fmt.Sprintf("%s: not serving controller listener %s (samsa has no KRaft controller)", key, l))
				continue
			}
			out = append(out, l)
		}
		return out
	}

	ls, err := ParseListeners(b.Str("listeners"))
	if err != nil {
		return bad("listeners", err.Error())
	}
	if ls = dropControllers(ls, "listeners"); len(ls) == 0 {
		return bad("listeners", "every listener is a controller listener (controller.listener.names); samsa needs a broker listener")
	}
	var errs []error
	ports := make(map[string]string) // host:port -> listener name
	for _, l := range ls {
		proto, ok := protos[l.Name]
		switch {
		case !ok:
			errs = append(errs, bad("listeners", fmt.Sprintf("listener %s has no security protocol in listener.security.protocol.map", l.Name)))
		case proto != "PLAINTEXT":
			errs = append(errs, bad("listeners", fmt.Sprintf("listener %s uses security protocol %s, which is not supported yet (samsa supports PLAINTEXT only)", l.Name, proto)))
		}
		if l.Port != 0 {
			k := l.Host + ":" + strconv.Itoa(int(l.Port))
			if other, dup := ports[k]; dup {
				errs = append(errs, bad("listeners", fmt.Sprintf("listeners %s and %s use the same address", other, l.Name)))
			}
			ports[k] = l.Name
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	b.Listeners = ls

	names := make(map[string]bool)
	for _, l := range ls {
		names[l.Name] = true
	}
	if v, ok := b.static["advertised.listeners"]; ok {
		adv, err := ParseListeners(v)
		if err != nil {
			return bad("advertised.listeners", err.Error())
		}
		adv = dropControllers(adv, "advertised.listeners")
		if len(adv) == 0 {
			return bad("advertised.listeners", "every advertised listener is a controller listener")
		}
		for _, l := range adv {
			switch {
			case !names[l.Name]:
				return bad("advertised.listeners", fmt.Sprintf("listener %s is not in listeners; advertised listener names must be a subset of listeners", l.Name))
			case l.Host == "":
				return bad("advertised.listeners", fmt.Sprintf("listener %s has no host; clients need a host name or routable address", l.Name))
			case nonRoutable(l.Host):
				return bad("advertised.listeners", "advertised.listeners cannot use the nonroutable meta-address "+l.Host+". Use a routable IP address.")
			case l.Port == 0:
				return bad("advertised.listeners", fmt.Sprintf("listener %s advertises port 0", l.Name))
			}
		}
		b.AdvertisedListeners = adv
	} else {
		// Kafka advertises listeners as they are, with an empty host
		// replaced by this host's name; port 0 stays 0 and the broker
		// substitutes the bound port.
		for _, l := range ls {
			if nonRoutable(l.Host) {
				return bad("listeners", "advertised.listeners cannot use the nonroutable meta-address "+l.Host+
					". Use a routable IP address. (advertised.listeners defaults to listeners; set it)")
			}
			if l.Host == "" {
				if h, err := hostname(); err == nil {
					l.Host = h
				}
			}
			b.AdvertisedListeners = append(b.AdvertisedListeners, l)
		}
	}

	b.InterBrokerListener = b.AdvertisedListeners[0].Name
	if v, ok := b.static["inter.broker.listener.name"]; ok && v != "" {
		v = strings.ToUpper(v)
		found := false
		for _, l := range b.AdvertisedListeners {
			found = found || l.Name == v
		}
		if !found {
			return bad("inter.broker.listener.name", fmt.Sprintf("listener %s is not in advertised.listeners", v))
		}
		b.InterBrokerListener = v
	}
	return nil
}
