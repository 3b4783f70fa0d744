//go:build clusterbench || securityfigures

package compat

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// benchBinary is $SAMSA_BENCH_BIN, or cmd/samsa-bench built into the test's
// temp dir.
func benchBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("SAMSA_BENCH_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "samsa-bench")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/samsa-bench")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/samsa-bench: %v\n%s", err, out)
	}
	return bin
}
