//go:build !linux

package storage

import (
	"io"
	"os"
)

// Without sync_file_range the page cache is left to the kernel.

func startWriteback(PageCacheFile, int64, int64) error     { return nil }
func waitWriteback(PageCacheFile, int64, int64) error      { return nil }
func dropClean(PageCacheFile, int64, int64) error          { return nil }
func openPageCache(File) (PageCacheFile, io.Closer, error) { return nil, nil, os.ErrInvalid }
func dropCachedClean(File, int64, int64)                   {}
func openDirect(File) (File, error)                        { return nil, os.ErrInvalid }
func adviseRandom(File)                                    {}
