package storage

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing [off, off+n) of f back to
// the disk without waiting for it (sync_file_range(WRITE)). Best effort.
func startWriteback(f File, off, n int64) {
	withFD(f, func(fd int) error {
		return unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

// dropCached waits until [off, off+n) of f is written back and drops its
// pages from the page cache (posix_fadvise(DONTNEED) only drops clean pages).
func dropCached(f File, off, n int64) error {
	return withFD(f, func(fd int) error {
		const wait = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
		if err := unix.SyncFileRange(fd, off, n, wait); err != nil {
			return err
		}
		return unix.Fadvise(fd, off, n, unix.FADV_DONTNEED)
	})
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
	var df File
	err := withFD(f, func(fd int) error {
		o, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), os.O_RDONLY|syscall.O_DIRECT, 0)
		if err != nil {
			return err
		}
		df = o
		return nil
	})
	if err == nil && df == nil {
		err = os.ErrInvalid
	}
	return df, err
}

// adviseRandom turns kernel readahead off for f (posix_fadvise(RANDOM)).
func adviseRandom(f File) {
	withFD(f, func(fd int) error { return unix.Fadvise(fd, 0, 0, unix.FADV_RANDOM) })
}
