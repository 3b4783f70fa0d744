package main

// Footprint: what has to be installed to run the broker. samsa is its one
// binary; Kafka is the jars of its distribution (kafka_2.13, kafka-tools and
// their runtime dependencies, as scripts/kafka.sh fetches them), without the
// JVM it also needs. Ready time and idle RSS are measured per round
// (workloads.go).

import (
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
