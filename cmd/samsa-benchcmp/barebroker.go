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
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

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
	var h [27]byte
	for pos := int64(0); pos < st.Size(); {
		if _, err := f.ReadAt(h[:], pos); err != nil {
			return nil, fmt.Errorf("%s at %d: %w", path, pos, err)
		}
		base := int64(binary.BigEndian.Uint64(h[0:]))
		size := 12 + int64(int32(binary.BigEndian.Uint32(h[8:])))
		last := base + int64(int32(binary.BigEndian.Uint32(h[23:])))
		if size < 61 || pos+size > st.Size() || base != bp.end {
			return nil, fmt.Errorf("%s at %d: not a log of consecutive batches", path, pos)
		}
		bp.batches = append(bp.batches, bareBatch{base: base, last: last, pos: pos, size: size})
		bp.end = last + 1
		pos += size
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
	var buf, out []byte
	for {
		var size [4]byte
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return err
		}
		n := int32(binary.BigEndian.Uint32(size[:]))
		if n < 10 || n > 1<<20 {
			return fmt.Errorf("request of %d bytes", n)
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		key, ver := int16(binary.BigEndian.Uint16(buf)), int16(binary.BigEndian.Uint16(buf[2:]))
		corr := binary.BigEndian.Uint32(buf[4:])
		body := buf[8:]
		if idLen := int16(binary.BigEndian.Uint16(body)); idLen > 0 {
			if int(idLen)+2 > len(body) {
				return errors.New("truncated client id")
			}
			body = body[idLen:]
		}
		body = body[2:]
		req := kmsg.RequestForKey(key)
		vr, ok := bareVersions[key]
		if req == nil || !ok {
			return fmt.Errorf("request key %d is not served", key)
		}
		unsupported := ver < vr[0] || ver > vr[1]
		if unsupported {
			if key != 18 {
				return fmt.Errorf("request key %d version %d is not served", key, ver)
			}
			ver = 0 // UNSUPPORTED_VERSION in a v0 response, as Kafka does
		}
		req.SetVersion(ver)
		if req.IsFlexible() {
			var err error
			if body, err = skipTags(body); err != nil {
				return err
			}
		}
		if err := req.ReadFrom(body); err != nil && key != 18 {
			return fmt.Errorf("request key %d v%d: %w", key, ver, err)
		}
		out = append(out[:0], 0, 0, 0, 0)
		out = binary.BigEndian.AppendUint32(out, corr)
		if req.IsFlexible() && key != 18 {
			out = append(out, 0) // response header tags; ApiVersions' header is v0
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
			if err := s.fetch(c, q, out, files); err != nil {
				return err
			}
			continue
		}
		out = resp.AppendTo(out)
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
}

// skipTags skips a tagged field section.
func skipTags(b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errors.New("bad tagged fields")
	}
	b = b[k:]
	for range n {
		_, k := binary.Uvarint(b) // tag
		if k <= 0 {
			return nil, errors.New("bad tagged fields")
		}
		b = b[k:]
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, errors.New("bad tagged fields")
		}
		b = b[k+int(l):]
	}
	return b, nil
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
	topic     string
	partition int32
	errCode   int16
	hw        int64
	pos, size int64
}

// fetch answers a fetch (v4 to v11, not flexible): the header and each
// partition's fields are written from out, each partition's batches sent
// from its file with sendfile. As Kafka does, each partition gets whole
// batches up to its PartitionMaxBytes and the response up to MaxBytes, but
// the response's first batch always goes. With nothing to send it waits MaxWaitMillis (no new
// data ever arrives) and answers empty.
func (s *bareServer) fetch(c net.Conn, q *kmsg.FetchRequest, out []byte, files map[int32]*os.File) error {
	var sends []bareSend
	var total int64
	for _, t := range q.Topics {
		for _, p := range t.Partitions {
			sd := bareSend{topic: t.Topic, partition: p.Partition, hw: -1}
			bp := s.partition(t.Topic, p.Partition)
			switch {
			case bp == nil:
				sd.errCode = 3
			case p.FetchOffset < 0 || p.FetchOffset > bp.end:
				sd.errCode, sd.hw = 1, bp.end // OFFSET_OUT_OF_RANGE
			default:
				sd.hw = bp.end
				i := 0
				for i < len(bp.batches) && bp.batches[i].last < p.FetchOffset {
					i++
				}
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
			sends = append(sends, sd)
		}
	}
	if total == 0 && q.MaxWaitMillis > 0 {
		time.Sleep(time.Duration(min(q.MaxWaitMillis, 5000)) * time.Millisecond)
	}
	v := q.Version
	out = binary.BigEndian.AppendUint32(out, 0) // throttle
	if v >= 7 {
		out = binary.BigEndian.AppendUint16(out, 0) // error
		out = binary.BigEndian.AppendUint32(out, 0) // no session
	}
	// Topics in request order, each partition under its topic.
	var topicCount uint32
	for i, sd := range sends {
		if i == 0 || sends[i-1].topic != sd.topic {
			topicCount++
		}
	}
	out = binary.BigEndian.AppendUint32(out, topicCount)
	wire := int64(len(out)) + total // so far, plus every batch
	var parts []int
	for i, sd := range sends {
		if i == 0 || sends[i-1].topic != sd.topic {
			n := 0
			for j := i; j < len(sends) && sends[j].topic == sd.topic; j++ {
				n++
			}
			parts = append(parts, n)
		}
	}
	// The header's length is the whole response's: count the fields first.
	fieldLen := func(v int16) int64 {
		n := int64(4 + 2 + 8 + 8 + 4 + 4) // partition, error, hw, lso, aborted, records length
		if v >= 5 {
			n += 8
		}
		if v >= 11 {
			n += 4
		}
		return n
	}
	for i, sd := range sends {
		if i == 0 || sends[i-1].topic != sd.topic {
			wire += 2 + int64(len(sd.topic)) + 4
		}
		wire += fieldLen(v)
	}
	binary.BigEndian.PutUint32(out, uint32(wire-4))
	ti := 0
	for i, sd := range sends {
		if i == 0 || sends[i-1].topic != sd.topic {
			out = binary.BigEndian.AppendUint16(out, uint16(len(sd.topic)))
			out = append(out, sd.topic...)
			out = binary.BigEndian.AppendUint32(out, uint32(parts[ti]))
			ti++
		}
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
		if err != nil {
			return err
		}
	}
	if len(out) > 0 {
		if _, err := c.Write(out); err != nil {
			return err
		}
	}
	return nil
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
	value := make([]byte, recordSize)
	crcTable := crc32.MakeTable(crc32.Castagnoli)
	now := time.Now().UnixMilli()
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
		var batch, recs []byte
		var base int64
		count := int32(0)
		flush := func() error {
			if count == 0 {
				return nil
			}
			batch = binary.BigEndian.AppendUint64(batch[:0], uint64(base))
			batch = binary.BigEndian.AppendUint32(batch, uint32(49+len(recs)))
			batch = binary.BigEndian.AppendUint32(batch, 0) // partition leader epoch
			batch = append(batch, 2)                        // magic
			batch = binary.BigEndian.AppendUint32(batch, 0) // crc, below
			crcFrom := len(batch)
			batch = binary.BigEndian.AppendUint16(batch, 0) // attributes
			batch = binary.BigEndian.AppendUint32(batch, uint32(count-1))
			batch = binary.BigEndian.AppendUint64(batch, uint64(now))
			batch = binary.BigEndian.AppendUint64(batch, uint64(now))
			batch = binary.BigEndian.AppendUint64(batch, ^uint64(0)) // producer id -1
			batch = binary.BigEndian.AppendUint16(batch, 0xffff)     // producer epoch -1
			batch = binary.BigEndian.AppendUint32(batch, 0xffffffff) // base sequence -1
			batch = binary.BigEndian.AppendUint32(batch, uint32(count))
			batch = append(batch, recs...)
			crc := crc32.Update(0, crcTable, batch[crcFrom:])
			binary.BigEndian.PutUint32(batch[crcFrom-4:], crc)
			_, err := w.Write(batch)
			base += int64(count)
			count, recs = 0, recs[:0]
			return err
		}
		var rec []byte
		for range n {
			_, _ = rng.Read(value)
			rec = appendBareRecord(rec[:0], count, value)
			if count > 0 && 61+len(recs)+len(rec) > bareBatchMaxBytes {
				if err := flush(); err != nil {
					f.Close()
					return err
				}
				rec = appendBareRecord(rec[:0], 0, value)
			}
			recs = append(recs, rec...)
			count++
		}
		err = errors.Join(flush(), w.Flush(), f.Sync(), f.Close())
		if err != nil {
			return err
		}
	}
	return nil
}

// appendBareRecord appends a record (its length first) with offset delta
// delta, no key, value and no headers.
func appendBareRecord(dst []byte, delta int32, value []byte) []byte {
	var body [4 * binary.MaxVarintLen64]byte
	b := append(body[:0], 0)      // attributes
	b = binary.AppendVarint(b, 0) // timestamp delta
	b = binary.AppendVarint(b, int64(delta))
	b = binary.AppendVarint(b, -1) // no key
	b = binary.AppendVarint(b, int64(len(value)))
	dst = binary.AppendVarint(dst, int64(len(b)+len(value)+1))
	dst = append(dst, b...)
	dst = append(dst, value...)
	return binary.AppendVarint(dst, 0) // no headers
}
