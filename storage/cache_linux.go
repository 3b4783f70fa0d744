package storage

import (
	"io"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing [off, off+n) back to the
// disk without waiting for it (sync_file_range(WRITE)).
func startWriteback(pc PageCacheFile, off, n int64) error {
	return pc.SyncRange(off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// waitWriteback waits until [off, off+n) is written back, reporting a
// write-back error of the file since pc last did.
func waitWriteback(pc PageCacheFile, off, n int64) error {
	return pc.SyncRange(off, n, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
}

// dropClean drops the clean cached pages of [off, off+n) (posix_fadvise
// (DONTNEED) only drops clean pages).
func dropClean(pc PageCacheFile, off, n int64) error {
	return pc.Fadvise(off, n, unix.FADV_DONTNEED)
}

// osPageCache is the trimmer's own open file description of a log file.
type osPageCache struct{ f *os.File }

func (p osPageCache) SyncRange(off, n int64, flags int) error {
	return withFD(p.f, func(fd int) error { return unix.SyncFileRange(fd, off, n, flags) })
}

func (p osPageCache) Fadvise(off, n int64, advice int) error {
	return withFD(p.f, func(fd int) error { return unix.Fadvise(fd, off, n, advice) })
}

// openPageCache opens f's file again, read-only, through /proc/self/fd (so
// that a renamed or unlinked segment still opens), for the trimmer's calls.
func openPageCache(f File) (PageCacheFile, io.Closer, error) {
	o, err := reopen(f, os.O_RDONLY)
	if err != nil {
		return nil, nil, err
	}
	return osPageCache{o}, o, nil
}

// dropCachedClean drops the clean cached pages of [off, off+n) without
// waiting for any writeback (for ranges read back from the disk).
func dropCachedClean(f File, off, n int64) {
	withFD(f, func(fd int) error { return unix.Fadvise(fd, off, n, unix.FADV_DONTNEED) })
}

// withFD runs fn with f's descriptor; files without one (the test file
// systems) are left alone.
func withFD(f File, fn func(fd int) error) error {
	sc, ok := f.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// openDirect opens f's file again, read-only with O_DIRECT, through
// /proc/self/fd so that a renamed or unlinked segment still opens.
func openDirect(f File) (File, error) {
	o, err := reopen(f, os.O_RDONLY|syscall.O_DIRECT)
	if err != nil {
		return nil, err
	}
	return o, nil
}

// reopen opens f's file again with flag through /proc/self/fd: a new open
// file description of the same file.
func reopen(f File, flag int) (*os.File, error) {
	var o *os.File
	err := withFD(f, func(fd int) error {
		var err error
		o, err = os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), flag, 0)
		return err
	})
	if err == nil && o == nil {
		err = os.ErrInvalid // f has no descriptor
	}
	return o, err
}

// adviseRandom turns kernel readahead off for f (posix_fadvise(RANDOM)).
func adviseRandom(f File) {
	withFD(f, func(fd int) error { return unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM) })
}
