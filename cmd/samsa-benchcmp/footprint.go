package main

// Footprint: what has to be installed to run the broker. samsa is its one
// binary; Kafka is the jars of its distribution (kafka_2.13, kafka-tools and
// their runtime dependencies, as scripts/kafka.sh fetches them), without the
// JVM it also needs. Ready time and idle RSS are measured per round
// (workloads.go).

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
)

const installKey = "install_mib"

// footprint returns the install size in MiB per system of the run; a system
// whose size cannot be read is left out.
func footprint(samsaBin, kafkaLibs string, systems []string) map[string]float64 {
	out := map[string]float64{}
	for _, sys := range systems {
		switch sys {
		case "samsa", samsaCache0:
			if fi, err := os.Stat(samsaBin); err == nil {
				out[sys] = float64(fi.Size()) / (1 << 20)
			}
		case "kafka":
			if n, err := jarBytes(kafkaLibs); err == nil && n > 0 {
				out[sys] = float64(n) / (1 << 20)
			}
		}
	}
	return out
}

// jarBytes is the total size of the *.jar files directly in dir.
func jarBytes(dir string) (int64, error) {
	if dir == "" {
		return 0, os.ErrNotExist
	}
	jars, err := filepath.Glob(filepath.Join(dir, "*.jar"))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, j := range jars {
		fi, err := os.Stat(j)
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}

// The Docker image. This machine has no docker engine and cannot pull the
// Dockerfile's base, so the image is not built. What samsa adds to the base
// is measured instead: the Dockerfile's final stage copies one static binary
// (CGO off, -trimpath, -ldflags "-s -w"; scripts/bench-compare.sh builds it
// the same way, --image-binary) and an empty /var/lib/samsa onto
// distroless/static. imageLayer writes that layer as the tar an image holds
// and counts its bytes, and the bytes of the same tar gzipped (what a pull
// downloads).

// distrolessStaticMiB is gcr.io/distroless/static-debian12's size as the
// distroless project's README gives it ("around 2 MiB"), not measured here.
const distrolessStaticMiB = 2

const imageKey = "image_layer_mib"

// imageLayer is the size of the image layer samsa's Dockerfile adds.
type imageLayer struct {
	TarMiB  float64 `json:"tar_mib"`
	GzipMiB float64 `json:"gzip_mib"`
}

// measureImageLayer tars bin as /samsa plus the directory /var/lib/samsa/
// (owned by 65532, as the Dockerfile's COPY --chown makes it) and returns
// the tar's size and its gzipped size.
func measureImageLayer(bin string) (*imageLayer, error) {
	f, err := os.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var raw, zipped countingWriter
	zw, err := gzip.NewWriterLevel(&zipped, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(io.MultiWriter(&raw, zw))
	mtime := st.ModTime()
	for _, d := range []string{"var/", "var/lib/", "var/lib/samsa/"} {
		h := &tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: mtime}
		if d == "var/lib/samsa/" {
			h.Uid, h.Gid = 65532, 65532
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "samsa", Mode: 0o755, Size: st.Size(), ModTime: mtime}); err != nil {
		return nil, err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return nil, err
	}
	if err := errors.Join(tw.Close(), zw.Close()); err != nil {
		return nil, err
	}
	return &imageLayer{TarMiB: float64(raw.n) / (1 << 20), GzipMiB: float64(zipped.n) / (1 << 20)}, nil
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
