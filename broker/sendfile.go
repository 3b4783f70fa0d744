package broker

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/samsa-io/samsa/storage"
)

// errShortFileSlice: a segment file held fewer bytes than the fetch frame
// announced (it was truncated under a pending send). The frame cannot be
// finished, so the connection is closed.
var errShortFileSlice = errors.New("broker: segment file shorter than the fetch response announced")

// sendFileSlice writes the slice's bytes to nc: with sendfile when both ends
// are file descriptors (sendFileSliceFD), else by reading and writing.
func sendFileSlice(nc net.Conn, fs storage.FileSlice) error {
	if handled, err := sendFileSliceFD(nc, fs); handled {
		return err
	}
	n, err := io.Copy(nc, io.NewSectionReader(fs, 0, fs.Len))
	if err == nil && n != fs.Len {
		err = fmt.Errorf("%w: %d of %d bytes", errShortFileSlice, n, fs.Len)
	}
	return err
}
