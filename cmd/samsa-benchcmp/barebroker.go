package main

// The bare broker (floor.go): the least a broker can be for samsa-bench's
// consumer. It serves one topic whose partitions are Kafka log files written
// beforehand (writeBareLog), answering ApiVersions, Metadata, ListOffsets
// and Fetch, and nothing else: no storage layer, no index files, no fetch
// sessions, no produce. A fetch is answered with the partitions' record
// batches sent from the files with sendfile, the way Kafka and samsa send
// theirs, so that the consumer reads exactly what it reads from a broker.
//
// `samsa-benchcmp __bare-broker DIR TOPIC` scans DIR/<partition>.log, listens
// on 127.0.0.1 and prints "LISTENING host:port"; it exits when its stdin is
// closed.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/samsa-io/samsa/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const bareBrokerArg = "__bare-broker"

// bareVersions are the versions the bare broker answers: Fetch stops at 11,
// the last one without flexible fields, because its response is written by
// hand around the sendfile calls.
var bareVersions = map[int16][2]int16{
	18: {0, 3},  // ApiVersions
	3:  {1, 9},  // Metadata
	2:  {1, 7},  // ListOffsets
	1:  {4, 11}, // Fetch
}

// bareBatch is one record batch of a partition's file.
type bareBatch struct{ base, last, pos, size int64 }

type barePartition struct {
	path    string
	batches []bareBatch
	end     int64 // the log end offset
}

type bareServer struct {
	topic string
	parts []*barePartition
	port  int32
}

// bareBroker is the child's main.
func bareBroker(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: %s DIR TOPIC", bareBrokerArg)
	}
	s := &bareServer{topic: args[1]}
	for p := 0; ; p++ {
		bp, err := scanBareLog(filepath.Join(args[0], strconv.Itoa(p)+".log"))
		if errors.Is(err, os.ErrNotExist) && p > 0 {
			break
		}
		if err != nil {
			return err
		}
		s.parts = append(s.parts, bp)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.port = int32(l.Addr().(*net.TCPAddr).Port)
	fmt.Printf("LISTENING %s\n", l.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			if err := s.serve(c); err != nil && !errors.Is(err, io.EOF) {
				fmt.Fprintf(os.Stderr, "bare broker: %s: %v\n", c.RemoteAddr(), err)
			}
		}()
	}
}

// scanBareLog reads the batch headers of a log file.
func scanBareLog(path string) (*barePartition, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	bp := &barePartition{path: path}
	var hdr [protocol.BatchHeaderSize]byte
	for pos := int64(0); pos < st.Size(); {
		if _, err := f.ReadAt(hdr[:], pos); err != nil {
			return nil, fmt.Errorf("%s at %d: %w", path, pos, err)
		}
		h, err := protocol.ParseBatchHeader(hdr[:])
		if err == nil && (h.Size() < protocol.BatchHeaderSize || pos+h.Size() > st.Size() || h.BaseOffset != bp.end) {
			err = errors.New("not a log of consecutive batches")
		}
		if err != nil {
			return nil, fmt.Errorf("%s at %d: %w", path, pos, err)
		}
		bp.batches = append(bp.batches, bareBatch{base: h.BaseOffset, last: h.LastOffset(), pos: pos, size: h.Size()})
		bp.end = h.NextOffset()
		pos += h.Size()
	}
	return bp, nil
}

// serve answers one connection's requests in order.
func (s *bareServer) serve(c net.Conn) error {
	defer c.Close()
	files := map[int32]*os.File{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	var frame, out []byte
	for {
		var err error
		if frame, err = protocol.ReadFrame(r, 1<<20, frame); err != nil {
			return err
		}
		h, body, err := protocol.ParseRequestHeader(frame)
		if err != nil {
			return err
		}
		vr, ok := bareVersions[h.APIKey]
		if !ok {
			return fmt.Errorf("request key %d is not served", h.APIKey)
		}
		unsupported := h.APIVersion < vr[0] || h.APIVersion > vr[1]
		if unsupported {
			if h.APIKey != kmsg.ApiVersions.Int16() {
				return fmt.Errorf("request key %d version %d is not served", h.APIKey, h.APIVersion)
			}
			// UNSUPPORTED_VERSION in a v0 response, as Kafka does.
			h.APIVersion, body = 0, nil
		}
		req, err := protocol.DecodeRequest(h, body)
		if err != nil {
			return err
		}
		var resp kmsg.Response
		switch q := req.(type) {
		case *kmsg.ApiVersionsRequest:
			resp = s.apiVersions(q, unsupported)
		case *kmsg.MetadataRequest:
			resp = s.metadata(q)
		case *kmsg.ListOffsetsRequest:
			resp = s.listOffsets(q)
		case *kmsg.FetchRequest:
			if err := s.fetch(c, q, h.CorrelationID, out[:0], files); err != nil {
				return err
			}
			continue
		}
		out = protocol.AppendResponse(out[:0], h.CorrelationID, resp)
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
}

func (s *bareServer) apiVersions(q *kmsg.ApiVersionsRequest, unsupported bool) kmsg.Response {
	resp := q.ResponseKind().(*kmsg.ApiVersionsResponse)
	if unsupported {
		resp.ErrorCode = 35 // UNSUPPORTED_VERSION
	}
	for _, key := range []int16{1, 2, 3, 18} {
		v := bareVersions[key]
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: key, MinVersion: v[0], MaxVersion: v[1]})
	}
	return resp
}

func (s *bareServer) metadata(q *kmsg.MetadataRequest) kmsg.Response {
	resp := q.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 0, Host: "127.0.0.1", Port: s.port}}
	resp.ClusterID = kmsg.StringPtr("bare-broker")
	resp.ControllerID = 0
	names := []string{s.topic}
	if q.Topics != nil {
		names = names[:0]
		for _, t := range q.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			}
		}
	}
	for _, name := range names {
		t := kmsg.MetadataResponseTopic{Topic: kmsg.StringPtr(name)}
		if name != s.topic {
			t.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
		}
		for p := range s.parts {
			if name == s.topic {
				t.Partitions = append(t.Partitions, kmsg.MetadataResponseTopicPartition{
					Partition: int32(p), Leader: 0, LeaderEpoch: 0, Replicas: []int32{0}, ISR: []int32{0}})
			}
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func (s *bareServer) listOffsets(q *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := q.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, t := range q.Topics {
		rt := kmsg.ListOffsetsResponseTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			rp := kmsg.ListOffsetsResponseTopicPartition{Partition: p.Partition, Offset: -1, Timestamp: -1, LeaderEpoch: 0}
			bp := s.partition(t.Topic, p.Partition)
			switch {
			case bp == nil:
				rp.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
			case p.Timestamp == -2:
				rp.Offset = 0
			case p.Timestamp == -1:
				rp.Offset = bp.end
			default:
				rp.ErrorCode = 42 // INVALID_REQUEST: only the start and the end are served
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *bareServer) partition(topic string, p int32) *barePartition {
	if topic != s.topic || p < 0 || int(p) >= len(s.parts) {
		return nil
	}
	return s.parts[p]
}

// bareSend is one partition of a fetch response: its batches are the file's
// bytes [pos, pos+size).
type bareSend struct {
	partition int32
	errCode   int16
	hw        int64
	pos, size int64
}

// fetch answers a fetch (v4 to v11, not flexible): the header and each
// partition's fields are written from out, each partition's batches sent
// from its file with sendfile. As Kafka does, each partition gets whole
// batches up to its PartitionMaxBytes and the response up to MaxBytes, but
// the response's first batch always goes. With nothing to send it waits
// MaxWaitMillis (no new data ever arrives) and answers empty.
func (s *bareServer) fetch(c net.Conn, q *kmsg.FetchRequest, corr int32, out []byte, files map[int32]*os.File) error {
	v := q.Version
	partLen := int64(4 + 2 + 8 + 8 + 4 + 4) // partition, error, hw, lso, aborted, records length
	if v >= 5 {
		partLen += 8 // log start offset
	}
	if v >= 11 {
		partLen += 4 // preferred read replica
	}
	sends := make([][]bareSend, len(q.Topics)) // the response's topics are the request's
	wire := int64(4 + 4 + 4)                   // size, correlation id, throttle
	if v >= 7 {
		wire += 2 + 4 // error, session id
	}
	wire += 4 // topic count
	var total int64
	for ti, t := range q.Topics {
		wire += 2 + int64(len(t.Topic)) + 4 + int64(len(t.Partitions))*partLen
		for _, p := range t.Partitions {
			sd := bareSend{partition: p.Partition, hw: -1}
			bp := s.partition(t.Topic, p.Partition)
			switch {
			case bp == nil:
				sd.errCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
			case p.FetchOffset < 0 || p.FetchOffset > bp.end:
				sd.errCode, sd.hw = 1, bp.end // OFFSET_OUT_OF_RANGE
			default:
				sd.hw = bp.end
				i := sort.Search(len(bp.batches), func(i int) bool { return bp.batches[i].last >= p.FetchOffset })
				for ; i < len(bp.batches); i++ {
					b := bp.batches[i]
					if (sd.size > 0 && sd.size+b.size > int64(p.PartitionMaxBytes)) || (total > 0 && total+b.size > int64(q.MaxBytes)) {
						break
					}
					if sd.size == 0 {
						sd.pos = b.pos
					}
					sd.size += b.size
					total += b.size
				}
			}
			sends[ti] = append(sends[ti], sd)
		}
	}
	if total == 0 && q.MaxWaitMillis > 0 {
		time.Sleep(time.Duration(min(q.MaxWaitMillis, 5000)) * time.Millisecond)
	}
	out = binary.BigEndian.AppendUint32(out, uint32(wire+total-4))
	out = binary.BigEndian.AppendUint32(out, uint32(corr))
	out = binary.BigEndian.AppendUint32(out, 0) // throttle
	if v >= 7 {
		out = binary.BigEndian.AppendUint16(out, 0) // error
		out = binary.BigEndian.AppendUint32(out, 0) // no session
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(q.Topics)))
	for ti, t := range q.Topics {
		out = binary.BigEndian.AppendUint16(out, uint16(len(t.Topic)))
		out = append(out, t.Topic...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(sends[ti])))
		for _, sd := range sends[ti] {
			out = binary.BigEndian.AppendUint32(out, uint32(sd.partition))
			out = binary.BigEndian.AppendUint16(out, uint16(sd.errCode))
			out = binary.BigEndian.AppendUint64(out, uint64(sd.hw)) // high watermark
			out = binary.BigEndian.AppendUint64(out, uint64(sd.hw)) // last stable offset
			if v >= 5 {
				out = binary.BigEndian.AppendUint64(out, 0) // log start offset
			}
			out = binary.BigEndian.AppendUint32(out, 0xffffffff) // no aborted transactions
			if v >= 11 {
				out = binary.BigEndian.AppendUint32(out, 0xffffffff) // no preferred read replica
			}
			out = binary.BigEndian.AppendUint32(out, uint32(sd.size))
			if sd.size == 0 {
				continue
			}
			if _, err := c.Write(out); err != nil {
				return err
			}
			out = out[:0]
			if err := s.sendBatches(c, files, sd); err != nil {
				return err
			}
		}
	}
	if len(out) > 0 {
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// sendBatches sends sd's bytes of its partition's file with sendfile (Go's
// TCPConn.ReadFrom of a limited *os.File), opening the file on first use.
func (s *bareServer) sendBatches(c net.Conn, files map[int32]*os.File, sd bareSend) error {
	f := files[sd.partition]
	if f == nil {
		var err error
		if f, err = os.Open(s.parts[sd.partition].path); err != nil {
			return err
		}
		files[sd.partition] = f
	}
	if _, err := f.Seek(sd.pos, io.SeekStart); err != nil {
		return err
	}
	n, err := c.(*net.TCPConn).ReadFrom(&io.LimitedReader{R: f, N: sd.size})
	if err == nil && n != sd.size {
		err = fmt.Errorf("sent %d of %d bytes of partition %d", n, sd.size, sd.partition)
	}
	return err
}

// bareBatchMaxBytes is franz-go's default ProducerBatchMaxBytes: the
// batches samsa-bench's producer writes to the brokers' cost topic are this
// big, so the bare broker's are too.
const bareBatchMaxBytes = 1_000_012

// writeBareLog writes partitions log files under dir, records records of
// recordSize-byte values (no key) spread evenly over them, in batches of at
// most bareBatchMaxBytes, and syncs them.
func writeBareLog(dir string, partitions int, records int64, recordSize int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{'s', 'a', 'm', 's', 'a'})
	now := time.Now().UnixMilli()
	rec := protocol.Record{Value: make([]byte, recordSize)}
	var recs, one, batch []byte
	for p := range partitions {
		n := records / int64(partitions)
		if int64(p) < records%int64(partitions) {
			n++
		}
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(p)+".log"))
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		h := protocol.BatchHeader{BaseTimestamp: now, MaxTimestamp: now,
			ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
		var count int32
		flush := func() error {
			if count == 0 {
				return nil
			}
			h.LastOffsetDelta = count - 1
			var err error
			if batch, _, err = protocol.AppendBatch(batch[:0], &h, protocol.CompressionNone, 0, recs, count); err != nil {
				return err
			}
			_, err = w.Write(batch)
			h.BaseOffset += int64(count)
			count, recs = 0, recs[:0]
			return err
		}
		for range n {
			_, _ = rng.Read(rec.Value)
			rec.OffsetDelta = count
			one = protocol.AppendRecord(one[:0], &rec)
			if count > 0 && protocol.BatchHeaderSize+len(recs)+len(one) > bareBatchMaxBytes {
				if err := flush(); err != nil {
					f.Close()
					return err
				}
				rec.OffsetDelta = 0
				one = protocol.AppendRecord(one[:0], &rec)
			}
			recs = append(recs, one...)
			count++
		}
		if err := errors.Join(flush(), w.Flush(), f.Sync(), f.Close()); err != nil {
			return err
		}
	}
	return nil
}
