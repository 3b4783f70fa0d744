package difftest

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// The recorded corpus (corpus/*.jsonl.gz): what one client sent to Apache
// Kafka through the recording proxy and what Kafka answered, one JSON
// object per line, gzip-compressed. The first line is the meta event; the
// others are in the order the proxy saw them (Seq), which is a causal
// order: the proxy logs a response before it forwards it, so a request
// logged after a response may depend on it, and one logged before cannot.

// Event is one line of a recording.
type Event struct {
	Seq  int    `json:"seq"`
	Conn int    `json:"conn,omitempty"` // the client connection, from 1
	Dir  string `json:"dir"`            // "meta", "req", "resp" or "close"
	US   int64  `json:"us,omitempty"`   // microseconds since the recording began
	Key  int16  `json:"key,omitempty"`  // request API key (req)
	Ver  int16  `json:"ver,omitempty"`  // request version (req)
	Corr int32  `json:"corr,omitempty"` // correlation id (req, resp)
	// By says who closed the connection (close): "client" or "broker".
	By string `json:"by,omitempty"`
	// Frame is the whole frame without its length prefix (req, resp).
	Frame []byte `json:"frame,omitempty"`

	// Meta (meta only).
	Client  string `json:"client,omitempty"`
	Kafka   string `json:"kafka,omitempty"`
	Note    string `json:"note,omitempty"`
	Capped  bool   `json:"capped,omitempty"` // the size cap cut the recording short
	Started string `json:"started,omitempty"`
}

// parseRequestHeader reads key, version and correlation id from a request
// frame (no length prefix).
func parseRequestHeader(frame []byte) (key, version int16, corr int32, err error) {
	if len(frame) < 8 {
		return 0, 0, 0, fmt.Errorf("difftest: %d-byte request frame", len(frame))
	}
	return int16(binary.BigEndian.Uint16(frame)), int16(binary.BigEndian.Uint16(frame[2:])),
		int32(binary.BigEndian.Uint32(frame[4:])), nil
}

// ReadCorpus reads a recording (gzip if the name ends in .gz).
func ReadCorpus(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("difftest: %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	var out []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("difftest: %s line %d: %w", path, n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("difftest: %s: %w", path, err)
	}
	if len(out) == 0 || out[0].Dir != "meta" {
		return nil, fmt.Errorf("difftest: %s: no meta line first", path)
	}
	return out, nil
}

// corpusWriter writes one recording.
type corpusWriter struct {
	f  *os.File
	gz *gzip.Writer
	w  *bufio.Writer
	n  int64 // frame bytes written so far
}

func createCorpus(path string) (*corpusWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	gz, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	return &corpusWriter{f: f, gz: gz, w: bufio.NewWriter(gz)}, nil
}

func (c *corpusWriter) write(e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	c.n += int64(len(e.Frame))
	if _, err := c.w.Write(append(b, '\n')); err != nil {
		return err
	}
	return nil
}

func (c *corpusWriter) close() error {
	if err := c.w.Flush(); err != nil {
		c.f.Close()
		return err
	}
	if err := c.gz.Close(); err != nil {
		c.f.Close()
		return err
	}
	return c.f.Close()
}
