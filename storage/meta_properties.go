package storage

// meta.properties: which cluster and node a log directory belongs to.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MetaPropertiesFile is the name of the file Kafka keeps in every log
// directory to tie it to one cluster and one node.
const MetaPropertiesFile = "meta.properties"

// ErrBadMetaProperties: meta.properties exists but cannot be read as
// Kafka's version 1 format. Start-up refuses rather than guess.
var ErrBadMetaProperties = errors.New("storage: unreadable meta.properties")

// MetaProperties is the content of a log directory's meta.properties in
// Kafka's version 1 layout (KRaft): a Java properties file with version,
// cluster.id, node.id and directory.id.
type MetaProperties struct {
	ClusterID   string
	NodeID      int32
	DirectoryID string // a Kafka Uuid string; empty when the file has none
}

// ReadMetaProperties reads dir's meta.properties. ok is false when the
// file does not exist; a file that exists but is not a valid version 1
// file returns ErrBadMetaProperties naming what is wrong.
func ReadMetaProperties(fsys FS, dir string) (mp MetaProperties, ok bool, err error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	path := filepath.Join(dir, MetaPropertiesFile)
	b, err := readFile(fsys, path)
	if errors.Is(err, os.ErrNotExist) {
		return MetaProperties{}, false, nil
	}
	if err != nil {
		return MetaProperties{}, false, fmt.Errorf("storage: read %s: %w", path, err)
	}
	props := parseJavaProperties(b)
	bad := func(format string, args ...any) (MetaProperties, bool, error) {
		return MetaProperties{}, false, fmt.Errorf("%w: %s: %s", ErrBadMetaProperties, path, fmt.Sprintf(format, args...))
	}
	switch v := props["version"]; v {
	case "1":
	case "":
		return bad("no version")
	default:
		return bad("version %q (samsa reads version 1, Kafka's KRaft layout)", v)
	}
	mp.ClusterID = props["cluster.id"]
	if mp.ClusterID == "" {
		return bad("no cluster.id")
	}
	n, err := strconv.ParseInt(props["node.id"], 10, 32)
	if err != nil || n < 0 {
		return bad("node.id %q is not a broker id", props["node.id"])
	}
	mp.NodeID = int32(n)
	mp.DirectoryID = props["directory.id"]
	return mp, true, nil
}

// WriteMetaProperties writes dir's meta.properties atomically (temp file,
// fsync, rename, directory fsync), in the layout Kafka's StorageTool writes.
func WriteMetaProperties(fsys FS, dir string, mp MetaProperties) error {
	if fsys == nil {
		fsys = OSFS{}
	}
	if mp.ClusterID == "" || mp.NodeID < 0 {
		return fmt.Errorf("storage: meta.properties needs a cluster id and a node id, got %q and %d", mp.ClusterID, mp.NodeID)
	}
	var b bytes.Buffer
	b.WriteString("#\n#" + time.Now().UTC().Format("Mon Jan 02 15:04:05 MST 2006") + "\n")
	b.WriteString("cluster.id=" + mp.ClusterID + "\n")
	if mp.DirectoryID != "" {
		b.WriteString("directory.id=" + mp.DirectoryID + "\n")
	}
	b.WriteString("node.id=" + strconv.Itoa(int(mp.NodeID)) + "\n")
	b.WriteString("version=1\n")
	if err := writeFileAtomic(fsys, filepath.Join(dir, MetaPropertiesFile), b.Bytes()); err != nil {
		return fmt.Errorf("storage: write %s: %w", filepath.Join(dir, MetaPropertiesFile), err)
	}
	return nil
}

// NewDirectoryID returns a random Kafka Uuid string for directory.id:
// version 4, never one of Kafka's reserved ids (the first 100 of the
// all-zero high half), never starting with '-'.
func NewDirectoryID() string {
	for {
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			panic(fmt.Sprintf("storage: crypto/rand: %v", err))
		}
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		s := base64.RawURLEncoding.EncodeToString(id[:])
		if s[0] != '-' {
			return s
		}
	}
}

// parseJavaProperties reads the subset of the java.util.Properties format
// that meta.properties uses: one key=value (or key:value) per line, '#' and
// '!' comments, surrounding blanks trimmed.
func parseJavaProperties(b []byte) map[string]string {
	out := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			out[line] = ""
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out
}
