package broker

// Throwaway certificates for development and tests (samsa tls dev-certs):
// a CA, a broker certificate for the given host names and addresses, and a
// client certificate for mTLS, in every form a Kafka user may configure.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// DevCertsPassword protects the PKCS12 and JKS stores DevCerts writes.
const DevCertsPassword = "changeit"

// DevCertFiles are the files DevCerts writes into its directory.
var DevCertFiles = []string{
	"ca.pem", "ca.key",
	"broker.pem", "broker.key", "broker-keystore.pem", "broker.p12", "broker.jks",
	"truststore.pem", "truststore.p12", "truststore.jks",
	"client.pem", "client.key", "client.p12",
}

// DevCerts writes a new CA, a broker certificate valid for hosts (DNS
// names and IP addresses; localhost and 127.0.0.1 always) and a client
// certificate (CN=client, for mTLS) into dir, valid for validFor. Existing
// files are not overwritten: it fails instead.
func DevCerts(dir string, hosts []string, validFor time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range DevCertFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("broker: dev certs: %s exists; use an empty directory", filepath.Join(dir, f))
		}
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "samsa development CA", Organization: []string{"samsa"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)

	leaf := func(cn string, usage x509.ExtKeyUsage, hosts []string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		t := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"samsa"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(validFor),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				t.IPAddresses = append(t.IPAddresses, ip)
			} else if h != "" {
				t.DNSNames = append(t.DNSNames, h)
			}
		}
		der, err := x509.CreateCertificate(rand.Reader, t, ca, &key.PublicKey, caKey)
		if err != nil {
			return nil, nil, err
		}
		c, err := x509.ParseCertificate(der)
		return c, key, err
	}
	brokerHosts := append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	brokerCert, brokerKey, err := leaf("samsa-broker", x509.ExtKeyUsageServerAuth, brokerHosts)
	if err != nil {
		return err
	}
	clientCert, clientKey, err := leaf("client", x509.ExtKeyUsageClientAuth, nil)
	if err != nil {
		return err
	}

	certPEM := func(cs ...*x509.Certificate) []byte {
		var b bytes.Buffer
		for _, c := range cs {
			pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		return b.Bytes()
	}
	keyPEM := func(k *ecdsa.PrivateKey) ([]byte, error) {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	files := map[string][]byte{
		"ca.pem":         certPEM(ca),
		"truststore.pem": certPEM(ca),
		"broker.pem":     certPEM(brokerCert, ca),
		"client.pem":     certPEM(clientCert, ca),
	}
	for name, k := range map[string]*ecdsa.PrivateKey{"ca.key": caKey, "broker.key": brokerKey, "client.key": clientKey} {
		if files[name], err = keyPEM(k); err != nil {
			return err
		}
	}
	// Kafka's PEM key store file: the key and the chain in one file.
	files["broker-keystore.pem"] = append(append([]byte{}, files["broker.key"]...), files["broker.pem"]...)
	enc := pkcs12.Modern
	if files["broker.p12"], err = enc.Encode(brokerKey, brokerCert, []*x509.Certificate{ca}, DevCertsPassword); err != nil {
		return err
	}
	if files["client.p12"], err = enc.Encode(clientKey, clientCert, []*x509.Certificate{ca}, DevCertsPassword); err != nil {
		return err
	}
	if files["truststore.p12"], err = enc.EncodeTrustStore([]*x509.Certificate{ca}, DevCertsPassword); err != nil {
		return err
	}
	// JKS, for configurations copied from Java set-ups.
	pk8, err := x509.MarshalPKCS8PrivateKey(brokerKey)
	if err != nil {
		return err
	}
	ks := keystore.New()
	if err := ks.SetPrivateKeyEntry("broker", keystore.PrivateKeyEntry{
		CreationTime: now, PrivateKey: pk8,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: brokerCert.Raw}, {Type: "X509", Content: ca.Raw}},
	}, []byte(DevCertsPassword)); err != nil {
		return err
	}
	var jks bytes.Buffer
	if err := ks.Store(&jks, []byte(DevCertsPassword)); err != nil {
		return err
	}
	files["broker.jks"] = jks.Bytes()
	ts := keystore.New()
	if err := ts.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{CreationTime: now, Certificate: keystore.Certificate{Type: "X509", Content: ca.Raw}}); err != nil {
		return err
	}
	var tjks bytes.Buffer
	if err := ts.Store(&tjks, []byte(DevCertsPassword)); err != nil {
		return err
	}
	files["truststore.jks"] = tjks.Bytes()

	for _, name := range DevCertFiles {
		mode := os.FileMode(0o644)
		if filepath.Ext(name) == ".key" || filepath.Ext(name) == ".p12" || filepath.Ext(name) == ".jks" || name == "broker-keystore.pem" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(dir, name), files[name], mode); err != nil {
			return err
		}
	}
	return nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
