package broker

// Connection limits: max.connections and max.connections.per.ip (with
// max.connections.per.ip.overrides) checked as a connection is accepted,
// and connections.max.idle.ms enforced by the read side of each connection.

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"
)

// connLimits is the accept loops' bookkeeping; guarded by Broker.connsMu.
// The broker-wide count is len(Broker.conns).
type connLimits struct {
	perIP map[netip.Addr]int32 // open connections by peer address
	// refused counts the connections refused since the last log line,
	// lastLog is when that line was written: refusals are logged at most
	// once per refusalLogEvery, so a client in a reconnect loop does not
	// flood the log.
	refused int
	lastLog time.Time
}

const refusalLogEvery = 10 * time.Second

// refusal says why a connection was refused; limit is empty when it was
// admitted. log is set when this refusal is the one to log, count the
// refusals it stands for.
type refusal struct {
	limit string // the property that refused it
	max   int32
	log   bool
	count int
}

// admitLocked decides whether a connection from ip may open (connsMu held)
// and counts it if so. perIP holds the resolved per-address overrides.
// Like Kafka, the per-address limit is checked first. Unlike Kafka, which
// stops accepting while the broker is at max.connections, the connection
// is closed at once: the client sees a refusal, not a hang.
func (b *Broker) admitLocked(ip netip.Addr, perIP map[netip.Addr]int32) refusal {
	l := &b.connLimits
	if l.perIP == nil {
		l.perIP = make(map[netip.Addr]int32)
	}
	cfg := b.conf() // max.connections* are dynamic
	maxIP := cfg.MaxConnectionsPerIP
	if n, ok := perIP[ip]; ok {
		maxIP = n
	}
	var r refusal
	switch {
	case l.perIP[ip] >= maxIP:
		r = refusal{limit: "max.connections.per.ip", max: maxIP}
	case int64(len(b.conns)) >= int64(cfg.MaxConnections):
		r = refusal{limit: "max.connections", max: cfg.MaxConnections}
	default:
		l.perIP[ip]++
		return refusal{}
	}
	l.refused++
	if now := time.Now(); now.Sub(l.lastLog) >= refusalLogEvery {
		r.log, r.count = true, l.refused
		l.refused, l.lastLog = 0, now
	}
	return r
}

// releaseLocked forgets a closed connection from ip (connsMu held).
func (b *Broker) releaseLocked(ip netip.Addr) {
	l := &b.connLimits
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

func (b *Broker) logRefusal(r refusal, ip netip.Addr) {
	if !r.log {
		return
	}
	b.log.Warn().Str("limit", r.limit).Int32("max", r.max).Str("ip", ip.String()).
		Int("refused", r.count).Dur("log_interval", refusalLogEvery).
		Msg("connections refused: limit reached (one line per interval; refused counts them since the previous line)")
}

// resolveConnOverrides turns max.connections.per.ip.overrides into counts
// by address, resolving host names (as Kafka does, at start-up and when
// the dynamic value changes). A name that does not resolve is logged and
// its override not applied.
func (b *Broker) resolveConnOverrides(overrides map[string]int32) map[netip.Addr]int32 {
	out := make(map[netip.Addr]int32, len(overrides))
	for host, n := range overrides {
		if ip, err := netip.ParseAddr(host); err == nil {
			out[ip.Unmap()] = n
			continue
		}
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		cancel()
		if err != nil {
			b.log.Error().Err(err).Str("host", host).Msg("max.connections.per.ip.overrides: cannot resolve host; its override is not applied")
			continue
		}
		for _, ip := range ips {
			out[ip.Unmap()] = n
		}
	}
	return out
}

// peerIP is the remote address of nc (the zero Addr if it has none).
func peerIP(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// idleReader is the read side of a connection under connections.max.idle.ms:
// every read gives the peer that long to send something. A read that times
// out while the connection's responses are still going out (queued, last
// written less than idle ago) waits again: like Kafka's idle expiry, writes
// count as activity.
type idleReader struct {
	c    *conn
	idle time.Duration
}

func (r *idleReader) Read(p []byte) (int, error) {
	for {
		if err := r.c.nc.SetReadDeadline(time.Now().Add(r.idle)); err != nil {
			return 0, err
		}
		n, err := r.c.nc.Read(p)
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && r.c.writing(r.idle) {
			continue
		}
		return n, err
	}
}

// writing reports whether responses of c are queued and one was queued or
// written less than idle ago.
func (c *conn) writing(idle time.Duration) bool {
	return c.queued.Load() > 0 && time.Since(time.Unix(0, c.lastWrite.Load())) < idle
}
