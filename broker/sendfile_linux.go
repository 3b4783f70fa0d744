package broker

import (
	"fmt"
	"net"
	"syscall"

	"github.com/samsa-io/samsa/storage"
)

// sendFileSliceFD sends the slice with sendfile(2) at its own offset (the
// file's shared position is never used, so concurrent sends of one segment
// do not interfere). handled is false when nc or the file has no
// descriptor (a TLS connection, a test file system).
func sendFileSliceFD(nc net.Conn, fs storage.FileSlice) (handled bool, err error) {
	dst, ok := nc.(syscall.Conn)
	if !ok {
		return false, nil
	}
	src, ok := fs.File().(syscall.Conn)
	if !ok {
		return false, nil
	}
	draw, err := dst.SyscallConn()
	if err != nil {
		return false, nil
	}
	sraw, err := src.SyscallConn()
	if err != nil {
		return false, nil
	}
	off, remain := fs.Pos, fs.Len
	var serr error
	cerr := sraw.Control(func(sfd uintptr) {
		werr := draw.Write(func(dfd uintptr) bool {
			for remain > 0 {
				n, err := syscall.Sendfile(int(dfd), int(sfd), &off, int(min(remain, 1<<30)))
				if n > 0 {
					remain -= int64(n)
				}
				switch {
				case err == syscall.EAGAIN:
					return false // wait until the socket is writable
				case err == syscall.EINTR:
					continue
				case err != nil:
					serr = fmt.Errorf("broker: sendfile: %w", err)
					return true
				case n == 0:
					serr = fmt.Errorf("%w: %d bytes missing", errShortFileSlice, remain)
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if serr == nil {
		serr = cerr
	}
	return true, serr
}
