package storage

import (
	"container/list"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// Index files are opened only while they are used. An offset or time
// index lives in memory (its entries are what lookups read); its file is
// written when the index grows (the active segment), is rewritten or cut,
// and fsynced with the log. So its descriptor need not stay open between
// those: Kafka maps its indexes and closes their descriptors, and holds
// one per segment, the log's. Without this, a broker holds three
// descriptors per segment, and 10,000 partitions need 30,000 of them (more
// than many machines' hard limit).
//
// A lazyFile reopens its file (O_RDWR, never creating it) when it is used
// while closed. A process-wide pool bounds how many are open: opening one
// more closes the least recently used ones that are idle, each fsynced
// first if it was written since its last fsync (a failed fsync is kept and
// returned by the file's next Sync, as the flush that would have seen it).
// A reopened file must be the file that was opened first (the same device
// and inode): if it was replaced, the operation fails instead of writing
// into another file.

// lazyFilePool is the pool of open lazy files.
type lazyFilePool struct {
	mu    sync.Mutex
	limit int
	lru   list.List // of *lazyFile, most recently used first
}

var indexFiles = &lazyFilePool{limit: defaultLazyFileLimit()}

// defaultLazyFileLimit is a quarter of the process's descriptor limit
// (the Go runtime raises the soft limit to the hard one), at least 64: the
// rest is for log files and connections.
func defaultLazyFileLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 1024
	}
	n := rl.Cur / 4
	if n < 64 {
		n = 64
	}
	if n > 1<<20 {
		n = 1 << 20
	}
	return int(n)
}

// lazyFile is one index file of a segment.
type lazyFile struct {
	fs   FS
	path string
	pool *lazyFilePool

	mu      sync.Mutex
	f       File // nil while closed
	elem    *list.Element
	dirty   bool  // written since its last fsync
	syncErr error // an fsync that failed when the pool closed it
	ident   *syscall.Stat_t
	closed  bool // Close was called
}

// openLazyFile opens path with flag (which may create or truncate it) and
// returns it as a lazy file of pool.
func openLazyFile(fsys FS, path string, flag int, pool *lazyFilePool) (*lazyFile, error) {
	f, err := fsys.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, err
	}
	// A file this open may have created or truncated is dirty: its size
	// is not durable until an fsync.
	lf := &lazyFile{fs: fsys, path: path, pool: pool, f: f, ident: statIdent(f), dirty: flag&(os.O_CREATE|os.O_TRUNC) != 0}
	pool.opened(lf)
	return lf, nil
}

func statIdent(f File) *syscall.Stat_t {
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	return st
}

var errIndexFileReplaced = errors.New("storage: index file replaced while closed")

// use makes lf's file open; lf.mu held.
func (lf *lazyFile) use() (File, error) {
	if lf.closed {
		return nil, os.ErrClosed
	}
	if lf.f != nil {
		lf.pool.touch(lf)
		return lf.f, nil
	}
	f, err := lf.fs.OpenFile(lf.path, os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: reopening %s: %w", lf.path, err)
	}
	if was, now := lf.ident, statIdent(f); was != nil && now != nil && (was.Dev != now.Dev || was.Ino != now.Ino) {
		f.Close()
		return nil, fmt.Errorf("%w: %s", errIndexFileReplaced, lf.path)
	}
	lf.f = f
	lf.pool.opened(lf)
	return f, nil
}

func (lf *lazyFile) ReadAt(p []byte, off int64) (int, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	f, err := lf.use()
	if err != nil {
		return 0, err
	}
	return f.ReadAt(p, off)
}

func (lf *lazyFile) WriteAt(p []byte, off int64) (int, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	f, err := lf.use()
	if err != nil {
		return 0, err
	}
	lf.dirty = true
	return f.WriteAt(p, off)
}

func (lf *lazyFile) Write(p []byte) (int, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	f, err := lf.use()
	if err != nil {
		return 0, err
	}
	lf.dirty = true
	return f.Write(p)
}

func (lf *lazyFile) Truncate(size int64) error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	f, err := lf.use()
	if err != nil {
		return err
	}
	lf.dirty = true
	return f.Truncate(size)
}

// Sync fsyncs the file if it was written since its last fsync; a closed
// clean file has nothing to sync. An fsync that failed when the pool
// closed the file is returned here, once.
func (lf *lazyFile) Sync() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if err := lf.syncErr; err != nil {
		lf.syncErr = nil
		return err
	}
	if lf.f == nil {
		if lf.closed {
			return os.ErrClosed
		}
		return nil
	}
	if !lf.dirty {
		// Nothing since the last fsync: on this machine's virtual disk an
		// fsync of an unchanged file still costs a device flush.
		return nil
	}
	if err := lf.f.Sync(); err != nil {
		return err
	}
	lf.dirty = false
	return nil
}

func (lf *lazyFile) Stat() (os.FileInfo, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	f, err := lf.use()
	if err != nil {
		return nil, err
	}
	return f.Stat()
}

func (lf *lazyFile) Name() string { return lf.path }

// Close closes the file for good.
func (lf *lazyFile) Close() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.closed {
		return os.ErrClosed
	}
	lf.closed = true
	lf.pool.forget(lf)
	if lf.f == nil {
		return nil
	}
	err := lf.f.Close()
	lf.f = nil
	return err
}

// release fsyncs a dirty file and closes its descriptor; lf.mu held.
func (lf *lazyFile) release() {
	if lf.dirty {
		if err := lf.f.Sync(); err != nil && lf.syncErr == nil {
			lf.syncErr = err
		}
		lf.dirty = false
	}
	_ = lf.f.Close()
	lf.f = nil
}

// opened records lf as open and closes the least recently used idle files
// beyond the limit. lf.mu is held by the caller: files whose lock is taken
// (in use) are passed over, so no lock order can deadlock.
func (p *lazyFilePool) opened(lf *lazyFile) {
	p.mu.Lock()
	defer p.mu.Unlock()
	lf.elem = p.lru.PushFront(lf)
	for e := p.lru.Back(); e != nil && p.lru.Len() > p.limit; {
		prev := e.Prev()
		v := e.Value.(*lazyFile)
		if v != lf && v.mu.TryLock() {
			p.lru.Remove(e)
			v.elem = nil
			v.release()
			v.mu.Unlock()
		}
		e = prev
	}
}

// touch marks lf as just used; lf.mu held.
func (p *lazyFilePool) touch(lf *lazyFile) {
	p.mu.Lock()
	if lf.elem != nil {
		p.lru.MoveToFront(lf.elem)
	}
	p.mu.Unlock()
}

// forget drops lf from the pool; lf.mu held.
func (p *lazyFilePool) forget(lf *lazyFile) {
	p.mu.Lock()
	if lf.elem != nil {
		p.lru.Remove(lf.elem)
		lf.elem = nil
	}
	p.mu.Unlock()
}

// open is the number of files of the pool that are open.
func (p *lazyFilePool) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lru.Len()
}
