package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/samsa-io/samsa/broker"
)

// TestTLSDevCerts: samsa tls dev-certs writes every file, a broker
// certificate for localhost and the --host names that the CA signed, the
// properties to use them, and refuses to overwrite them.
func TestTLSDevCerts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"tls", "dev-certs", "--host", "broker.test,10.1.2.3", dir}, nil, &out, &errb); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	for _, f := range broker.DevCertFiles {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(out.String(), "ssl.keystore.location="+filepath.Join(dir, "broker.p12")) {
		t.Errorf("stdout lacks the key store property:\n%s", out.String())
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	certPEM, _ := os.ReadFile(filepath.Join(dir, "broker.pem"))
	blk, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "broker.test", "10.1.2.3"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: h}); err != nil {
			t.Errorf("broker certificate for %s: %v", h, err)
		}
	}
	errb.Reset()
	if code := run(context.Background(), []string{"tls", "dev-certs", dir}, nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "exists") {
		t.Fatalf("second run: code %d, %s", code, errb.String())
	}
	if code := run(context.Background(), []string{"tls"}, nil, &out, &errb); code != 2 {
		t.Fatalf("samsa tls: code %d", code)
	}
}
