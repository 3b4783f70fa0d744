package broker

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEveryAdvertisedVersionAnswers sends a minimal well-formed request for
// every API key at every version the broker advertises, on one connection,
// and checks that each answer arrives in order and decodes at that version.
// ApiVersions must never list a version the broker cannot serve.
func TestEveryAdvertisedVersionAnswers(t *testing.T) {
	b, addr := startTestBroker(t)
	createTopic(t, addr, "vt", 1, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("versions-test"))
	corr := int32(0)
	for _, k := range apiVersionsTable(b) {
		for v := k.MinVersion; v <= k.MaxVersion; v++ {
			if k.ApiKey == kmsg.Produce.Int16() && v < 3 {
				continue // advertised from v0 for librdkafka, refused (tested elsewhere)
			}
			req := kmsg.RequestForKey(k.ApiKey)
			req.SetVersion(v)
			switch r := req.(type) {
			case *kmsg.ApiVersionsRequest:
				r.ClientSoftwareName, r.ClientSoftwareVersion = "test", "1.0"
			case *kmsg.FetchRequest:
				r.MaxWaitMillis = 0
			case *kmsg.MetadataRequest:
				rt := kmsg.NewMetadataRequestTopic()
				rt.Topic = kmsg.StringPtr("vt")
				r.Topics = append(r.Topics, rt)
			case *kmsg.ProduceRequest:
				r.Acks = 1
			}
			corr++
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(f.AppendRequest(nil, req, corr)); err != nil {
				t.Fatalf("%s v%d: write: %v", kmsg.NameForKey(k.ApiKey), v, err)
			}
			var size [4]byte
			if _, err := readFull(c, size[:]); err != nil {
				t.Fatalf("%s v%d: no response (connection closed?): %v", kmsg.NameForKey(k.ApiKey), v, err)
			}
			buf := make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := readFull(c, buf); err != nil {
				t.Fatalf("%s v%d: short response: %v", kmsg.NameForKey(k.ApiKey), v, err)
			}
			if got := int32(binary.BigEndian.Uint32(buf)); got != corr {
				t.Fatalf("%s v%d: correlation id %d, want %d", kmsg.NameForKey(k.ApiKey), v, got, corr)
			}
			body := buf[4:]
			resp := req.ResponseKind()
			resp.SetVersion(v)
			if resp.IsFlexible() && k.ApiKey != kmsg.ApiVersions.Int16() {
				if len(body) == 0 || body[0] != 0 {
					t.Fatalf("%s v%d: response header v1 must carry an empty tag buffer", kmsg.NameForKey(k.ApiKey), v)
				}
				body = body[1:]
			}
			if err := resp.ReadFrom(body); err != nil {
				t.Fatalf("%s v%d: response does not decode: %v", kmsg.NameForKey(k.ApiKey), v, err)
			}
			switch r := resp.(type) {
			case *kmsg.MetadataResponse:
				if len(r.Topics) != 1 || r.Topics[0].Topic == nil || *r.Topics[0].Topic != "vt" ||
					r.Topics[0].ErrorCode != 0 || len(r.Topics[0].Partitions) != 1 || len(r.Brokers) != 1 {
					t.Fatalf("Metadata v%d: unexpected answer %+v", v, r)
				}
			case *kmsg.ApiVersionsResponse:
				if r.ErrorCode != 0 || len(r.ApiKeys) == 0 {
					t.Fatalf("ApiVersions v%d: error %d, %d keys", v, r.ErrorCode, len(r.ApiKeys))
				}
			}
		}
	}
}
