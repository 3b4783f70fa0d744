package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The test binary is also the bare sender when floorPass starts it again.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == sendfileSenderArg {
		if err := sendfileSender(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The bare sender sends the whole file, the reader reads all of it, and the
// sender's CPU comes back with it.
func TestSendfileFloorPass(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "f")
	const size = 8<<20 + 123
	if err := writeFloorFile(path, size); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != size {
		t.Fatalf("floor file: %v, %v", st, err)
	}
	p, err := floorPass(context.Background(), self, path)
	if err != nil {
		t.Fatal(err)
	}
	if p.bytes != size || p.cpu < 0 {
		t.Fatalf("pass: %+v, want %d bytes", p, size)
	}
	v, err := floorRun(context.Background(), self, path, 2, false)
	if err != nil || v < 0 {
		t.Fatalf("run: %v s/GiB, %v", v, err)
	}
	if m, z := medianOrZero([]float64{0.3, 0.1, 0.2}), medianOrZero(nil); m != 0.2 || z != 0 {
		t.Fatalf("medianOrZero: %v and %v, want 0.2 and 0", m, z)
	}
	if _, err := floorPass(context.Background(), self, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a sender that cannot open its file did not fail the pass")
	}
}

// The report compares the floor with Kafka's consume cost and says whether
// the target is below it.
func TestReportFloor(t *testing.T) {
	r := &results{Options: map[string]any{"systems": []string{"samsa", "kafka"}}}
	vals := map[string]map[string]float64{
		"samsa": {cpuKey("consume/hot"): 0.30, cpuKey("consume/cold"): 0.40},
		"kafka": {cpuKey("consume/hot"): 0.50, cpuKey("consume/cold"): 1.00},
	}
	for i, sys := range []string{"samsa", "kafka"} {
		r.Rounds = append(r.Rounds, &roundResult{System: sys, Round: i + 1, Values: vals[sys]})
	}
	r.Limits = &machineLimits{SendfileHotCPU: 0.25, SendfileHotRuns: []float64{0.3, 0.25, 0.2}, SendfileColdCPU: 0.3, SendfileColdRuns: []float64{0.3}}
	md := r.markdown()
	for _, want := range []string{
		"| bare sendfile sender over loopback TCP, CPU per GiB, hot (page cache; median of 0.30, 0.25, 0.20) | 0.25 |",
		"| the same, cold (page cache dropped before each pass; median of 0.30) | 0.30 |",
		"- consume hot: the bare sender costs 0.25 s per GiB, 0.50× Kafka's broker (0.50) and 0.83× samsa's (0.30). A broker that cost nothing beyond the kernel's sendfile path would be at 0.50× Kafka; the ≤ 0.40× target is below that: no broker that sends its log over loopback TCP can meet it on this machine.",
		"- consume cold: the bare sender costs 0.30 s per GiB, 0.30× Kafka's broker (1.00) and 0.75× samsa's (0.40). A broker that cost nothing beyond the kernel's sendfile path would be at 0.30× Kafka; the ≤ 0.40× target is above that: a broker can meet it.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	r.Limits = &machineLimits{}
	if md := r.markdown(); strings.Contains(md, "bare sendfile sender") {
		t.Errorf("markdown shows a floor that was not measured:\n%s", md)
	}
}

// The image layer is the binary and samsa's data dir as a tar, and the
// report says what it is and what it leaves out.
func TestImageLayer(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "samsa")
	if err := os.WriteFile(bin, make([]byte, 1<<20), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := measureImageLayer(bin)
	if err != nil {
		t.Fatal(err)
	}
	// Four headers of 512 bytes (three directories, the binary), the
	// binary itself and tar's two closing blocks.
	if want := float64(1<<20+4*512+2*512) / (1 << 20); l.TarMiB != want {
		t.Errorf("tar: %v MiB, want %v", l.TarMiB, want)
	}
	if l.GzipMiB <= 0 || l.GzipMiB >= 0.1 {
		t.Errorf("gzip of a MiB of zeros: %v MiB", l.GzipMiB)
	}
	if _, err := measureImageLayer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing binary measured")
	}

	r := &results{Options: map[string]any{"systems": []string{"samsa", "kafka"}}, Image: &imageLayer{TarMiB: 31.5, GzipMiB: 12.2}}
	r.Rounds = []*roundResult{{System: "samsa", Round: 1, Values: map[string]float64{imageKey: 31.5}}, {System: "kafka", Round: 2, Values: map[string]float64{}}}
	md := r.markdown()
	for _, want := range []string{
		"| Docker image: the layer samsa's Dockerfile adds to its base (tar) | MiB | 31.5 | – | – |  |  |",
		"- Docker image: not built (no docker engine on this machine, and its base cannot be pulled). The layer samsa's Dockerfile adds, its static stripped binary and /var/lib/samsa, is 31.5 MiB as a tar (12.2 MiB gzipped, what a pull downloads); its base, gcr.io/distroless/static-debian12, is about 2 MiB by the distroless project's README (not measured): about 33.5 MiB in all",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
