package broker

// TLS listeners (SSL and SASL_SSL): the server configuration built from a
// listener's ssl.* properties, and the principal of a client certificate.
//
// Key stores: PEM (a file or the inline ssl.keystore.key and
// ssl.keystore.certificate.chain; the key unencrypted PKCS#8, PKCS#1 or
// SEC 1, or encrypted PKCS#8 with PBES2 and ssl.key.password), PKCS12 and
// JKS (one private key entry; ssl.key.password, else the store password,
// unlocks it). Trust stores: PEM certificates (file or inline), PKCS12 and
// JKS trusted certificate entries. Not supported: legacy OpenSSL
// "Proc-Type: 4,ENCRYPTED" PEM keys, PKCS#8 keys encrypted with PBES1, JCEKS
// and BCFKS stores, key stores with several private keys (the first is
// used, as Kafka's key manager picks one), reloading stores without a
// restart.

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"os"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/samsa-io/samsa/broker/config"
)

// ErrTLSConfig wraps every failure to build a listener's TLS configuration.
var ErrTLSConfig = errors.New("broker: tls")

// serverTLSConfig is the tls.Config of a TLS listener.
func serverTLSConfig(listener string, ts *config.TLSSettings) (*tls.Config, error) {
	cert, err := loadKeyStore(ts)
	if err != nil {
		return nil, fmt.Errorf("%w: listener %s: key store: %w", ErrTLSConfig, listener, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   ts.MinVersion,
		MaxVersion:   ts.MaxVersion,
		CipherSuites: ts.CipherSuites,
	}
	if ts.TruststoreLocation != "" || ts.TruststoreCertificates != "" {
		pool, err := loadTrustStore(ts)
		if err != nil {
			return nil, fmt.Errorf("%w: listener %s: trust store: %w", ErrTLSConfig, listener, err)
		}
		cfg.ClientCAs = pool
	}
	switch ts.ClientAuth {
	case "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "requested":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		cfg.ClientAuth = tls.NoClientCert
	}
	return cfg, nil
}

// clientTLSConfig is the tls.Config of an inter-broker connection to a TLS
// listener: the listener's trust store verifies the leader, its key store
// is the client certificate (for a listener that requires one), and the
// host name is checked when ssl.endpoint.identification.algorithm=https.
func clientTLSConfig(ts *config.TLSSettings, host string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: ts.MinVersion, MaxVersion: ts.MaxVersion, CipherSuites: ts.CipherSuites, ServerName: host}
	if cert, err := loadKeyStore(ts); err == nil {
		cfg.Certificates = []tls.Certificate{cert}
	}
	if ts.TruststoreLocation != "" || ts.TruststoreCertificates != "" {
		pool, err := loadTrustStore(ts)
		if err != nil {
			return nil, fmt.Errorf("%w: trust store: %w", ErrTLSConfig, err)
		}
		cfg.RootCAs = pool
	}
	if !ts.VerifyHostname {
		// Verify the chain, not the name.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("broker: tls: the peer sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}

// loadKeyStore reads the listener's private key and certificate chain.
func loadKeyStore(ts *config.TLSSettings) (tls.Certificate, error) {
	if ts.KeystoreKey != "" {
		return pemKeyPair([]byte(ts.KeystoreChain), []byte(ts.KeystoreKey), ts.KeyPassword)
	}
	data, err := os.ReadFile(ts.KeystoreLocation)
	if err != nil {
		return tls.Certificate{}, err
	}
	switch storeType(ts.KeystoreType, data) {
	case "PEM":
		return pemKeyPair(data, data, ts.KeyPassword)
	case "PKCS12":
		key, leaf, chain, err := pkcs12.DecodeChain(data, ts.KeystorePassword)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("%s (PKCS12): %w", ts.KeystoreLocation, err)
		}
		return certificate(key, append([]*x509.Certificate{leaf}, chain...))
	default: // JKS
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(data), []byte(ts.KeystorePassword)); err != nil {
			return tls.Certificate{}, fmt.Errorf("%s (JKS): %w", ts.KeystoreLocation, err)
		}
		keyPass := ts.KeyPassword
		if keyPass == "" {
			keyPass = ts.KeystorePassword
		}
		for _, alias := range ks.Aliases() {
			if !ks.IsPrivateKeyEntry(alias) {
				continue
			}
			e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPass))
			if err != nil {
				return tls.Certificate{}, fmt.Errorf("%s (JKS) entry %s: %w", ts.KeystoreLocation, alias, err)
			}
			key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
			if err != nil {
				return tls.Certificate{}, fmt.Errorf("%s (JKS) entry %s: %w", ts.KeystoreLocation, alias, err)
			}
			var chain []*x509.Certificate
			for _, c := range e.CertificateChain {
				xc, err := x509.ParseCertificate(c.Content)
				if err != nil {
					return tls.Certificate{}, err
				}
				chain = append(chain, xc)
			}
			return certificate(key, chain)
		}
		return tls.Certificate{}, fmt.Errorf("%s (JKS): no private key entry", ts.KeystoreLocation)
	}
}

// loadTrustStore reads the CA certificates of a trust store.
func loadTrustStore(ts *config.TLSSettings) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if ts.TruststoreCertificates != "" {
		if !pool.AppendCertsFromPEM([]byte(ts.TruststoreCertificates)) {
			return nil, errors.New("ssl.truststore.certificates holds no PEM certificate")
		}
		return pool, nil
	}
	data, err := os.ReadFile(ts.TruststoreLocation)
	if err != nil {
		return nil, err
	}
	switch storeType(ts.TruststoreType, data) {
	case "PEM":
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("%s holds no PEM certificate", ts.TruststoreLocation)
		}
	case "PKCS12":
		certs, err := pkcs12.DecodeTrustStore(data, ts.TruststorePassword)
		if err != nil {
			return nil, fmt.Errorf("%s (PKCS12): %w", ts.TruststoreLocation, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	default:
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(data), []byte(ts.TruststorePassword)); err != nil {
			return nil, fmt.Errorf("%s (JKS): %w", ts.TruststoreLocation, err)
		}
		n := 0
		for _, alias := range ks.Aliases() {
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				continue
			}
			c, err := x509.ParseCertificate(e.Certificate.Content)
			if err != nil {
				return nil, err
			}
			pool.AddCert(c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s (JKS): no trusted certificate entry", ts.TruststoreLocation)
		}
	}
	return pool, nil
}

// storeType is the configured store type, or, when unset (Kafka's
// default is JKS), the one the file is in.
func storeType(configured string, data []byte) string {
	if configured != "" {
		return configured
	}
	switch {
	case bytes.Contains(data, []byte("-----BEGIN")):
		return "PEM"
	case len(data) >= 4 && bytes.Equal(data[:4], []byte{0xfe, 0xed, 0xfe, 0xed}):
		return "JKS"
	}
	return "PKCS12"
}

// pemKeyPair reads a certificate chain and a private key from PEM.
func pemKeyPair(certPEM, keyPEM []byte, password string) (tls.Certificate, error) {
	var chain []*x509.Certificate
	var key crypto.PrivateKey
	for rest := certPEM; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return tls.Certificate{}, err
			}
			chain = append(chain, c)
		}
	}
	for rest := keyPEM; key == nil; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			if blk.Headers["Proc-Type"] != "" {
				return tls.Certificate{}, errors.New("legacy encrypted PEM keys (Proc-Type: 4,ENCRYPTED) are not supported: convert with openssl pkcs8 -topk8 -v2 aes-256-cbc")
			}
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(blk.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			if password == "" {
				return tls.Certificate{}, errors.New("the private key is encrypted: set ssl.key.password")
			}
			var der []byte
			if der, err = decryptPKCS8(blk.Bytes, password); err == nil {
				key, err = x509.ParsePKCS8PrivateKey(der)
			}
		}
		if err != nil {
			return tls.Certificate{}, err
		}
	}
	if key == nil {
		return tls.Certificate{}, errors.New("no PEM private key found")
	}
	return certificate(key, chain)
}

// certificate pairs a key with its chain (leaf first) and checks they match.
func certificate(key any, chain []*x509.Certificate) (tls.Certificate, error) {
	if len(chain) == 0 {
		return tls.Certificate{}, errors.New("no certificate found")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, fmt.Errorf("unsupported private key type %T", key)
	}
	type eq interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := signer.Public().(eq); !ok || !pk.Equal(chain[0].PublicKey) {
		return tls.Certificate{}, errors.New("the private key does not match the first certificate of the chain")
	}
	switch signer.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		return tls.Certificate{}, fmt.Errorf("unsupported private key type %T", key)
	}
	c := tls.Certificate{PrivateKey: signer, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c, nil
}

var (
	oidPBES2       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1    = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA224  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	oidHMACSHA256  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512  = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC   = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC  = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	errPKCS8Cipher = errors.New("encrypted PKCS#8 key: only PBES2 with PBKDF2 and AES-CBC or 3DES-CBC is supported")
)

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo (RFC 5958) protected
// with PBES2 (RFC 8018), what openssl pkcs8 -topk8 and Java's keytool write.
func decryptPKCS8(der []byte, password string) ([]byte, error) {
	var info struct {
		Algo algorithmIdentifier
		Data []byte
	}
	if _, err := asn1.Unmarshal(der, &info); err != nil {
		return nil, fmt.Errorf("encrypted PKCS#8 key: %w", err)
	}
	if !info.Algo.Algorithm.Equal(oidPBES2) {
		return nil, errPKCS8Cipher
	}
	var params struct {
		KDF    algorithmIdentifier
		Scheme algorithmIdentifier
	}
	if _, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("encrypted PKCS#8 key: %w", err)
	}
	if !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, errPKCS8Cipher
	}
	var kdf struct {
		Salt       []byte
		Iterations int
		KeyLength  int                 `asn1:"optional"`
		PRF        algorithmIdentifier `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil {
		return nil, fmt.Errorf("encrypted PKCS#8 key: %w", err)
	}
	var h func() hash.Hash
	switch prf := kdf.PRF.Algorithm; {
	case len(prf) == 0 || prf.Equal(oidHMACSHA1):
		h = sha1.New
	case prf.Equal(oidHMACSHA224):
		h = sha256.New224
	case prf.Equal(oidHMACSHA256):
		h = sha256.New
	case prf.Equal(oidHMACSHA384):
		h = sha512.New384
	case prf.Equal(oidHMACSHA512):
		h = sha512.New
	default:
		return nil, errPKCS8Cipher
	}
	var keyLen int
	var newCipher func([]byte) (cipher.Block, error)
	switch s := params.Scheme.Algorithm; {
	case s.Equal(oidAES128CBC):
		keyLen, newCipher = 16, aes.NewCipher
	case s.Equal(oidAES192CBC):
		keyLen, newCipher = 24, aes.NewCipher
	case s.Equal(oidAES256CBC):
		keyLen, newCipher = 32, aes.NewCipher
	case s.Equal(oidDESEDE3CBC):
		keyLen, newCipher = 24, des.NewTripleDESCipher
	default:
		return nil, errPKCS8Cipher
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Scheme.Parameters.FullBytes, &iv); err != nil {
		return nil, fmt.Errorf("encrypted PKCS#8 key: %w", err)
	}
	if kdf.Iterations <= 0 || kdf.Iterations > 10_000_000 {
		return nil, errors.New("encrypted PKCS#8 key: bad iteration count")
	}
	key, err := pbkdf2.Key(h, password, kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) != block.BlockSize() || len(info.Data) == 0 || len(info.Data)%block.BlockSize() != 0 {
		return nil, errors.New("encrypted PKCS#8 key: bad length")
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.Data)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > block.BlockSize() || pad > len(out) {
		return nil, errors.New("encrypted PKCS#8 key: wrong ssl.key.password (bad padding)")
	}
	for _, p := range out[len(out)-pad:] {
		if int(p) != pad {
			return nil, errors.New("encrypted PKCS#8 key: wrong ssl.key.password (bad padding)")
		}
	}
	return out[:len(out)-pad], nil
}

// certPrincipal is the principal name of a client certificate: its
// subject's distinguished name (RFC 2253, as Java's X500Principal.getName()
// writes it) mapped by ssl.principal.mapping.rules.
func certPrincipal(cert *x509.Certificate, rules *config.PrincipalRules) (string, error) {
	dn := cert.Subject.String()
	if rules == nil {
		return dn, nil
	}
	return rules.Apply(dn)
}
