package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// hdr encodes a request header by hand: key, version, correlation id, client
// id (nil = null), then rest.
func hdr(key, version int16, corr int32, clientID *string, rest ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	if clientID == nil {
		b = binary.BigEndian.AppendUint16(b, 0xffff)
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(*clientID)))
		b = append(b, *clientID...)
	}
	return cat(append([][]byte{b}, rest...)...)
}

func strp(s string) *string { return &s }

func TestParseRequestHeader(t *testing.T) {
	body := []byte("BODY")
	// Two tags: tag 0 with 3 bytes, tag 5 with 0 bytes.
	tags := []byte{2, 0, 3, 'a', 'b', 'c', 5, 0}
	tests := []struct {
		name     string
		frame    []byte
		want     RequestHeader
		wantBody []byte
		wantErr  error
	}{
		{name: "v1 produce", frame: hdr(0, 7, 42, strp("cid"), body),
			want: RequestHeader{APIKey: 0, APIVersion: 7, CorrelationID: 42, ClientID: "cid"}, wantBody: body},
		{name: "v1 null client id", frame: hdr(3, 1, -5, nil, body),
			want: RequestHeader{APIKey: 3, APIVersion: 1, CorrelationID: -5}, wantBody: body},
		{name: "v2 metadata no tags", frame: hdr(3, 12, 1, strp("x"), []byte{0}, body),
			want: RequestHeader{APIKey: 3, APIVersion: 12, CorrelationID: 1, ClientID: "x", Flexible: true}, wantBody: body},
		{name: "v2 with tags and null client id", frame: hdr(3, 12, 1, nil, tags, body),
			want: RequestHeader{APIKey: 3, APIVersion: 12, CorrelationID: 1, Flexible: true}, wantBody: body},
		{name: "v2 produce", frame: hdr(0, 9, 1, strp(""), []byte{0}, body),
			want: RequestHeader{APIKey: 0, APIVersion: 9, CorrelationID: 1, Flexible: true}, wantBody: body},
		{name: "api versions v2 is header v1", frame: hdr(18, 2, 1, strp("c"), body),
			want: RequestHeader{APIKey: 18, APIVersion: 2, CorrelationID: 1, ClientID: "c"}, wantBody: body},
		{name: "api versions v3 is header v2", frame: hdr(18, 3, 1, strp("c"), []byte{0}, body),
			want: RequestHeader{APIKey: 18, APIVersion: 3, CorrelationID: 1, ClientID: "c", Flexible: true}, wantBody: body},
		{name: "api versions newer than kmsg is header v2", frame: hdr(18, 999, 1, strp("c"), tags, body),
			want: RequestHeader{APIKey: 18, APIVersion: 999, CorrelationID: 1, ClientID: "c", Flexible: true}, wantBody: body},
		{name: "produce newer than kmsg is not flexible", frame: hdr(0, 999, 1, strp("c"), body),
			want: RequestHeader{APIKey: 0, APIVersion: 999, CorrelationID: 1, ClientID: "c"}, wantBody: body},
		{name: "negative version", frame: hdr(3, -1, 1, strp("c"), body),
			want: RequestHeader{APIKey: 3, APIVersion: -1, CorrelationID: 1, ClientID: "c"}, wantBody: body},
		{name: "controlled shutdown v0 has no client id", frame: cat([]byte{0, 7, 0, 0, 0, 0, 0, 9}, body),
			want: RequestHeader{APIKey: 7, CorrelationID: 9}, wantBody: body},
		{name: "unknown key", frame: hdr(9999, 0, 77, strp("who"), body),
			want: RequestHeader{APIKey: 9999, CorrelationID: 77, ClientID: "who"}, wantBody: body, wantErr: ErrUnknownAPIKey},
		{name: "unknown key, bad client id", frame: cat([]byte{0x27, 0x0f, 0, 0, 0, 0, 0, 77}, []byte{0x7f}),
			want: RequestHeader{APIKey: 9999, CorrelationID: 77}, wantErr: ErrUnknownAPIKey},
		{name: "empty", frame: nil, wantErr: ErrMalformed},
		{name: "7 bytes", frame: []byte{0, 3, 0, 5, 0, 0, 0}, want: RequestHeader{APIKey: 3, APIVersion: 5}, wantErr: ErrMalformed},
		{name: "no client id", frame: []byte{0, 3, 0, 5, 0, 0, 0, 1}, want: RequestHeader{APIKey: 3, APIVersion: 5, CorrelationID: 1}, wantErr: ErrMalformed},
		{name: "client id truncated", frame: hdr(3, 5, 1, nil)[:9], want: RequestHeader{APIKey: 3, APIVersion: 5, CorrelationID: 1}, wantErr: ErrMalformed},
		{name: "client id too long", frame: cat(hdr(3, 5, 1, nil)[:8], []byte{0, 10, 'a'}), want: RequestHeader{APIKey: 3, APIVersion: 5, CorrelationID: 1}, wantErr: ErrMalformed},
		{name: "client id length -2", frame: cat(hdr(3, 5, 1, nil)[:8], []byte{0xff, 0xfe}), want: RequestHeader{APIKey: 3, APIVersion: 5, CorrelationID: 1}, wantErr: ErrMalformed},
		{name: "flexible without tags", frame: hdr(3, 12, 1, nil), want: RequestHeader{APIKey: 3, APIVersion: 12, CorrelationID: 1, Flexible: true}, wantErr: ErrMalformed},
		{name: "tag count beyond bytes", frame: hdr(3, 12, 1, nil, []byte{0xff, 0xff, 0xff, 0xff, 0x07}), want: RequestHeader{APIKey: 3, APIVersion: 12, CorrelationID: 1, Flexible: true}, wantErr: ErrMalformed},
		{name: "tag size beyond bytes", frame: hdr(3, 12, 1, nil, []byte{1, 0, 9, 'a'}), want: RequestHeader{APIKey: 3, APIVersion: 12, CorrelationID: 1, Flexible: true}, wantErr: ErrMalformed},
		{name: "tag varint too long", frame: hdr(3, 12, 1, nil, []byte{1, 0x80, 0x80, 0x80, 0x80, 0x80, 0}), want: RequestHeader{APIKey: 3, APIVersion: 12, CorrelationID: 1, Flexible: true}, wantErr: ErrMalformed},
		{name: "tag varint truncated", frame: hdr(3, 12, 1, nil, []byte{1, 0x80}), want: RequestHeader{APIKey: 3, APIVersion: 12, CorrelationID: 1, Flexible: true}, wantErr: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, rest, err := ParseRequestHeader(tc.frame)
			if h != tc.want {
				t.Errorf("header %+v, want %+v", h, tc.want)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.wantBody != nil && !bytes.Equal(rest, tc.wantBody) {
				t.Fatalf("body %q, want %q", rest, tc.wantBody)
			}
		})
	}
}

// TestParseKmsgFrames checks header parsing and body decoding against
// kmsg's own client-side framing, for every key and version kmsg knows.
func TestParseKmsgFrames(t *testing.T) {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("samsa-test"))
	n := 0
	for key := int16(0); key < 200; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			frame := f.AppendRequest(nil, req, 1234)[4:]
			h, body, err := ParseRequestHeader(frame)
			if err != nil {
				t.Fatalf("key %d v%d: %v", key, v, err)
			}
			want := RequestHeader{APIKey: key, APIVersion: v, CorrelationID: 1234, ClientID: "samsa-test", Flexible: req.IsFlexible()}
			if key == 7 && v == 0 {
				want.ClientID = ""
			}
			if h != want {
				t.Fatalf("key %d v%d: %+v, want %+v", key, v, h, want)
			}
			if key == 7 && v == 0 {
				// kmsg's formatter writes no body for ControlledShutdown v0.
				continue
			}
			got, err := DecodeRequest(h, body)
			if err != nil {
				t.Fatalf("key %d v%d: decode: %v", key, v, err)
			}
			if got.Key() != key || got.GetVersion() != v || !bytes.Equal(got.AppendTo(nil), req.AppendTo(nil)) {
				t.Fatalf("key %d v%d: round trip differs", key, v)
			}
			n++
		}
	}
	t.Logf("%d key/version pairs", n)
}

func TestDecodeRequestErrors(t *testing.T) {
	if _, err := DecodeRequest(RequestHeader{APIKey: 9999}, nil); !errors.Is(err, ErrUnknownAPIKey) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := DecodeRequest(RequestHeader{APIKey: 3, APIVersion: 999}, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("version beyond kmsg: %v", err)
	}
	if _, err := DecodeRequest(RequestHeader{APIKey: 3, APIVersion: -1}, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("negative version: %v", err)
	}
	// Truncated Produce body.
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(7)
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Records: []byte("xyz")}}}}
	body := req.AppendTo(nil)
	for i := range body {
		if _, err := DecodeRequest(RequestHeader{APIKey: 0, APIVersion: 7}, body[:i]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
}

func TestDecodeRequestHugeArrayCount(t *testing.T) {
	// Metadata v1 body: topics count 0x7fffffff, then a few bytes.
	body := []byte{0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'}
	var err error
	alloc := allocatedDuring(func() { _, err = DecodeRequest(RequestHeader{APIKey: 3, APIVersion: 1}, body) })
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v", err)
	}
	if alloc > 64<<10 {
		t.Fatalf("allocated %d bytes for a 7-byte body", alloc)
	}
	// Flexible (compact array) variant: uvarint count 2^31.
	body = []byte{0x80, 0x80, 0x80, 0x80, 0x08, 0, 0}
	alloc = allocatedDuring(func() { _, err = DecodeRequest(RequestHeader{APIKey: 3, APIVersion: 12}, body) })
	if !errors.Is(err, ErrMalformed) || alloc > 64<<10 {
		t.Fatalf("compact: error %v, allocated %d", err, alloc)
	}

	// The worst case kmsg allows: a count as large as the bytes left permit
	// at the element's minimum wire size. Allocation stays a bounded
	// multiple of the body.
	const size = 1 << 20
	pb := make([]byte, size)
	binary.BigEndian.PutUint16(pb, 0xffff)                  // null transactional id
	binary.BigEndian.PutUint32(pb[4:], 0)                   // acks, timeout
	binary.BigEndian.PutUint32(pb[8:], uint32((size-12)/2)) // topics: 2 bytes minimum each
	alloc = allocatedDuring(func() { _, err = DecodeRequest(RequestHeader{APIKey: 0, APIVersion: 7}, pb) })
	if err == nil {
		t.Fatal("forged topic count decoded")
	}
	ratio := float64(alloc) / size
	t.Logf("forged Produce topic count: %d bytes allocated for a %d-byte body (%.1fx; ProduceRequestTopic is %d bytes in memory)",
		alloc, size, ratio, unsafe.Sizeof(kmsg.ProduceRequestTopic{}))
	// 32x normally; the race detector disables the append(make) fusion in
	// kmsg and doubles it.
	if ratio > 2*float64(unsafe.Sizeof(kmsg.ProduceRequestTopic{})) {
		t.Fatalf("amplification %.1fx", ratio)
	}
}

// readResponseFrame splits a frame written by AppendResponse.
func readResponseFrame(t *testing.T, frame []byte, flexibleHeader bool) (int32, []byte) {
	t.Helper()
	if int(binary.BigEndian.Uint32(frame)) != len(frame)-4 {
		t.Fatalf("size prefix %d, frame %d", binary.BigEndian.Uint32(frame), len(frame)-4)
	}
	corr := int32(binary.BigEndian.Uint32(frame[4:]))
	rest := frame[8:]
	if flexibleHeader {
		if rest[0] != 0 {
			t.Fatalf("tag buffer %#x", rest[0])
		}
		rest = rest[1:]
	}
	return corr, rest
}

func TestAppendResponse(t *testing.T) {
	tests := []struct {
		name       string
		resp       kmsg.Response
		version    int16
		headerFlex bool
	}{
		{"metadata v1 header v0", kmsg.NewPtrMetadataResponse(), 1, false},
		{"metadata v12 header v1", kmsg.NewPtrMetadataResponse(), 12, true},
		{"produce v9 header v1", kmsg.NewPtrProduceResponse(), 9, true},
		{"api versions v0", kmsg.NewPtrApiVersionsResponse(), 0, false},
		{"api versions v3 keeps header v0", kmsg.NewPtrApiVersionsResponse(), 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.resp.SetVersion(tc.version)
			switch r := tc.resp.(type) {
			case *kmsg.MetadataResponse:
				r.Topics = []kmsg.MetadataResponseTopic{{Topic: kmsg.StringPtr("t"), Partitions: []kmsg.MetadataResponseTopicPartition{{Leader: 1}}}}
			case *kmsg.ApiVersionsResponse:
				r.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 0, MinVersion: 0, MaxVersion: 11}}
			}
			prefix := []byte("keep")
			out := AppendResponse(bytes.Clone(prefix), 77, tc.resp)
			if !bytes.Equal(out[:4], prefix) {
				t.Fatal("dst prefix clobbered")
			}
			corr, body := readResponseFrame(t, out[4:], tc.headerFlex)
			if corr != 77 {
				t.Fatalf("correlation id %d", corr)
			}
			dec := kmsg.ResponseForKey(tc.resp.Key())
			dec.SetVersion(tc.version)
			if err := dec.ReadFrom(body); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(dec.AppendTo(nil), tc.resp.AppendTo(nil)) {
				t.Fatal("round trip differs")
			}
		})
	}
}
