//go:build !linux

package broker

import (
	"net"

	"github.com/samsa-io/samsa/storage"
)

// sendFileSliceFD: sendfile is used on Linux only; elsewhere the slice is
// copied (sendFileSlice).
func sendFileSliceFD(net.Conn, storage.FileSlice) (bool, error) { return false, nil }
