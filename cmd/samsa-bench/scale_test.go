package main

import (
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func scaleTopic(name string, errCode int16, leaders ...int32) kmsg.MetadataResponseTopic {
	t := kmsg.NewMetadataResponseTopic()
	t.Topic = kmsg.StringPtr(name)
	t.ErrorCode = errCode
	for i, l := range leaders {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition = int32(i)
		p.Leader = l
		t.Partitions = append(t.Partitions, p)
	}
	return t
}

func TestListScale(t *testing.T) {
	resp := kmsg.NewPtrMetadataResponse()
	resp.Topics = []kmsg.MetadataResponseTopic{
		scaleTopic("scale-000", 0, 1, 1),
		scaleTopic("scale-001", 0, 1, -1),
		scaleTopic("other", 0, 1, 1, 1),
		scaleTopic("scale-002", 3, 1), // UNKNOWN_TOPIC_OR_PARTITION
	}
	l := listScale(resp, "scale-")
	if l.topics != 2 || l.partitions != 4 || l.led != 3 {
		t.Fatalf("listing %+v", l)
	}
	if l.complete(2, 2) {
		t.Error("complete with a partition without a leader")
	}
	resp.Topics[1].Partitions[1].Leader = 1
	if l = listScale(resp, "scale-"); !l.complete(2, 2) || l.complete(3, 2) {
		t.Errorf("listing %+v: complete(2, 2) should hold, complete(3, 2) not", l)
	}
}

// scaleFrame builds a response body as a broker sends it after the size: the
// correlation id, the header's tagged fields when flexible, the response.
func scaleFrame(corr int32, tags []byte, resp kmsg.Response) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(corr))
	b = append(b, tags...)
	return resp.AppendTo(b)
}

func TestDecodeScaleResponse(t *testing.T) {
	want := kmsg.NewPtrMetadataResponse()
	want.Version = 12
	want.Topics = []kmsg.MetadataResponseTopic{scaleTopic("scale-000", 0, 1, 1, 1)}

	// No header tags, and one tag (id 5, two bytes) to skip.
	for _, tags := range [][]byte{{0}, {1, 5, 2, 0xaa, 0xbb}} {
		got := kmsg.NewPtrMetadataResponse()
		got.Version = 12
		if err := decodeScaleResponse(scaleFrame(7, tags, want), got, 7); err != nil {
			t.Fatalf("tags %x: %v", tags, err)
		}
		if l := listScale(got, "scale-"); !l.complete(1, 3) {
			t.Errorf("tags %x: decoded listing %+v", tags, l)
		}
	}
	got := kmsg.NewPtrMetadataResponse()
	got.Version = 12
	if err := decodeScaleResponse(scaleFrame(8, []byte{0}, want), got, 7); err == nil {
		t.Error("no error for a wrong correlation id")
	}
	if err := decodeScaleResponse(scaleFrame(7, []byte{1, 5, 9}, want), got, 7); err == nil {
		t.Error("no error for a tag longer than the body")
	}

	// ApiVersions v3 is flexible but its response header is not.
	av := kmsg.NewPtrApiVersionsResponse()
	av.Version = 3
	av.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 3, MinVersion: 0, MaxVersion: 13}}
	gotAV := kmsg.NewPtrApiVersionsResponse()
	gotAV.Version = 3
	if err := decodeScaleResponse(scaleFrame(1, nil, av), gotAV, 1); err != nil {
		t.Fatal(err)
	}
	if len(gotAV.ApiKeys) != 1 || gotAV.ApiKeys[0].MaxVersion != 13 {
		t.Errorf("decoded %+v", gotAV.ApiKeys)
	}
}

func TestParseVmRSS(t *testing.T) {
	status := []byte("Name:\tsamsa\nVmHWM:\t  90000 kB\nVmRSS:\t   81234 kB\nThreads:\t12\n")
	if v, err := scaleParseVmRSS(status); err != nil || v != 81234 {
		t.Errorf("parseVmRSS = %v, %v; want 81234", v, err)
	}
	if _, err := scaleParseVmRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("no error without a VmRSS line")
	}
}
