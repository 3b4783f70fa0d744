package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
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

// deriveListeners fills Listeners, AdvertisedListeners, ListenerProtocols
// and InterBrokerListener from listeners, advertised.listeners,
// listener.security.protocol.map, controller.listener.names,
// inter.broker.listener.name and security.inter.broker.protocol. The
// controller listeners are kept aside for deriveQuorum: served by the
// embedded etcd member in combined mode, dropped (with a warning)
// otherwise.
func (b *Broker) deriveListeners() error {
	bad := func(key, reason string) error {
		v, _ := b.raw(key)
		return &Error{Key: key, Value: v, Reason: reason}
	}
	protos, err := parseProtocolMap(b.Str("listener.security.protocol.map"))
	if err != nil {
		return bad("listener.security.protocol.map", err.Error())
	}
	controller := make(map[string]bool)
	for _, n := range splitList(b.static["controller.listener.names"]) {
		controller[strings.ToUpper(n)] = true
	}
	combined := b.hasRole("controller")
	splitControllers := func(ls []Listener, key string) (brokers, controllers []Listener) {
		for _, l := range ls {
			if !controller[l.Name] {
				brokers = append(brokers, l)
				continue
			}
			controllers = append(controllers, l)
			if !combined {
				b.warnings = append(b.warnings, fmt.Sprintf("%s: not serving controller listener %s (process.roles has no controller role)", key, l))
			}
		}
		return brokers, controllers
	}

	ls, err := ParseListeners(b.Str("listeners"))
	if err != nil {
		return bad("listeners", err.Error())
	}
	ls, b.controllerListeners = splitControllers(ls, "listeners")
	if len(ls) == 0 {
		return bad("listeners", "every listener is a controller listener (controller.listener.names); samsa needs a broker listener")
	}
	var errs []error
	ports := make(map[string]string) // host:port -> listener name
	checkProto := func(l Listener) {
		proto, ok := protos[l.Name]
		switch {
		case !ok:
			errs = append(errs, bad("listeners", fmt.Sprintf("listener %s has no security protocol in listener.security.protocol.map", l.Name)))
		case proto != "PLAINTEXT" && controller[l.Name]:
			// The combined-mode etcd member's peer port speaks etcd's
			// protocol, not Kafka's.
			errs = append(errs, bad("listeners", fmt.Sprintf("controller listener %s uses security protocol %s; samsa's controller listener is the embedded etcd member's peer port, served without TLS (PLAINTEXT only)", l.Name, proto)))
		}
	}
	for _, l := range append(slices.Clone(ls), b.controllerListeners...) {
		checkProto(l)
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
	b.ListenerProtocols = make(map[string]string, len(ls))
	for _, l := range ls {
		b.ListenerProtocols[l.Name] = protos[l.Name]
	}

	names := make(map[string]bool)
	for _, l := range ls {
		names[l.Name] = true
	}
	if v, ok := b.static["advertised.listeners"]; ok {
		adv, err := ParseListeners(v)
		if err != nil {
			return bad("advertised.listeners", err.Error())
		}
		adv, _ = splitControllers(adv, "advertised.listeners")
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

	advertised := func(name string) bool {
		for _, l := range b.AdvertisedListeners {
			if l.Name == name {
				return true
			}
		}
		return false
	}
	// Kafka: the inter-broker listener is inter.broker.listener.name, or
	// the listener named after security.inter.broker.protocol (default
	// PLAINTEXT); the two are mutually exclusive. samsa falls back to the
	// first advertised listener when no listener is named PLAINTEXT.
	_, setName := b.static["inter.broker.listener.name"]
	proto, setProto := b.static["security.inter.broker.protocol"]
	switch {
	case setName && setProto:
		return bad("inter.broker.listener.name", "only one of inter.broker.listener.name and security.inter.broker.protocol may be set")
	case setName:
		v := strings.ToUpper(b.static["inter.broker.listener.name"])
		if !advertised(v) {
			return bad("inter.broker.listener.name", fmt.Sprintf("listener %s is not in advertised.listeners", v))
		}
		b.InterBrokerListener = v
	case setProto:
		proto = strings.ToUpper(proto)
		if !advertised(proto) {
			return bad("security.inter.broker.protocol", fmt.Sprintf("no advertised listener is named %s; set inter.broker.listener.name", proto))
		}
		b.InterBrokerListener = proto
	case advertised("PLAINTEXT"):
		b.InterBrokerListener = "PLAINTEXT"
	default:
		b.InterBrokerListener = b.AdvertisedListeners[0].Name
	}
	return nil
}

// hasRole reports whether process.roles names role.
func (b *Broker) hasRole(role string) bool {
	return slices.Contains(splitList(b.static["process.roles"]), role)
}

// ParseVoters parses controller.quorum.voters: comma-separated
// id@host:port entries (IPv6 hosts in brackets), ids and addresses unique.
func ParseVoters(s string) ([]Voter, error) {
	var out []Voter
	ids := map[int32]bool{}
	addrs := map[string]bool{}
	for _, raw := range splitList(s) {
		idStr, addr, ok := strings.Cut(raw, "@")
		if !ok {
			return nil, fmt.Errorf("voter %q is not of the form id@host:port", raw)
		}
		id, err := strconv.ParseInt(idStr, 10, 32)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("voter %q: invalid node id %q", raw, idStr)
		}
		l, err := parseListener("V://" + addr)
		if err != nil || l.Host == "" || l.Port == 0 {
			return nil, fmt.Errorf("voter %q: invalid address %q (host:port, IPv6 in brackets)", raw, addr)
		}
		if ids[int32(id)] {
			return nil, fmt.Errorf("voter id %d appears twice", id)
		}
		key := net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
		if addrs[key] {
			return nil, fmt.Errorf("voter address %s appears twice", key)
		}
		ids[int32(id)], addrs[key] = true, true
		out = append(out, Voter{ID: int32(id), Host: l.Host, Port: l.Port})
	}
	return out, nil
}

// deriveQuorum maps Kafka's KRaft settings onto where samsa's metadata
// lives: process.roles=broker,controller with several
// controller.quorum.voters is combined mode (an etcd member per broker);
// with one voter (this node) or one bootstrap server, the embedded
// single-node etcd; dedicated controllers are refused.
func (b *Broker) deriveQuorum() error {
	bad := func(key, reason string) error {
		v, _ := b.raw(key)
		return &Error{Key: key, Value: v, Reason: reason}
	}
	roles := splitList(b.static["process.roles"])
	voters, _ := ParseVoters(b.Str("controller.quorum.voters")) // syntax checked with the value
	bootstrap := splitList(b.Str("controller.quorum.bootstrap.servers"))
	hasController := slices.Contains(roles, "controller")
	if len(roles) > 0 && !slices.Contains(roles, "broker") {
		return bad("process.roles", "samsa does not run dedicated controller nodes: every samsa node is a broker; "+
			"use process.roles=broker,controller (combined mode) or an external etcd (etcd.endpoints)")
	}
	if !hasController {
		if len(voters) > 0 || len(bootstrap) > 0 {
			key := "controller.quorum.voters"
			if len(voters) == 0 {
				key = "controller.quorum.bootstrap.servers"
			}
			return bad(key, "these name dedicated KRaft controllers, which samsa does not run; give every broker "+
				"process.roles=broker,controller (combined mode: the brokers form the metadata quorum) or point them at etcd (etcd.endpoints)")
		}
		return nil
	}
	if len(b.EtcdEndpoints) > 0 {
		return bad("process.roles", "process.roles=broker,controller runs the metadata quorum inside the brokers, "+
			"but etcd.endpoints names an external etcd: set one or the other")
	}
	switch {
	case len(voters) == 0 && len(bootstrap) > 1:
		return bad("controller.quorum.bootstrap.servers", "several bootstrap servers (a KIP-853 dynamic quorum) are not supported; "+
			"list the voters with their node ids in controller.quorum.voters (id@host:port,...)")
	case len(voters) == 0:
		// Kafka's single-node server.properties: the embedded single-node
		// etcd is that quorum.
		return nil
	}
	me := -1
	for i, v := range voters {
		if v.ID == b.BrokerID {
			me = i
		}
	}
	if me < 0 {
		return bad("controller.quorum.voters", fmt.Sprintf("node.id %d is not among the voters; in combined mode every broker is a voter", b.BrokerID))
	}
	if len(voters) == 1 {
		return nil // this node alone: the embedded single-node etcd
	}
	if len(b.controllerListeners) == 0 {
		return bad("controller.listener.names", "combined mode needs a controller listener in listeners, named by controller.listener.names "+
			"(e.g. listeners=PLAINTEXT://:9092,CONTROLLER://:9093 and controller.listener.names=CONTROLLER)")
	}
	cl := b.controllerListeners[0]
	if cl.Port == 0 {
		return bad("listeners", fmt.Sprintf("controller listener %s needs a fixed port: the other voters reach this node's etcd member there", cl.Name))
	}
	b.Combined = true
	b.QuorumVoters = voters
	b.ControllerListener = cl
	return nil
}
