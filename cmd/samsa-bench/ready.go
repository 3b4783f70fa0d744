package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// runReady polls the first broker with ApiVersions until it answers, and
// prints how long that took since cfg.since. Each attempt is a new
// connection with a short deadline, so a broker that accepts connections
// before it can answer does not hold the poll up; the run is bounded by
// --timeout.
func runReady(ctx context.Context, cfg *config) error {
	since := time.Now()
	if cfg.since > 0 {
		since = time.Unix(0, cfg.since)
	}
	addr := cfg.brokers[0]
	var (
		attempts int
		lastErr  error
	)
	for {
		attempts++
		err := apiVersions(ctx, addr)
		if err == nil {
			elapsed := time.Since(since)
			fmt.Printf("RESULT mode=ready broker=%s attempts=%d ready_ms=%.1f\n", addr, attempts, float64(elapsed)/float64(time.Millisecond))
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			fmt.Printf("RESULT mode=ready broker=%s attempts=%d ready_ms=-1\n", addr, attempts)
			return fmt.Errorf("no ApiVersions answer from %s within --timeout after %d attempts; last error: %v", addr, attempts, lastErr)
		case <-time.After(cfg.pollEvery):
		}
	}
}

// apiVersions sends one ApiVersions v3 request on a new connection and
// checks the answer's error code.
func apiVersions(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))

	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName = "samsa-bench"
	req.ClientSoftwareVersion = "1"
	const corr = 1
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("samsa-bench")).AppendRequest(nil, req, corr)
	if _, err := conn.Write(frame); err != nil {
		return err
	}
	var hdr [8]byte // size, correlation id (ApiVersions responses never use the flexible header)
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return err
	}
	size := int32(binary.BigEndian.Uint32(hdr[:4]))
	if size < 4 || size > 1<<20 {
		return fmt.Errorf("response size %d", size)
	}
	if got := int32(binary.BigEndian.Uint32(hdr[4:])); got != corr {
		return fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	body := make([]byte, size-4)
	if _, err := io.ReadFull(conn, body); err != nil {
		return err
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = req.Version
	if err := resp.ReadFrom(body); err != nil {
		// A broker that does not know v3 answers in the v0 layout.
		resp = kmsg.NewPtrApiVersionsResponse()
		if err0 := resp.ReadFrom(body); err0 != nil {
			return fmt.Errorf("decoding ApiVersions response: %w", err)
		}
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return err
	}
	if len(resp.ApiKeys) == 0 {
		return errors.New("ApiVersions response lists no API")
	}
	return nil
}
