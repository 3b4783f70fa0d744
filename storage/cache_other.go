//go:build !linux

package storage

import "os"

// Without sync_file_range the page cache is left to the kernel.

func startWriteback(File, int64, int64)   {}
func dropCached(File, int64, int64) error { return nil }
func dropCachedClean(File, int64, int64)  {}
func openDirect(File) (File, error)       { return nil, os.ErrInvalid }
func adviseRandom(File)                   {}
