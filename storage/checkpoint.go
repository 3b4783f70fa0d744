package storage

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	partitionMetadataFile = "partition.metadata"
	checkpointFile        = "samsa-checkpoint"
	cleanShutdownFile     = ".samsa-clean-shutdown"
)

// readFile reads a whole file through the FS seam.
func readFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f)
}

// writeFileAtomic writes name through a temp file: write, fsync, rename,
// fsync the directory (Kafka's CheckpointFile / atomicMoveWithFallback).
func writeFileAtomic(fsys FS, name string, data []byte) error {
	if err := renameIntoPlace(fsys, name, data); err != nil {
		return err
	}
	return syncDir(fsys, filepath.Dir(name))
}

// renameIntoPlace is writeFileAtomic without the fsync of the directory: name
// holds either its old content or all of data, durably, but the rename
// itself is durable only once the caller has fsynced the directory (one
// fsync can then cover several files).
func renameIntoPlace(fsys FS, name string, data []byte) error {
	tmp := name + tmpSuffix
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		_ = fsys.Remove(tmp) // a full disk keeps no half file
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return fsys.Rename(tmp, name)
}

// syncDir makes renames and creations in dir durable.
func syncDir(fsys FS, dir string) error {
	d, err := fsys.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// encodePartitionMetadata is Kafka's PartitionMetadataFile format; the topic
// id is printed as Kafka's Uuid.toString (URL-safe base64, no padding).
func encodePartitionMetadata(id [16]byte) []byte {
	return []byte("version: 0\ntopic_id: " + base64.RawURLEncoding.EncodeToString(id[:]) + "\n")
}

func parsePartitionMetadata(b []byte) ([16]byte, error) {
	var id [16]byte
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || strings.TrimSpace(lines[0]) != "version: 0" {
		return id, errors.New("malformed partition.metadata")
	}
	v, ok := strings.CutPrefix(strings.TrimSpace(lines[1]), "topic_id: ")
	if !ok {
		return id, errors.New("malformed partition.metadata")
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) != 16 {
		return id, errors.New("malformed topic id in partition.metadata")
	}
	copy(id[:], raw)
	return id, nil
}

// logCheckpoint is the per-log state Kafka keeps in the data directory's
// recovery-point-offset-checkpoint, replication-offset-checkpoint and
// log-start-offset-checkpoint; samsa keeps it beside the log.
type logCheckpoint struct {
	recoveryPoint  int64
	highWatermark  int64
	logStartOffset int64
}

func (c logCheckpoint) encode() []byte {
	b := make([]byte, 0, 96)
	b = append(b, "0\nrecovery-point "...)
	b = strconv.AppendInt(b, c.recoveryPoint, 10)
	b = append(b, "\nhigh-watermark "...)
	b = strconv.AppendInt(b, c.highWatermark, 10)
	b = append(b, "\nlog-start-offset "...)
	b = strconv.AppendInt(b, c.logStartOffset, 10)
	return append(b, '\n')
}

// readLogCheckpoint reads samsa-checkpoint; found=false when there is none.
func readLogCheckpoint(fsys FS, dir string) (c logCheckpoint, found bool, err error) {
	p := filepath.Join(dir, checkpointFile)
	b, err := readFile(fsys, p)
	if errors.Is(err, os.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, err
	}
	if c, err = parseLogCheckpoint(b); err != nil {
		return c, false, fmt.Errorf("%s: %w", p, err)
	}
	return c, true, nil
}

func parseLogCheckpoint(b []byte) (logCheckpoint, error) {
	c := logCheckpoint{}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 || lines[0] != "0" {
		return c, fmt.Errorf("malformed %s", checkpointFile)
	}
	dst := []*int64{&c.recoveryPoint, &c.highWatermark, &c.logStartOffset}
	keys := []string{"recovery-point", "high-watermark", "log-start-offset"}
	for i, l := range lines[1:] {
		k, v, ok := strings.Cut(l, " ")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || k != keys[i] || err != nil {
			return c, fmt.Errorf("malformed %s line %q", checkpointFile, l)
		}
		*dst[i] = n
	}
	return c, nil
}

// exists reports whether name exists (errors other than not-exist count as
// present so that a flaky stat never triggers a destructive path).
func exists(fsys FS, name string) bool {
	_, err := fsys.Stat(name)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
