package storage

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// testRecord is one record of a test batch.
type testRecord struct {
	key, value []byte
	headers    [][2][]byte
	tsDelta    int64
}

// testBatch describes a v2 batch for makeBatch.
type testBatch struct {
	records       []testRecord
	baseTimestamp int64
	producerID    int64
	producerEpoch int16
	baseSequence  int32
}

func appendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return appendVarint(b, -1)
	}
	return append(appendVarint(b, int64(len(v))), v...)
}

// makeBatch encodes a valid, uncompressed v2 RecordBatch.
func makeBatch(tb testBatch) []byte {
	var recs []byte
	maxDelta := int64(0)
	for i, r := range tb.records {
		var body []byte
		body = append(body, 0) // attributes
		body = appendVarint(body, r.tsDelta)
		body = appendVarint(body, int64(i))
		body = appendBytes(body, r.key)
		body = appendBytes(body, r.value)
		body = appendVarint(body, int64(len(r.headers)))
		for _, h := range r.headers {
			body = appendBytes(body, h[0])
			body = appendBytes(body, h[1])
		}
		recs = appendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
		maxDelta = max(maxDelta, r.tsDelta)
	}
	b := make([]byte, batchHeaderSize, batchHeaderSize+len(recs))
	binary.BigEndian.PutUint64(b[0:], 0)
	binary.BigEndian.PutUint32(b[8:], uint32(batchHeaderSize-logOverhead+len(recs)))
	binary.BigEndian.PutUint32(b[12:], 0xffffffff)
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], 0)
	binary.BigEndian.PutUint32(b[23:], uint32(len(tb.records)-1))
	binary.BigEndian.PutUint64(b[27:], uint64(tb.baseTimestamp))
	binary.BigEndian.PutUint64(b[35:], uint64(tb.baseTimestamp+maxDelta))
	binary.BigEndian.PutUint64(b[43:], uint64(tb.producerID))
	binary.BigEndian.PutUint16(b[51:], uint16(tb.producerEpoch))
	binary.BigEndian.PutUint32(b[53:], uint32(tb.baseSequence))
	binary.BigEndian.PutUint32(b[57:], uint32(len(tb.records)))
	b = append(b, recs...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// simpleBatch has n records with a key, a value of valueSize bytes and one
// header, timestamps ts, ts+1, ...; no producer id.
func simpleBatch(n, valueSize int, ts int64) []byte {
	return makeBatch(testBatch{records: records(n, valueSize), baseTimestamp: ts, producerID: -1,
		producerEpoch: -1, baseSequence: -1})
}

func records(n, valueSize int) []testRecord {
	rs := make([]testRecord, n)
	for i := range rs {
		v := []byte(strings.Repeat(string(rune('a'+i%26)), valueSize))
		rs[i] = testRecord{key: []byte{'k', byte(i)}, value: v, tsDelta: int64(i),
			headers: [][2][]byte{{[]byte("h"), []byte("v")}}}
	}
	return rs
}

func idemBatch(n int, pid int64, epoch int16, seq int32) []byte {
	return makeBatch(testBatch{records: records(n, 10), baseTimestamp: 1000, producerID: pid,
		producerEpoch: epoch, baseSequence: seq})
}

// fakeClock is an injectable Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testOpts(t testing.TB, fsys FS, clock *fakeClock) Options {
	o := Options{FS: fsys, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	if clock != nil {
		o.Now = clock.Now
	}
	return o
}

func mustOpen(t testing.TB, dir string, cfg Config, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, [16]byte{1, 2, 3}, cfg, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte, epoch int32) AppendResult {
	t.Helper()
	r, err := l.Append(b, epoch, -1)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return r
}

// faultFS injects failures into writes and fsyncs of files whose name
// contains match (or, through writeErr and syncErr, of any path it picks),
// and counts fsyncs.
type faultFS struct {
	OSFS
	mu         sync.Mutex
	match      string
	tornAfter  int64 // >=0: the next write writes only this many bytes, then fails
	failSync   bool  // the next Sync fails
	failWrites bool  // every write fails
	// noSpaceAfter >= 0: every write writes at most this many bytes and
	// then fails with ENOSPC, as on a full file system.
	noSpaceAfter int64
	// openMatch: opening a path that contains it fails with openErr.
	openMatch string
	openErr   error
	// holdMatch: opening a path that contains it waits until hold is closed.
	holdMatch string
	hold      chan struct{}
	// failRangeSync, when set, picks by their flags the SyncRange calls
	// (the trimmer's write-back path) on matching files that fail.
	failRangeSync func(flags int) bool
	// writeErr, when set, is asked before every Write and WriteAt with
	// the file's path (whatever match is): an error fails the write with
	// nothing written. Called without mu.
	writeErr func(path string) error
	// syncErr, when set, is asked before every Sync of a file or a
	// directory with its path (whatever match is): an error fails the
	// Sync, which is then not counted. Called without mu, after onSync.
	syncErr func(path string) error
	syncs   map[string]int    // Sync calls by path (files and directories)
	onSync  func(path string) // called before each Sync, without mu
	events  []string          // "create <path>" and "sync <path>", in order
}

var errInjected = errors.New("injected fault")

func newFaultFS() *faultFS {
	return &faultFS{match: ".log", tornAfter: -1, noSpaceAfter: -1, syncs: map[string]int{}}
}

func (f *faultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f.mu.Lock()
	openMatch, openErr := f.openMatch, f.openErr
	hold := f.hold
	if f.holdMatch == "" || !strings.Contains(name, f.holdMatch) {
		hold = nil
	}
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if openMatch != "" && strings.Contains(name, openMatch) {
		return nil, &os.PathError{Op: "open", Path: name, Err: openErr}
	}
	_, statErr := os.Stat(name)
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if statErr != nil {
		f.event("create " + name)
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *faultFS) event(e string) {
	f.mu.Lock()
	f.events = append(f.events, e)
	f.mu.Unlock()
}

// setWriteErr sets writeErr (see faultFS) while the log may be writing.
func (f *faultFS) setWriteErr(fn func(string) error) {
	f.mu.Lock()
	f.writeErr = fn
	f.mu.Unlock()
}

// setSyncErr sets syncErr.
func (f *faultFS) setSyncErr(fn func(string) error) {
	f.mu.Lock()
	f.syncErr = fn
	f.mu.Unlock()
}

// syncsOf is how many times path was fsynced.
func (f *faultFS) syncsOf(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.syncs[path]
}

type faultFile struct {
	File
	fs   *faultFS
	name string

	pcMu     sync.Mutex
	pc       PageCacheFile // the real calls, on a description of its own
	pcCloser io.Closer
}

var _ PageCacheFile = (*faultFile)(nil)

// SyncRange fails as failRangeSync says, else makes the real call on a
// description of the file's own (as the trimmer does without the seam).
func (f *faultFile) SyncRange(off, n int64, flags int) error {
	f.fs.mu.Lock()
	fail := f.fs.failRangeSync != nil && f.hit() && f.fs.failRangeSync(flags)
	f.fs.mu.Unlock()
	if fail {
		return errInjected
	}
	if pc := f.pageCache(); pc != nil {
		return pc.SyncRange(off, n, flags)
	}
	return nil
}

func (f *faultFile) Fadvise(off, n int64, advice int) error {
	if pc := f.pageCache(); pc != nil {
		return pc.Fadvise(off, n, advice)
	}
	return nil
}

func (f *faultFile) pageCache() PageCacheFile {
	f.pcMu.Lock()
	defer f.pcMu.Unlock()
	if f.pc == nil {
		f.pc, f.pcCloser, _ = openPageCache(f.File)
	}
	return f.pc
}

func (f *faultFile) Close() error {
	f.pcMu.Lock()
	if f.pcCloser != nil {
		f.pcCloser.Close()
	}
	f.pc, f.pcCloser = nil, nil
	f.pcMu.Unlock()
	return f.File.Close()
}

func (f *faultFile) hit() bool { return strings.Contains(f.name, f.fs.match) }

// injected is what hook (writeErr or syncErr, read under mu) says for f.
func (f *faultFile) injected(hook *func(string) error) error {
	f.fs.mu.Lock()
	fn := *hook
	f.fs.mu.Unlock()
	if fn == nil {
		return nil
	}
	return fn(f.name)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.injected(&f.fs.writeErr); err != nil {
		return 0, err
	}
	f.fs.mu.Lock()
	torn, fail, full := f.fs.tornAfter, f.fs.failWrites, f.fs.noSpaceAfter
	if f.hit() && torn >= 0 {
		f.fs.tornAfter = -1
	}
	f.fs.mu.Unlock()
	if f.hit() && full >= 0 {
		n, _ := f.File.WriteAt(p[:min(int(full), len(p))], off)
		return n, &os.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
	}
	if f.hit() && fail {
		return 0, errInjected
	}
	if f.hit() && torn >= 0 {
		n, _ := f.File.WriteAt(p[:min(int(torn), len(p))], off)
		return n, errInjected
	}
	return f.File.WriteAt(p, off)
}

// Write is File.Write with writeErr and noSpaceAfter (whole-file writes:
// checkpoints, snapshots).
func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.injected(&f.fs.writeErr); err != nil {
		return 0, err
	}
	f.fs.mu.Lock()
	full := f.fs.noSpaceAfter
	f.fs.mu.Unlock()
	if f.hit() && full >= 0 {
		n, _ := f.File.Write(p[:min(int(full), len(p))])
		return n, &os.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
	}
	return f.File.Write(p)
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	onSync := f.fs.onSync
	f.fs.mu.Unlock()
	if onSync != nil {
		onSync(f.name)
	}
	if err := f.injected(&f.fs.syncErr); err != nil {
		return err
	}
	f.fs.mu.Lock()
	fail := f.fs.failSync && f.hit()
	if fail {
		f.fs.failSync = false
	} else {
		f.fs.syncs[f.name]++
		f.fs.events = append(f.fs.events, "sync "+f.name)
	}
	f.fs.mu.Unlock()
	if fail {
		return errInjected
	}
	return f.File.Sync()
}

// dirState maps every file in dir to its size and a hash of its bytes, for
// tests that check that nothing on disk changed.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = fmt.Sprintf("%d bytes, sha256 %x", len(b), sha256.Sum256(b))
	}
	return out
}

// sameDirState fails the test when dir differs from before.
func sameDirState(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	after := dirState(t, dir)
	for name, b := range before {
		if a, ok := after[name]; !ok {
			t.Errorf("%s was removed", name)
		} else if a != b {
			t.Errorf("%s changed: %s, was %s", name, a, b)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s was created", name)
		}
	}
}

// readLogBytes reads the whole log, batch by batch.
func readLogBytes(t *testing.T, l *Log) []byte {
	t.Helper()
	var out []byte
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		r, err := l.Read(off, 1<<20, -1, true)
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		out = append(out, r.Records...)
		off = lastOffsetOf(t, r.Records) + 1
	}
	return out
}

// lastOffsetOf is the last offset of the last batch in b.
func lastOffsetOf(t *testing.T, b []byte) int64 {
	t.Helper()
	var last int64 = -1
	for len(b) > 0 {
		h, err := decodeBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		last = h.LastOffset()
		b = b[h.Size():]
	}
	return last
}
