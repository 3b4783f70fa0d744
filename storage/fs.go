package storage

import (
	"io"
	"os"
)

// FS is the file-system seam. The real implementation is the os package;
// storage unit tests inject faults (torn writes, failed fsyncs, missing or
// corrupt index files) through it.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Remove(name string) error
	RemoveAll(path string) error
	Rename(oldpath, newpath string) error
	MkdirAll(path string, perm os.FileMode) error
	ReadDir(name string) ([]os.DirEntry, error)
	Stat(name string) (os.FileInfo, error)
}

// File is the subset of *os.File the log uses.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Writer
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Name() string
}

// PageCacheFile is an optional interface of a File: the page-cache calls
// of the trimmer (cache.go). When a segment's log file implements it, the
// trimmer makes its calls there; otherwise it makes them on a descriptor of
// its own, the log file opened again read-only, and never on the descriptor
// the log writes and fsyncs. Linux reports a write-back error once per open
// file description: a sync_file_range that waited on the fsync's
// description would take the error that fsync must return. An
// implementation keeps to that rule; test file systems implement it to
// inject failures.
type PageCacheFile interface {
	// SyncRange is sync_file_range(2) of [off, off+n), flags
	// SYNC_FILE_RANGE_*.
	SyncRange(off, n int64, flags int) error
	// Fadvise is posix_fadvise(2) of [off, off+n), advice FADV_*.
	Fadvise(off, n int64, advice int) error
}
